"""Where an S3 bucket lives: `GetBucketLocation`, asked once per bucket (the daemon keeps the answer).

Why placement needs it: a job's checkpoint and data sets sit in a bucket, and reaching an instance in another
region or cloud costs egress and transfer time (policies/totalcost.py). The API answers `LocationConstraint`
null for us-east-1 and the legacy "EU" for eu-west-1:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLocation.html
"""

from __future__ import annotations

from typing import Any

from providers.errors import ProviderError

LEGACY = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}


def bucket_region(client: Any, bucket: str) -> str:
    """The bucket's region through an S3 client; ProviderError when the bucket cannot be asked about."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = client.get_bucket_location(Bucket=bucket)
    except (ClientError, BotoCoreError) as exc:
        raise ProviderError(f"cannot find the region of s3://{bucket}: {exc}") from None
    constraint = answer.get("LocationConstraint")
    return LEGACY.get(constraint, constraint) or "us-east-1"


def bucket_region_default(bucket: str) -> str:
    """The same through the standard credential chain (AWS_ENDPOINT_URL honoured), for a daemon whose AWS provider
    is not configured but whose jobs keep checkpoints in S3."""
    import boto3
    from botocore.config import Config

    # Short timeouts, two tries: the daemon asks from its placement pass, which must not stall on a bucket
    # it cannot reach (the caller remembers a failure and asks again minutes later).
    config = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 2})
    return bucket_region(boto3.client("s3", region_name="us-east-1", config=config), bucket)
