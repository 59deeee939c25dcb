"""Known vCPU quota walls (Service Quotas) are left out of the offers; an unreadable quota filters nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from providers.aws import AWSProvider
from providers.aws.quotas import QUOTA_CODES, family_group
from providers.base import OfferQuery
from tests.providers.aws.conftest import REGION, Injector, response


def _quota_answer(values: dict[str, float]) -> Callable[[Any], Any]:
    """GetServiceQuota in the Service Quotas JSON shape, for the codes given; others: NoSuchResourceException."""
    def answer(request: Any) -> Any:
        code = json.loads(request.body or b"{}").get("QuotaCode", "")
        if code not in values:
            body = json.dumps({"__type": "NoSuchResourceException", "message": f"no quota {code}"})
            return response(request, 400, body, "application/x-amz-json-1.1")
        quota = {"ServiceCode": "ec2", "QuotaCode": code, "QuotaName": code, "Value": values[code], "Unit": "None"}
        return response(request, 200, json.dumps({"Quota": quota}), "application/x-amz-json-1.1")
    return answer


def test_types_above_the_vcpu_quota_of_their_family_and_market_are_not_offered(
    make_provider: Callable[..., AWSProvider], injector: Injector
) -> None:
    g_spot, g_on_demand, p_spot = QUOTA_CODES[("g", True)], QUOTA_CODES[("g", False)], QUOTA_CODES[("p", True)]
    injector.on("service-quotas", "GetServiceQuota", _quota_answer({g_spot: 8.0, g_on_demand: 0.0, p_spot: 0.0}))
    provider = make_provider()
    offers = provider.list_offers(OfferQuery(regions=(REGION,)))
    spot_g = {o.instance_type for o in offers if o.spot and family_group(o.instance_type) == "g"}
    assert spot_g and all(o.vcpus <= 8 for o in offers if o.spot and o.instance_type in spot_g)
    assert {"g5.xlarge", "g5.2xlarge"} <= spot_g and "g5.4xlarge" not in spot_g
    assert not [o for o in offers if not o.spot and family_group(o.instance_type) == "g"]  # a new account: 0
    assert not [o for o in offers if o.spot and o.instance_type.startswith("p")]
    assert [o for o in offers if not o.spot and o.instance_type.startswith("p")]  # that quota is unknown: kept
    provider.list_offers(OfferQuery(regions=(REGION,)))
    assert injector.count("service-quotas", "GetServiceQuota") == len(QUOTA_CODES)  # cached with the types


def test_quotas_that_cannot_be_read_filter_nothing(
    make_provider: Callable[..., AWSProvider], injector: Injector
) -> None:
    denied = json.dumps({"__type": "AccessDeniedException", "message": "not allowed"})
    injector.on("service-quotas", "GetServiceQuota",
                lambda request: response(request, 403, denied, "application/x-amz-json-1.1"))
    with_quotas = make_provider().list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,)))
    without = make_provider(service_quotas=False).list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,)))
    assert with_quotas and {o.pool for o in with_quotas} == {o.pool for o in without}
    assert injector.count("service-quotas", "GetServiceQuota") == len(QUOTA_CODES)  # the second never asked


def test_the_moto_server_answers_unknown_ec2_quotas_and_offers_stay(
    make_provider: Callable[..., AWSProvider], injector: Injector
) -> None:
    assert make_provider().list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,)))
    assert injector.count("service-quotas", "GetServiceQuota") == len(QUOTA_CODES)
