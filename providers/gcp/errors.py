"""GCE error codes -> the Spotwise taxonomy, in one table with a test per code.

GCE reports a failure in one of two places: as an HTTP error on the call itself (the legacy
`error.errors[].reason` of the JSON body, e.g. a 503 `ZONE_RESOURCE_POOL_EXHAUSTED`), or inside
an operation that finished with `error.errors[].code`. Both paths go through `classify_code`, so
the placement policy sees the same class and scope whichever way the cloud chose to answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from providers.errors import (
    AuthError,
    CapacityError,
    ErrorScope,
    ErrorTable,
    InvalidRequest,
    ProviderError,
    QuotaError,
    ThrottledError,
    TransientError,
)

PROVIDER = "gcp"
T = TypeVar("T")

# raw code (operation `code` or HTTP `reason`) -> (class, scope); None scope = the class default.
CODE_TABLE: dict[str, tuple[type[ProviderError], ErrorScope | None]] = {
    "ZONE_RESOURCE_POOL_EXHAUSTED": (CapacityError, ErrorScope.POOL),
    "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS": (CapacityError, ErrorScope.POOL),
    # An accelerator or machine type this zone does not offer: another pool may have it.
    "UNSUPPORTED_OPERATION": (CapacityError, ErrorScope.POOL),
    "QUOTA_EXCEEDED": (QuotaError, ErrorScope.REGION),
    "quotaExceeded": (QuotaError, ErrorScope.REGION),
    "rateLimitExceeded": (ThrottledError, None),
    "userRateLimitExceeded": (ThrottledError, None),
    "RATE_LIMIT_EXCEEDED": (ThrottledError, None),
    "RESOURCE_OPERATION_RATE_EXCEEDED": (ThrottledError, None),
    "backendError": (TransientError, None),
    "internalError": (TransientError, None),
    "INTERNAL_ERROR": (TransientError, None),
    "forbidden": (AuthError, None),
    "accessNotConfigured": (AuthError, None),
    "authError": (AuthError, None),
    "required": (AuthError, None),
    "PERMISSIONS_ERROR": (AuthError, None),
    "invalid": (InvalidRequest, None),
    "badRequest": (InvalidRequest, None),
    "invalidParameter": (InvalidRequest, None),
    "INVALID_FIELD_VALUE": (InvalidRequest, None),
    "RESOURCE_NOT_FOUND": (InvalidRequest, None),
    "notFound": (InvalidRequest, None),
    "alreadyExists": (InvalidRequest, None),
    "RESOURCE_ALREADY_EXISTS": (InvalidRequest, None),
}

# HTTP status -> class, used only when no code in the body is in the table.
STATUS_TABLE: dict[int, type[ProviderError]] = {
    400: InvalidRequest,
    401: AuthError,
    403: AuthError,
    404: InvalidRequest,
    409: InvalidRequest,
    412: InvalidRequest,
    429: ThrottledError,
}

# Unknown codes: 5xx transient, else by HTTP status, else the base class (no claim about whose fault).
TABLE = ErrorTable(PROVIDER, CODE_TABLE, STATUS_TABLE, default=ProviderError)

# Quota metrics that span every region: blocking one region would not help.
_GLOBAL_QUOTA_MARKERS = ("ALL_REGIONS", "all_regions")


def classify_code(code: str, message: str = "", *, status: int | None = None) -> ProviderError:
    """One raw GCE code (plus message for logs) as a taxonomy error."""
    error = TABLE.classify(code, message, status, raw_code=code)
    if type(error) is QuotaError and any(marker in message for marker in _GLOBAL_QUOTA_MARKERS):
        error.scope = ErrorScope.PROVIDER
    return error


def classify_codes(codes: Iterable[tuple[str, str]], *, status: int | None = None) -> ProviderError:
    """The most specific of several (code, message) pairs: the first one the table knows wins."""
    pairs = list(codes)
    for code, message in pairs:
        if code in CODE_TABLE:
            return classify_code(code, message, status=status)
    code, message = pairs[0] if pairs else ("", "")
    return classify_code(code, message, status=status)


def classify_http(exc: Exception) -> ProviderError:
    """A google.api_core GoogleAPICallError (or a transport failure) as a taxonomy error."""
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.GoogleAPICallError):
        status = exc.code if isinstance(exc.code, int) else None
        pairs = [(str(e.get("reason", "")), str(e.get("message", ""))) for e in exc.errors if isinstance(e, dict)]
        if exc.reason:
            pairs.append((exc.reason, exc.message))
        if not pairs:
            pairs = [("", exc.message)]
        return classify_codes(pairs, status=status)
    if isinstance(exc, gexc.RetryError | TimeoutError | ConnectionError):
        return TransientError(f"GCE unreachable: {exc}", provider=PROVIDER, raw_code=type(exc).__name__)
    return TransientError(f"GCE call failed: {exc}", provider=PROVIDER, raw_code=type(exc).__name__)


def classify_operation(operation: Any) -> ProviderError | None:
    """The error of a finished compute_v1.Operation, or None when it succeeded."""
    errors = list(operation.error.errors) if operation.error else []
    if not errors:
        return None
    status = operation.http_error_status_code or None
    return classify_codes(((e.code, e.message) for e in errors), status=status)


def guarded(call: Callable[[], T]) -> T:
    """Run one SDK call, converting every SDK or transport failure into the taxonomy."""
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as aexc
    from requests import exceptions as rexc

    try:
        return call()
    except gexc.GoogleAPICallError as exc:
        raise classify_http(exc) from exc
    except aexc.RefreshError as exc:
        raise AuthError(f"GCP credentials could not be refreshed: {exc}", provider=PROVIDER) from exc
    except (gexc.RetryError, aexc.TransportError, rexc.RequestException, TimeoutError, ConnectionError) as exc:
        raise classify_http(exc) from exc
