"""`toy://BUCKET/PREFIX`: toycloud's object store, a directory per bucket under $TOYCLOUD_STORE_ROOT.

Puts are atomic (write a temporary file, rename), as the checkpoint `latest` pointer needs of every store.
"""

from __future__ import annotations

import builtins
import os
import uuid
from pathlib import Path

from providers.objectstore import ObjectStoreError, join_key


class ToyStore:
    def __init__(self, bucket: str, prefix: str, *, root: str | None = None) -> None:
        base = root or os.environ.get("TOYCLOUD_STORE_ROOT")
        if not base:
            raise ObjectStoreError("toy:// needs TOYCLOUD_STORE_ROOT (the directory that holds the buckets)")
        self.root = Path(base) / bucket / prefix

    def _path(self, key: str) -> Path:
        return self.root / join_key(key)

    def _put(self, key: str, data: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    def put_file(self, key: str, path: Path) -> None:
        self._put(key, path.read_bytes())

    def get_file(self, key: str, path: Path) -> None:
        path.write_bytes(self._path(key).read_bytes())

    def put_bytes(self, key: str, data: bytes) -> None:
        self._put(key, data)

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def list(self, prefix: str) -> builtins.list[str]:
        if not self.root.is_dir():
            return []
        keys = (str(p.relative_to(self.root)) for p in self.root.rglob("*")
                if p.is_file() and not p.name.endswith(".part"))
        return sorted(k for k in keys if k.startswith(prefix))

    def delete(self, keys: builtins.list[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)
