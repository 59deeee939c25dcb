"""`gs://bucket/prefix` checkpoint and workdir stores through google-cloud-storage (imported when opened)."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

from providers.objectstore import join_key


class GCSStore:
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
        return self.bucket.blob(join_key(self.prefix, key))

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
        return sorted(b.name[strip:] for b in self.bucket.list_blobs(prefix=join_key(self.prefix, prefix)))

    def delete(self, keys: builtins.list[str]) -> None:
        for key in keys:
            self._blob(key).delete()
