"""Object storage behind a checkpoint URL: `file://`, each cloud plugin's schemes (`s3://`, `gs://`, `az://`, ...),
and any other fsspec URL.

Users point `checkpoint.store` at the bucket they already have. Each backend offers only what versioned
checkpoints need -- put/get a file, put/get a small document, list, delete -- and every `put` is atomic from a
reader's view: object stores publish an object only when its upload completes, and on `file://` we write a
temporary file and rename it. That atomicity is what makes the `latest` pointer safe.

The cloud stores live in their cloud's package (providers/<cloud>/objectstore.py) and are found by URL scheme in the
cloud plugin registry (providers/plugin.py), so a cloud installed by entry point can bring its own. S3, GCS and
Azure use their own SDKs (boto3, google-cloud-storage, azure-storage-blob), imported only when such a URL is used.
"""

from __future__ import annotations

import builtins
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from providers.objectstore import ObjectStore, ObjectStoreError
from providers.plugin import storage_schemes


class CheckpointStorageError(ObjectStoreError):
    """The checkpoint store cannot be reached or refused a request; the message says which URL and why."""


Backend = ObjectStore  # the protocol every store implements (providers/objectstore.py)


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
    if scheme == "file":
        return LocalBackend(Path(parsed.netloc + parsed.path if parsed.netloc else parsed.path or url))
    if not bucket:
        raise CheckpointStorageError(f"{url!r} names no bucket; write it like {scheme}://BUCKET/PREFIX")
    cloud_store = storage_schemes().get(scheme)
    if cloud_store is None:
        try:
            return FsspecBackend(url, **options)
        except ImportError as exc:
            raise CheckpointStorageError(f"{scheme}:// checkpoints need {exc.name}: pip install 'spotwise[all]'") \
                from None
    cloud, factory = cloud_store
    try:
        return factory(bucket, prefix, **options)
    except ImportError as exc:
        raise CheckpointStorageError(f"{scheme}:// checkpoints need {exc.name}: "
                                     f"pip install 'spotwise[{cloud.storage_extra or 'all'}]'") from None
    except CheckpointStorageError:
        raise
    except ObjectStoreError as exc:
        raise CheckpointStorageError(str(exc)) from None
