"""AWS error codes -> the Spotwise taxonomy, in one table with a test per code.

Why a table: the placement policy blocks pools, zones or regions by error class and scope, so a
misfiled code silently changes where jobs run. A dict literal cannot lose an entry to a stray
comma the way a tuple of codes can, and `tests/providers/aws/test_errors.py` walks every row.
Facts: ../shared/design/SPOT-FACTS.md, and AWS's own list of EC2 error codes, quoted per row:
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html ("EC2 docs" below).
A 4xx code not in the table is the request's fault (InvalidRequest, the attempt fails with the
cloud's message), never capacity: a misread request must not send placement walking every pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore import exceptions as bex
from botocore.parsers import ResponseParserError

from providers.errors import (
    AuthError,
    CapacityError,
    ErrorScope,
    ErrorTable,
    InvalidRequest,
    PriceError,
    ProviderError,
    QuotaError,
    ThrottledError,
    TransientError,
)

PROVIDER = "aws"

# raw code -> (class, scope). Scope None = the class's default.
ERROR_TABLE: dict[str, tuple[type[ProviderError], ErrorScope | None]] = {
    # Capacity: try the next pool.
    "InsufficientInstanceCapacity": (CapacityError, ErrorScope.POOL),
    "InsufficientHostCapacity": (CapacityError, ErrorScope.POOL),
    "UnfulfillableCapacity": (CapacityError, ErrorScope.POOL),
    "Unsupported": (CapacityError, ErrorScope.POOL),  # EC2 docs: e.g. the type is not supported in that zone
    "InsufficientCapacity": (CapacityError, ErrorScope.POOL),  # EC2 docs: "not enough capacity"
    "InsufficientFreeAddressesInSubnet": (CapacityError, ErrorScope.ZONE),  # the subnet is per zone
    # Price: the market is above the MaxPrice we sent.
    "SpotMaxPriceTooLow": (PriceError, ErrorScope.POOL),
    # Quota: a human must raise a limit.
    "VcpuLimitExceeded": (QuotaError, ErrorScope.REGION),
    "InstanceLimitExceeded": (QuotaError, ErrorScope.REGION),
    "PendingVerification": (QuotaError, ErrorScope.PROVIDER),
    # EC2 docs: "reached the limit on the number of Spot Instances" -- the account's spot vCPU quota per
    # region (Service Quotas L-34B43A08 and siblings), not a capacity shortage: no other pool of the region helps.
    "MaxSpotInstanceCountExceeded": (QuotaError, ErrorScope.REGION),
    "MaxSpotFleetRequestCountExceeded": (QuotaError, ErrorScope.REGION),  # EC2 docs: Spot Fleet request cap
    "VolumeLimitExceeded": (QuotaError, ErrorScope.REGION),  # EC2 docs: EBS volume storage limit of the region
    # Throttling and transient server trouble (botocore already retried these).
    "RequestLimitExceeded": (ThrottledError, None),
    "Throttling": (ThrottledError, None),
    "ThrottlingException": (ThrottledError, None),
    "TooManyRequestsException": (ThrottledError, None),
    "InternalError": (TransientError, None),
    "InternalFailure": (TransientError, None),
    "ServiceUnavailable": (TransientError, None),
    "Unavailable": (TransientError, None),
    "RequestTimeout": (TransientError, None),
    # Credentials and permissions: disable the provider and alert.
    "AuthFailure": (AuthError, None),
    "UnauthorizedOperation": (AuthError, None),
    "InvalidClientTokenId": (AuthError, None),
    "SignatureDoesNotMatch": (AuthError, None),
    "ExpiredToken": (AuthError, None),
    "ExpiredTokenException": (AuthError, None),
    "AccessDenied": (AuthError, None),
    "AccessDeniedException": (AuthError, None),
    "UnrecognizedClientException": (AuthError, None),
    "OptInRequired": (AuthError, ErrorScope.REGION),  # region or service not enabled for the account
    # The request is wrong: fail the job with the message.
    "InvalidParameterValue": (InvalidRequest, None),
    "InvalidParameterCombination": (InvalidRequest, None),
    "InvalidParameter": (InvalidRequest, None),
    "MissingParameter": (InvalidRequest, None),
    "UnsupportedOperation": (InvalidRequest, None),
    "IdempotentParameterMismatch": (InvalidRequest, None),  # same ClientToken, different parameters
    "InvalidAMIID.NotFound": (InvalidRequest, None),
    "InvalidAMIID.Malformed": (InvalidRequest, None),
    "InvalidSubnetID.NotFound": (InvalidRequest, None),
    "InvalidGroup.NotFound": (InvalidRequest, None),
    "InvalidSecurityGroupID.NotFound": (InvalidRequest, None),
    # EC2 docs: "You have no default VPC in which to carry out this request. Specify a VPC or subnet ID".
    "VPCIdNotSpecified": (InvalidRequest, None),
    "VPCResourceNotSpecified": (InvalidRequest, None),  # EC2 docs: the resource needs a VPC (no EC2-Classic)
    "InvalidAvailabilityZone": (InvalidRequest, None),  # EC2 docs: the zone does not exist or is not enabled
    "InvalidInstanceType": (InvalidRequest, None),
    "InvalidBlockDeviceMapping": (InvalidRequest, None),
    "InvalidKeyPair.NotFound": (InvalidRequest, None),
    "InvalidUserData.Malformed": (InvalidRequest, None),
    "ParameterNotFound": (InvalidRequest, None),  # SSM: the AMI parameter does not exist
}

# Unknown codes: 5xx transient, anything else the request's fault.
TABLE = ErrorTable(PROVIDER, ERROR_TABLE)

# What the operator does about a code whose cloud message does not say it in Spotwise's terms.
HINTS: dict[str, str] = {
    "VPCIdNotSpecified": "the region has no default VPC: set `subnet_ids` in the aws config",
    "VPCResourceNotSpecified": "set `subnet_ids` in the aws config",
    "MaxSpotInstanceCountExceeded": "the account's spot vCPU quota of the region is used up: ask AWS Service "
                                    "Quotas for more (All G and VT / All P Spot Instance Requests)",
    "VolumeLimitExceeded": "the region's EBS storage quota is used up: ask AWS Service Quotas for more",
}

# Codes that mean "this id names nothing": callers filter them, they are never surfaced.
NOT_FOUND_CODES = frozenset({"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"})

_TRANSIENT_BOTOCORE = (
    bex.EndpointConnectionError,
    bex.ConnectTimeoutError,
    bex.ReadTimeoutError,
    bex.ConnectionClosedError,
    ResponseParserError,
)
_AUTH_BOTOCORE = (bex.NoCredentialsError, bex.PartialCredentialsError, bex.NoRegionError)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError, or "" for anything else."""
    if isinstance(exc, bex.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def classify(exc: BaseException) -> ProviderError:
    """Map one SDK exception to the taxonomy. Unknown 5xx are transient; unknown 4xx are the request's."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, bex.ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in HINTS:
            message = f"{message} ({HINTS[code]})"
        return TABLE.classify(code, message, status, raw_code=code or str(status))
    if isinstance(exc, _AUTH_BOTOCORE):
        return AuthError(
            f"no usable AWS credentials or region ({type(exc).__name__}); configure the standard AWS chain "
            "(environment, ~/.aws, instance profile)",
            provider=PROVIDER, raw_code=type(exc).__name__,
        )
    if isinstance(exc, bex.ParamValidationError):
        return InvalidRequest(str(exc), provider=PROVIDER, raw_code=type(exc).__name__)
    if isinstance(exc, _TRANSIENT_BOTOCORE + (bex.BotoCoreError,)):
        return TransientError(str(exc), provider=PROVIDER, raw_code=type(exc).__name__)
    raise TypeError(f"not an AWS SDK error: {exc!r}")


# Everything the SDK raises for a failed call (the parser error is not a BotoCoreError).
SDK_ERRORS = (bex.ClientError, bex.BotoCoreError, ResponseParserError)


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise SDK errors as classified ProviderErrors (the boundary where classification happens once)."""
    try:
        yield
    except SDK_ERRORS as exc:
        raise classify(exc) from exc
