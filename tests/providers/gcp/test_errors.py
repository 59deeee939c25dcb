"""The GCE error table: one test per code, and both arrival paths (HTTP error, failed operation)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from google.api_core import exceptions as gexc

from providers.errors import (
    AuthError,
    CapacityError,
    ErrorScope,
    InvalidRequest,
    ProviderError,
    QuotaError,
    ThrottledError,
    TransientError,
)
from providers.gcp.errors import CODE_TABLE, classify_code, classify_http, classify_operation, guarded

EXPECTED: dict[str, tuple[type[ProviderError], ErrorScope]] = {
    "ZONE_RESOURCE_POOL_EXHAUSTED": (CapacityError, ErrorScope.POOL),
    "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS": (CapacityError, ErrorScope.POOL),
    "UNSUPPORTED_OPERATION": (CapacityError, ErrorScope.POOL),
    "QUOTA_EXCEEDED": (QuotaError, ErrorScope.REGION),
    "quotaExceeded": (QuotaError, ErrorScope.REGION),
    "rateLimitExceeded": (ThrottledError, ErrorScope.PROVIDER),
    "userRateLimitExceeded": (ThrottledError, ErrorScope.PROVIDER),
    "RATE_LIMIT_EXCEEDED": (ThrottledError, ErrorScope.PROVIDER),
    "RESOURCE_OPERATION_RATE_EXCEEDED": (ThrottledError, ErrorScope.PROVIDER),
    "backendError": (TransientError, ErrorScope.PROVIDER),
    "internalError": (TransientError, ErrorScope.PROVIDER),
    "INTERNAL_ERROR": (TransientError, ErrorScope.PROVIDER),
    "forbidden": (AuthError, ErrorScope.PROVIDER),
    "accessNotConfigured": (AuthError, ErrorScope.PROVIDER),
    "authError": (AuthError, ErrorScope.PROVIDER),
    "required": (AuthError, ErrorScope.PROVIDER),
    "PERMISSIONS_ERROR": (AuthError, ErrorScope.PROVIDER),
    "invalid": (InvalidRequest, ErrorScope.REQUEST),
    "badRequest": (InvalidRequest, ErrorScope.REQUEST),
    "invalidParameter": (InvalidRequest, ErrorScope.REQUEST),
    "INVALID_FIELD_VALUE": (InvalidRequest, ErrorScope.REQUEST),
    "RESOURCE_NOT_FOUND": (InvalidRequest, ErrorScope.REQUEST),
    "notFound": (InvalidRequest, ErrorScope.REQUEST),
    "alreadyExists": (InvalidRequest, ErrorScope.REQUEST),
    "RESOURCE_ALREADY_EXISTS": (InvalidRequest, ErrorScope.REQUEST),
}


def test_every_table_code_has_an_expectation() -> None:
    assert set(CODE_TABLE) == set(EXPECTED)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_code_classification(code: str) -> None:
    cls, scope = EXPECTED[code]
    error = classify_code(code, "msg")
    assert type(error) is cls
    assert error.scope is scope
    assert error.raw_code == code and error.provider == "gcp"


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, InvalidRequest), (401, AuthError), (403, AuthError), (404, InvalidRequest), (429, ThrottledError),
     (500, TransientError), (503, TransientError)],
)
def test_unknown_code_falls_back_to_http_status(status: int, cls: type[ProviderError]) -> None:
    assert type(classify_code("SOMETHING_NEW", status=status)) is cls


def test_all_regions_quota_blocks_the_provider() -> None:
    error = classify_code("QUOTA_EXCEEDED", "Quota 'GPUS_ALL_REGIONS' exceeded. Limit: 0.0 globally.")
    assert isinstance(error, QuotaError) and error.scope is ErrorScope.PROVIDER


def test_http_error_reason_beats_its_status() -> None:
    """A 503 carrying ZONE_RESOURCE_POOL_EXHAUSTED is capacity, not a transient 5xx to retry."""
    exc = gexc.ServiceUnavailable("exhausted", errors=[{"reason": "ZONE_RESOURCE_POOL_EXHAUSTED", "message": "m"}])
    error = classify_http(exc)
    assert isinstance(error, CapacityError) and error.scope is ErrorScope.POOL


def test_operation_error_uses_first_known_code() -> None:
    op = SimpleNamespace(
        error=SimpleNamespace(errors=[SimpleNamespace(code="NEW_THING", message="a"),
                                      SimpleNamespace(code="QUOTA_EXCEEDED", message="b")]),
        http_error_status_code=403,
    )
    assert isinstance(classify_operation(op), QuotaError)
    assert classify_operation(SimpleNamespace(error=SimpleNamespace(errors=[]), http_error_status_code=0)) is None


def test_guarded_turns_transport_failures_into_transient() -> None:
    import requests

    def boom() -> None:
        raise requests.exceptions.ConnectionError("refused")

    with pytest.raises(TransientError):
        guarded(boom)
