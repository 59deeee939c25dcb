"""Object storage behind a checkpoint URL: `file://`, `s3://`, `gs://`, `az://` (any other fsspec URL works too).

Users point `checkpoint.store` at the bucket they already have. Each backend offers only what versioned
checkpoints need -- put/get a file, put/get a small document, list, delete -- and every `put` is atomic from a
reader's view: object stores publish an object only when its upload completes, and on `file://` we write a
temporary file and rename it. That atomicity is what makes the `latest` pointer safe.

S3, GCS and Azure use their own SDKs (boto3, google-cloud-storage, azure-storage-blob), imported only when such a
URL is used; they read credentials the usual way (instance role, ADC, connection string or managed identity).
"""

from __future__ import annotations

import builtins
import os
import uuid
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse


class CheckpointStorageError(Exception):
    """The checkpoint store cannot be reached or refused a request; the message says which URL and why."""


class Backend(Protocol):
    def put_file(self, key: str, path: Path) -> None: ...
    def get_file(self, key: str, path: Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def get_bytes(self, key: str) -> bytes | None:
        """The object's content, or None when there is no such object."""
        ...
    def list(self, prefix: str) -> list[str]:
        """Keys (relative to the store root) that start with `prefix`."""
        ...
    def delete(self, keys: builtins.list[str]) -> None: ...


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


class LocalBackend:
    """`file:///some/dir`: plain files; atomic puts by write-to-temp then rename."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key

    def _atomic_write(self, key: str, write: Any) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            write(tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def put_file(self, key: str, path: Path) -> None:
        self._atomic_write(key, lambda tmp: tmp.write_bytes(path.read_bytes()))

    def get_file(self, key: str, path: Path) -> None:
        path.write_bytes(self._path(key).read_bytes())

    def put_bytes(self, key: str, data: bytes) -> None:
        self._atomic_write(key, lambda tmp: tmp.write_bytes(data))

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix.rstrip("/")) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file()
                      and not p.name.endswith(".tmp"))

    def delete(self, keys: builtins.list[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)


class S3Backend:
    """`s3://bucket/prefix` through boto3 (honours AWS_ENDPOINT_URL and the usual credential chain)."""

    def __init__(self, bucket: str, prefix: str, *, endpoint_url: str | None = None, region: str | None = None) -> None:
        import boto3

        self.bucket, self.prefix = bucket, prefix
        self.s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def _key(self, key: str) -> str:
        return _join(self.prefix, key)

    def put_file(self, key: str, path: Path) -> None:
        self.s3.upload_file(str(path), self.bucket, self._key(key))

    def get_file(self, key: str, path: Path) -> None:
        self.s3.download_file(self.bucket, self._key(key), str(path))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return bytes(self.s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            return None

    def list(self, prefix: str) -> list[str]:
        keys: builtins.list[str] = []
        strip = len(self.prefix.strip("/")) + 1 if self.prefix.strip("/") else 0
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def delete(self, keys: builtins.list[str]) -> None:
        for i in range(0, len(keys), 1000):
            batch = [{"Key": self._key(k)} for k in keys[i:i + 1000]]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})


class GCSBackend:
    """`gs://bucket/prefix` through google-cloud-storage (ADC; STORAGE_EMULATOR_HOST for an emulator)."""

    def __init__(self, bucket: str, prefix: str, *, project: str | None = None, anonymous: bool = False) -> None:
        from google.cloud import storage  # type: ignore[attr-defined]

        if anonymous:
            from google.auth.credentials import AnonymousCredentials

            client = storage.Client(project=project or "spotwise", credentials=AnonymousCredentials())
        else:
            client = storage.Client(project=project)
        self.bucket = client.bucket(bucket)
        self.prefix = prefix

    def _blob(self, key: str) -> Any:
        return self.bucket.blob(_join(self.prefix, key))

    def put_file(self, key: str, path: Path) -> None:
        self._blob(key).upload_from_filename(str(path))

    def get_file(self, key: str, path: Path) -> None:
        self._blob(key).download_to_filename(str(path))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._blob(key).upload_from_string(data)

    def get_bytes(self, key: str) -> bytes | None:
        from google.api_core.exceptions import NotFound

        try:
            return bytes(self._blob(key).download_as_bytes())
        except NotFound:
            return None

    def list(self, prefix: str) -> list[str]:
        strip = len(self.prefix.strip("/")) + 1 if self.prefix.strip("/") else 0
        return sorted(b.name[strip:] for b in self.bucket.list_blobs(prefix=_join(self.prefix, prefix)))

    def delete(self, keys: builtins.list[str]) -> None:
        for key in keys:
            self._blob(key).delete()


class AzureBackend:
    """`az://container/prefix` through azure-storage-blob: a connection string
    (AZURE_STORAGE_CONNECTION_STRING) or an account name (AZURE_STORAGE_ACCOUNT) with the default credential."""

    def __init__(self, container: str, prefix: str, *, connection_string: str | None = None,
                 account_name: str | None = None) -> None:
        from azure.storage.blob import BlobServiceClient

        conn = connection_string or os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        if conn:
            service = BlobServiceClient.from_connection_string(conn)
        else:
            account = account_name or os.environ.get("AZURE_STORAGE_ACCOUNT")
            if not account:
                raise CheckpointStorageError("az:// needs AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT")
            from azure.identity import DefaultAzureCredential

            service = BlobServiceClient(f"https://{account}.blob.core.windows.net", credential=DefaultAzureCredential())
        self.container = service.get_container_client(container)
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return _join(self.prefix, key)

    def put_file(self, key: str, path: Path) -> None:
        with open(path, "rb") as data:
            self.container.upload_blob(self._name(key), data, overwrite=True)

    def get_file(self, key: str, path: Path) -> None:
        with open(path, "wb") as out:
            self.container.download_blob(self._name(key)).readinto(out)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.container.upload_blob(self._name(key), data, overwrite=True)

    def get_bytes(self, key: str) -> bytes | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return bytes(self.container.download_blob(self._name(key)).readall())
        except ResourceNotFoundError:
            return None

    def list(self, prefix: str) -> list[str]:
        strip = len(self.prefix.strip("/")) + 1 if self.prefix.strip("/") else 0
        return sorted(b.name[strip:] for b in self.container.list_blobs(name_starts_with=self._name(prefix)))

    def delete(self, keys: builtins.list[str]) -> None:
        for key in keys:
            self.container.delete_blob(self._name(key))


class FsspecBackend:
    """Any other fsspec URL (memory://, hdfs://, ...): single-object writes through `pipe`."""

    def __init__(self, url: str, **options: Any) -> None:
        import fsspec

        self.fs, self.root = fsspec.core.url_to_fs(url, **options)

    def _p(self, key: str) -> str:
        return f"{self.root.rstrip('/')}/{key}"

    def put_file(self, key: str, path: Path) -> None:
        self.fs.pipe(self._p(key), path.read_bytes())

    def get_file(self, key: str, path: Path) -> None:
        path.write_bytes(self.fs.cat(self._p(key)))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.fs.pipe(self._p(key), data)

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return bytes(self.fs.cat(self._p(key)))
        except FileNotFoundError:
            return None

    def list(self, prefix: str) -> list[str]:
        base = self._p(prefix).rstrip("/")
        root = self.root.rstrip("/") + "/"
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        return sorted(p[len(root):] if p.startswith(root) else p.lstrip("/")[len(root.lstrip("/")):] for p in found)

    def delete(self, keys: builtins.list[str]) -> None:
        for key in keys:
            self.fs.rm(self._p(key))


def open_backend(url: str, **options: Any) -> Backend:
    """The backend for a checkpoint URL; `options` go to its SDK (endpoint, emulator, credentials)."""
    parsed = urlparse(url)
    scheme = parsed.scheme or "file"
    bucket, prefix = parsed.netloc, parsed.path.strip("/")
    try:
        if scheme == "file":
            return LocalBackend(Path(parsed.netloc + parsed.path if parsed.netloc else parsed.path or url))
        if not bucket:
            raise CheckpointStorageError(f"{url!r} names no bucket; write it like {scheme}://BUCKET/PREFIX")
        if scheme == "s3":
            return S3Backend(bucket, prefix, **options)
        if scheme in ("gs", "gcs"):
            return GCSBackend(bucket, prefix, **options)
        if scheme in ("az", "abfs", "abfss"):
            return AzureBackend(bucket, prefix, **options)
        return FsspecBackend(url, **options)
    except ImportError as exc:
        extra = {"s3": "aws", "gs": "gcp", "gcs": "gcp", "az": "azure"}.get(scheme, "all")
        raise CheckpointStorageError(f"{scheme}:// checkpoints need {exc.name}: pip install 'spotwise[{extra}]'") \
            from None
