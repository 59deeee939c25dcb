"""Azure error codes -> the Spotwise taxonomy, in one table with a test per code.

Spot codes: https://learn.microsoft.com/en-us/azure/virtual-machines/error-codes-spot
ARM reports failures in two places: as an HTTP error on the request (409 SkuNotAvailable, 429,
401/403) and inside a Failed long-running operation (AllocationFailed arrives while polling). Both
reach us as `azure.core.exceptions.HttpResponseError` with an OData error body, sometimes with the
real code nested in `details` under a generic wrapper code, so `classify` looks through both.
Core code never sees message text; the one exception is OperationNotAllowed, which Azure uses for
quota overruns as well as other refusals, and which only its message tells apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

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

PROVIDER = "azure"

# code -> (class, scope or None for the class default). Keep one line per code: the test suite
# parametrizes over this table, so a typo or a lost entry fails a named test.
ERROR_TABLE: dict[str, tuple[type[ProviderError], ErrorScope | None]] = {
    # capacity: try the next pool (type x zone x market)
    "SkuNotAvailable": (CapacityError, ErrorScope.POOL),
    "AllocationFailed": (CapacityError, ErrorScope.POOL),
    "ZonalAllocationFailed": (CapacityError, ErrorScope.POOL),
    "OverconstrainedAllocationRequest": (CapacityError, ErrorScope.POOL),
    "OverconstrainedZonalAllocationRequest": (CapacityError, ErrorScope.POOL),
    "AllocationFailedVmSizeNotAvailable": (CapacityError, ErrorScope.POOL),
    # the size sells no Spot here (any more): the catalog was stale; another pool may
    "AzureSpotIsNotSupportedForThisVMSize": (CapacityError, ErrorScope.POOL),
    # the job's price cap is below this pool's current Spot price: a cheaper pool may fit
    "SpotPriceGreaterThanProvidedMaxPrice": (PriceError, ErrorScope.POOL),
    # quota: a human must raise a limit; block the region
    "QuotaExceeded": (QuotaError, ErrorScope.REGION),
    "OperationNotAllowed:quota": (QuotaError, ErrorScope.REGION),
    "OperationNotAllowed": (InvalidRequest, None),
    # throttling and transient server trouble: retried inside the adapter
    "TooManyRequests": (ThrottledError, None),
    "SubscriptionRequestsThrottled": (ThrottledError, None),
    "TenantRequestsThrottled": (ThrottledError, None),
    "RetryableError": (TransientError, None),
    "InternalServerError": (TransientError, None),
    "InternalExecutionError": (TransientError, None),
    "ServiceUnavailable": (TransientError, None),
    "GatewayTimeout": (TransientError, None),
    "OperationPreempted": (TransientError, None),
    "AnotherOperationInProgress": (TransientError, None),
    # ARM holds a NIC for 180 s for the VM that last tried to use it: retry later, same NIC
    "NicReservedForAnotherVm": (TransientError, None),
    # credentials and subscription set-up: disable the provider, alert a human
    "AuthenticationFailed": (AuthError, None),
    "InvalidAuthenticationToken": (AuthError, None),
    "ExpiredAuthenticationToken": (AuthError, None),
    "AuthorizationFailed": (AuthError, None),
    "LinkedAuthorizationFailed": (AuthError, None),
    "SubscriptionNotFound": (AuthError, None),
    "MissingSubscriptionRegistration": (AuthError, None),
    "ResourceGroupNotFound": (AuthError, None),
    # the request itself is wrong: fail the job with the message
    "InvalidParameter": (InvalidRequest, None),
    "BadRequest": (InvalidRequest, None),
    "PlatformImageNotFound": (InvalidRequest, None),
    "ImageNotFound": (InvalidRequest, None),
    "InvalidResourceReference": (InvalidRequest, None),
    "MarketplacePurchaseEligibilityFailed": (InvalidRequest, None),
    "ResourcePurchaseValidationFailed": (InvalidRequest, None),
}

# Wrapper codes that say "see details": the nested code is the one that matters.
_WRAPPER_CODES = frozenset({"DeploymentFailed", "ResourceDeploymentFailure", "Conflict", "OperationFailed"})

_STATUS_FALLBACK: dict[int, type[ProviderError]] = {401: AuthError, 403: AuthError, 429: ThrottledError}

# Unknown codes: 5xx transient, else by HTTP status, else the request's fault.
TABLE = ErrorTable(PROVIDER, ERROR_TABLE, _STATUS_FALLBACK)


def _odata(exc: Exception) -> dict[str, Any]:
    """The OData `error` object of an HttpResponseError, from the parsed error or the raw body."""
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            body = json.loads(response.text() or "{}")
        except (ValueError, AttributeError, TypeError):
            body = {}
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return body["error"]  # type: ignore[no-any-return]
    error = getattr(exc, "error", None)
    if error is not None and getattr(error, "code", None):
        return {"code": error.code, "message": error.message or "", "details": []}
    return {}


def _codes(error: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """(code, message) pairs: the top-level one, then nested details (depth-first)."""
    yield str(error.get("code") or ""), str(error.get("message") or "")
    for detail in error.get("details") or ():
        if isinstance(detail, dict):
            yield from _codes(detail)


def table_key(code: str, message: str) -> str:
    """The ERROR_TABLE key for a raw code, telling quota refusals apart from other refusals."""
    if code == "OperationNotAllowed" and "quota" in message.lower():
        return "OperationNotAllowed:quota"
    return code


def classify_code(code: str, message: str, status: int | None = None) -> ProviderError:
    """Map one raw ARM code (plus HTTP status as a fallback) to a taxonomy error."""
    return TABLE.classify(code, message or code or f"HTTP {status}", status, key=table_key(code, message))


def classify(exc: Exception) -> ProviderError:
    """Classify any exception an Azure SDK call raised. Already-classified errors pass through."""
    if isinstance(exc, ProviderError):
        return exc
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    if isinstance(exc, ServiceRequestError | ConnectionError | TimeoutError):
        return TransientError(f"cannot reach Azure: {exc}", provider=PROVIDER, raw_code=type(exc).__name__)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, ClientAuthenticationError) and status in (None, 401, 403):
        # raised by the credential (no token) or mapped from a 401 by the SDK
        code = _odata(exc).get("code") or type(exc).__name__
        return AuthError(f"Azure credentials failed: {exc.message or exc}", provider=PROVIDER, raw_code=code)
    if isinstance(exc, HttpResponseError):
        pairs = list(_codes(_odata(exc)))
        known = [(c, m) for c, m in pairs if table_key(c, m) in ERROR_TABLE]
        top = pairs[0] if pairs and pairs[0][0] not in _WRAPPER_CODES else None
        code, message = known[0] if known else (top or (pairs[-1] if pairs else ("", str(exc))))
        return classify_code(code, message or str(exc.message or exc), status)
    return TransientError(f"unexpected Azure failure: {exc}", provider=PROVIDER, raw_code=type(exc).__name__)


def retry_after_seconds(exc: Exception) -> float | None:
    """The server's Retry-After hint (seconds) on a throttled response, if it gave one."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def is_not_found(exc: Exception) -> bool:
    """True for a 404 (the resource is gone), which delete and describe treat as success."""
    from azure.core.exceptions import ResourceNotFoundError

    status = getattr(getattr(exc, "response", None), "status_code", None)
    return isinstance(exc, ResourceNotFoundError) or status == 404
