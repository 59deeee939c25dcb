"""`az://container/prefix` checkpoint and workdir stores through azure-storage-blob (imported when opened)."""

from __future__ import annotations

import builtins
import os
from pathlib import Path

from providers.objectstore import ObjectStoreError, join_key


class AzureBlobStore:
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
                raise ObjectStoreError("az:// needs AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT")
            from azure.identity import DefaultAzureCredential

            service = BlobServiceClient(f"https://{account}.blob.core.windows.net", credential=DefaultAzureCredential())
        self.container = service.get_container_client(container)
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return join_key(self.prefix, key)

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
