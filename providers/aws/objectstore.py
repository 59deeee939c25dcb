"""`s3://bucket/prefix` checkpoint and workdir stores through boto3 (imported when such a URL is opened)."""

from __future__ import annotations

import builtins
from pathlib import Path

from providers.objectstore import join_key


class S3Store:
    """`s3://bucket/prefix` through boto3 (honours AWS_ENDPOINT_URL and the usual credential chain)."""

    def __init__(self, bucket: str, prefix: str, *, endpoint_url: str | None = None, region: str | None = None) -> None:
        import boto3

        self.bucket, self.prefix = bucket, prefix
        self.s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def _key(self, key: str) -> str:
        return join_key(self.prefix, key)

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
