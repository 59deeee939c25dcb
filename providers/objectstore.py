"""What an object store behind a checkpoint or workdir URL must offer, for cloud packages to implement.

The protocol lives at the providers level so a cloud package (built in or installed by entry point) can bring
the store for its URL scheme (`s3://`, `gs://`, `az://`, a plugin's own) without importing `orchestrator`; the
checkpoint code picks the store by scheme from every cloud plugin's `storage_schemes` (providers/plugin.py).
Every `put` must be atomic from a reader's view: that is what makes the checkpoint `latest` pointer safe.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Protocol


class ObjectStoreError(Exception):
    """The store cannot be used as configured; the message says which URL and why."""


class ObjectStore(Protocol):
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


def join_key(*parts: str) -> str:
    """Join a store prefix and a key with single slashes, dropping empty parts."""
    return "/".join(p.strip("/") for p in parts if p.strip("/"))
