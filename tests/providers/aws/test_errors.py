"""Every row of the AWS error table, and the SPOT-FACTS classification it must encode."""

from __future__ import annotations

import pytest
from botocore import exceptions as bex
from botocore.parsers import ResponseParserError

from providers.aws.errors import ERROR_TABLE, classify, translated
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


def client_error(code: str, status: int = 400) -> bex.ClientError:
    return bex.ClientError(
        {"Error": {"Code": code, "Message": f"msg {code}"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "RunInstances",
    )


# Written out independently of the table: what ../shared/design/SPOT-FACTS.md says each code means.
EXPECTED = {
    "InsufficientInstanceCapacity": (CapacityError, ErrorScope.POOL),
    "InsufficientHostCapacity": (CapacityError, ErrorScope.POOL),
    "UnfulfillableCapacity": (CapacityError, ErrorScope.POOL),
    "Unsupported": (CapacityError, ErrorScope.POOL),
    "InsufficientFreeAddressesInSubnet": (CapacityError, ErrorScope.ZONE),
    "InsufficientCapacity": (CapacityError, ErrorScope.POOL),
    # The account's spot vCPU quota of the region, not a shortage (EC2 error codes: "reached the limit").
    "MaxSpotInstanceCountExceeded": (QuotaError, ErrorScope.REGION),
    "VolumeLimitExceeded": (QuotaError, ErrorScope.REGION),
    "SpotMaxPriceTooLow": (PriceError, ErrorScope.POOL),
    "VcpuLimitExceeded": (QuotaError, ErrorScope.REGION),
    "InstanceLimitExceeded": (QuotaError, ErrorScope.REGION),
    "RequestLimitExceeded": (ThrottledError, ErrorScope.PROVIDER),
    "Throttling": (ThrottledError, ErrorScope.PROVIDER),
    "AuthFailure": (AuthError, ErrorScope.PROVIDER),
    "UnauthorizedOperation": (AuthError, ErrorScope.PROVIDER),
    "InvalidAMIID.NotFound": (InvalidRequest, ErrorScope.REQUEST),
    "IdempotentParameterMismatch": (InvalidRequest, ErrorScope.REQUEST),
    # The network config is wrong: the attempt fails with the cloud's message, no pool is blamed.
    "VPCIdNotSpecified": (InvalidRequest, ErrorScope.REQUEST),
    "InvalidSecurityGroupID.NotFound": (InvalidRequest, ErrorScope.REQUEST),
    "InvalidAvailabilityZone": (InvalidRequest, ErrorScope.REQUEST),
}


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_spot_facts_code_is_classified_as_documented(code: str) -> None:
    error = classify(client_error(code))
    cls, scope = EXPECTED[code]
    assert type(error) is cls
    assert error.scope is scope
    assert error.raw_code == code and error.provider == "aws"


@pytest.mark.parametrize("code", sorted(ERROR_TABLE))
def test_every_table_row_yields_its_class_scope_and_raw_code(code: str) -> None:
    cls, scope = ERROR_TABLE[code]
    error = classify(client_error(code, status=500))  # a listed code wins over the HTTP status
    assert type(error) is cls
    assert error.scope is (scope or cls.default_scope)
    assert error.raw_code == code
    assert error.message.startswith(f"msg {code}")  # the cloud's message first, then any hint


def test_quota_and_network_codes_say_what_to_do() -> None:
    assert "subnet_ids" in classify(client_error("VPCIdNotSpecified")).message
    assert "Service Quotas" in classify(client_error("MaxSpotInstanceCountExceeded")).message


@pytest.mark.parametrize("code", ["SomeNewLaunchProblem", "InstanceCreditSpecification.NotSupported"])
def test_unknown_4xx_codes_are_never_capacity(code: str) -> None:
    error = classify(client_error(code, 400))
    assert type(error) is InvalidRequest and error.scope is ErrorScope.REQUEST
    assert error.message == f"msg {code}" and error.raw_code == code


def test_unknown_codes_fall_back_on_the_http_status() -> None:
    assert type(classify(client_error("SomethingNew", 503))) is TransientError
    unknown_4xx = classify(client_error("SomethingElse", 400))
    assert type(unknown_4xx) is InvalidRequest and unknown_4xx.raw_code == "SomethingElse"


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (bex.NoCredentialsError(), AuthError),
        (bex.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), TransientError),
        (bex.ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), TransientError),
        (ResponseParserError("garbage"), TransientError),
        (bex.ParamValidationError(report="bad"), InvalidRequest),
    ],
)
def test_sdk_exceptions_are_classified(exc: Exception, cls: type[ProviderError]) -> None:
    assert type(classify(exc)) is cls


def test_translated_reraises_classified_with_the_cause() -> None:
    with pytest.raises(QuotaError) as info, translated():
        raise client_error("VcpuLimitExceeded")
    assert isinstance(info.value.__cause__, bex.ClientError)


def test_no_credentials_message_says_what_to_do() -> None:
    assert "credential" in str(classify(bex.NoCredentialsError())).lower()
