"""Every ARM error code in the table, raised by the fake through the real SDK, lands in the right class
and scope. The expected values are written out here, independently of providers/azure/errors.py."""

from __future__ import annotations

import pytest

from providers.azure import AzureProvider
from providers.azure.errors import ERROR_TABLE, classify
from providers.base import OfferQuery
from providers.errors import (
    AuthError,
    CapacityError,
    ErrorScope,
    InvalidRequest,
    PriceError,
    ProviderError,
    QuotaError,
    ThrottledError,
    TransientError,
)
from tests.providers.azure.fake_arm import FakeArm

SKUS = "/Microsoft.Compute/skus"
QUOTA_MESSAGE = (
    "Operation could not be completed as it results in exceeding approved LowPriorityCores quota. "
    "Location: eastus, Current Limit: 0, Current Usage: 0, Additional Required: 24."
)

# (code, HTTP status, message, expected class, expected scope)
CASES: list[tuple[str, int, str, type[ProviderError], ErrorScope]] = [
    ("SkuNotAvailable", 409, "", CapacityError, ErrorScope.POOL),
    ("AllocationFailed", 200, "", CapacityError, ErrorScope.POOL),
    ("ZonalAllocationFailed", 200, "", CapacityError, ErrorScope.POOL),
    ("OverconstrainedAllocationRequest", 200, "", CapacityError, ErrorScope.POOL),
    ("OverconstrainedZonalAllocationRequest", 200, "", CapacityError, ErrorScope.POOL),
    ("AllocationFailedVmSizeNotAvailable", 409, "", CapacityError, ErrorScope.POOL),
    ("AzureSpotIsNotSupportedForThisVMSize", 400, "", CapacityError, ErrorScope.POOL),
    ("SpotPriceGreaterThanProvidedMaxPrice", 400, "", PriceError, ErrorScope.POOL),
    ("NicReservedForAnotherVm", 400, "", TransientError, ErrorScope.PROVIDER),
    ("QuotaExceeded", 409, "", QuotaError, ErrorScope.REGION),
    ("OperationNotAllowed", 409, QUOTA_MESSAGE, QuotaError, ErrorScope.REGION),
    (
        "OperationNotAllowed",
        409,
        "Operation 'start' is not allowed on VM 'x' since the VM is deleting.",
        InvalidRequest,
        ErrorScope.REQUEST,
    ),
    ("TooManyRequests", 429, "", ThrottledError, ErrorScope.PROVIDER),
    ("SubscriptionRequestsThrottled", 429, "", ThrottledError, ErrorScope.PROVIDER),
    ("TenantRequestsThrottled", 429, "", ThrottledError, ErrorScope.PROVIDER),
    ("RetryableError", 409, "", TransientError, ErrorScope.PROVIDER),
    ("InternalServerError", 500, "", TransientError, ErrorScope.PROVIDER),
    ("InternalExecutionError", 500, "", TransientError, ErrorScope.PROVIDER),
    ("ServiceUnavailable", 503, "", TransientError, ErrorScope.PROVIDER),
    ("GatewayTimeout", 504, "", TransientError, ErrorScope.PROVIDER),
    ("OperationPreempted", 409, "", TransientError, ErrorScope.PROVIDER),
    ("AnotherOperationInProgress", 409, "", TransientError, ErrorScope.PROVIDER),
    ("AuthenticationFailed", 401, "", AuthError, ErrorScope.PROVIDER),
    ("InvalidAuthenticationToken", 401, "", AuthError, ErrorScope.PROVIDER),
    ("ExpiredAuthenticationToken", 401, "", AuthError, ErrorScope.PROVIDER),
    ("AuthorizationFailed", 403, "", AuthError, ErrorScope.PROVIDER),
    ("LinkedAuthorizationFailed", 403, "", AuthError, ErrorScope.PROVIDER),
    ("SubscriptionNotFound", 404, "", AuthError, ErrorScope.PROVIDER),
    ("MissingSubscriptionRegistration", 409, "", AuthError, ErrorScope.PROVIDER),
    ("ResourceGroupNotFound", 404, "", AuthError, ErrorScope.PROVIDER),
    ("InvalidParameter", 400, "", InvalidRequest, ErrorScope.REQUEST),
    ("BadRequest", 400, "", InvalidRequest, ErrorScope.REQUEST),
    ("PlatformImageNotFound", 404, "", InvalidRequest, ErrorScope.REQUEST),
    ("ImageNotFound", 404, "", InvalidRequest, ErrorScope.REQUEST),
    ("InvalidResourceReference", 400, "", InvalidRequest, ErrorScope.REQUEST),
    ("MarketplacePurchaseEligibilityFailed", 400, "", InvalidRequest, ErrorScope.REQUEST),
    ("ResourcePurchaseValidationFailed", 400, "", InvalidRequest, ErrorScope.REQUEST),
    # not in the table: the HTTP status decides
    ("SomethingNew", 503, "", TransientError, ErrorScope.PROVIDER),
    ("SomethingNew", 429, "", ThrottledError, ErrorScope.PROVIDER),
    ("SomethingNew", 403, "", AuthError, ErrorScope.PROVIDER),
    ("SomethingNew", 400, "", InvalidRequest, ErrorScope.REQUEST),
]


def test_every_table_code_has_a_case() -> None:
    covered = {
        code if code != "OperationNotAllowed" or "quota" not in msg.lower() else f"{code}:quota"
        for code, _, msg, _, _ in CASES
    }
    assert set(ERROR_TABLE) <= covered


@pytest.mark.parametrize(
    ("code", "status", "message", "cls", "scope"),
    CASES,
    ids=[f"{c[0]}-{c[1]}-{c[3].__name__}" for c in CASES],
)
def test_http_error_code_is_classified(
    provider: AzureProvider,
    arm: FakeArm,
    code: str,
    status: int,
    message: str,
    cls: type[ProviderError],
    scope: ErrorScope,
) -> None:
    status = status if status != 200 else 409  # codes that normally arrive async also arrive on the request
    arm.fail_next("GET", SKUS, status, code, message, times=99)
    with pytest.raises(ProviderError) as caught:
        provider.list_offers(OfferQuery(regions=("eastus",)))
    assert type(caught.value) is cls
    assert caught.value.scope is scope and caught.value.raw_code == code and caught.value.provider == "azure"
    expected_calls = provider.config.retry_attempts if cls.retryable else 1
    assert arm.count("GET", SKUS) == expected_calls


def test_nested_detail_code_wins_over_a_wrapper_code() -> None:
    from azure.core.exceptions import HttpResponseError

    error = HttpResponseError(message="deployment failed")
    error.response = _Response(
        409,
        '{"error": {"code": "DeploymentFailed", "message": "see details",'
        ' "details": [{"code": "ZonalAllocationFailed", "message": "no room"}]}}',
    )
    classified = classify(error)
    assert isinstance(classified, CapacityError) and classified.raw_code == "ZonalAllocationFailed"


def test_connection_failure_is_transient() -> None:
    from azure.core.exceptions import ServiceRequestError

    assert isinstance(classify(ServiceRequestError("connection refused")), TransientError)


def test_credential_failure_is_auth() -> None:
    from azure.identity import CredentialUnavailableError

    assert isinstance(classify(CredentialUnavailableError("no managed identity")), AuthError)


def test_missing_token_on_the_wire_is_auth(provider: AzureProvider, arm: FakeArm) -> None:
    arm.state.tokens.clear()  # the fake now rejects our token with 401
    with pytest.raises(AuthError):
        provider.check_credentials()


class _Response:
    def __init__(self, status: int, body: str) -> None:
        self.status_code, self._body, self.headers, self.reason = status, body, {}, "Conflict"

    def text(self) -> str:
        return self._body
