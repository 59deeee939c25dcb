"""AWS error codes -> the Spotwise taxonomy, in one table with a test per code.

Why a table: the placement policy blocks pools, zones or regions by error class and scope, so a
misfiled code silently changes where jobs run. A dict literal cannot lose an entry to a stray
comma the way a tuple of codes can, and `tests/providers/aws/test_errors.py` walks every row.
Facts: ../shared/design/SPOT-FACTS.md.
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
    "Unsupported": (CapacityError, ErrorScope.POOL),  # type not offered in that zone
    "InsufficientFreeAddressesInSubnet": (CapacityError, ErrorScope.ZONE),  # the subnet is per zone
    "MaxSpotInstanceCountExceeded": (CapacityError, ErrorScope.REGION),  # a per-region spot count cap
    # Price: the market is above the MaxPrice we sent.
    "SpotMaxPriceTooLow": (PriceError, ErrorScope.POOL),
    # Quota: a human must raise a limit.
    "VcpuLimitExceeded": (QuotaError, ErrorScope.REGION),
    "InstanceLimitExceeded": (QuotaError, ErrorScope.REGION),
    "PendingVerification": (QuotaError, ErrorScope.PROVIDER),
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
    "InvalidKeyPair.NotFound": (InvalidRequest, None),
    "InvalidUserData.Malformed": (InvalidRequest, None),
    "ParameterNotFound": (InvalidRequest, None),  # SSM: the AMI parameter does not exist
}

# Unknown codes: 5xx transient, anything else the request's fault.
TABLE = ErrorTable(PROVIDER, ERROR_TABLE)

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
