"""Launch, crash-safe idempotency, capacity errors and preemption against moto."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from moto.ec2.models.instances import StateReason

from providers.aws import AWSProvider
from providers.base import (
    AgentBootstrap,
    CapacityError,
    ErrorScope,
    InstanceState,
    InvalidRequest,
    LaunchSpec,
    Offer,
    OfferQuery,
    QuotaError,
)
from tests.providers.aws.conftest import AMI, REGION, Injector, ec2_error


def _spec(offer: Offer, key: str | None = None, max_price: float | None = None) -> LaunchSpec:
    key = key or uuid.uuid4().hex
    return LaunchSpec(
        idempotency_key=key, cluster_id="c-test", job_id="job-1", attempt_id=f"att-{key[:6]}", offer=offer,
        bootstrap=AgentBootstrap(api_url="http://127.0.0.1:9", attempt_id=f"att-{key[:6]}", token="t0k"),
        max_price_per_hour=max_price,
    )


def _spot_a10g(provider: AWSProvider) -> list[Offer]:
    offers = provider.list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,), spot=True))
    return sorted((o for o in offers if o.instance_type == "g5.xlarge"), key=lambda o: o.price_per_hour)


def test_spot_launch_sends_market_options_token_tags_and_user_data(
    provider: AWSProvider, injector: Injector, endpoint: str
) -> None:
    cheapest = _spot_a10g(provider)[0]
    info = provider.launch(_spec(cheapest, key="attempt-key-1", max_price=0.9))
    assert (info.zone, info.spot, info.instance_type) == ("us-east-1b", True, "g5.xlarge")
    sent = injector.bodies[("ec2", "RunInstances")][-1]
    assert sent["ClientToken"] == ["attempt-key-1"]
    assert sent["InstanceMarketOptions.MarketType"] == ["spot"]
    assert sent["InstanceMarketOptions.SpotOptions.MaxPrice"] == ["0.9"]
    assert sent["InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior"] == ["terminate"]
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
    raw = ec2.describe_instances(InstanceIds=[info.id])["Reservations"][0]["Instances"][0]
    assert raw["ImageId"] == AMI and raw.get("InstanceLifecycle") == "spot"
    volumes = ec2.describe_volumes(Filters=[{"Name": "tag:spotwise-attempt", "Values": [info.attempt_id]}])
    assert volumes["Volumes"], "the root volume carries the tags too"
    user_data = ec2.describe_instance_attribute(InstanceId=info.id, Attribute="userData")["UserData"]["Value"]
    script = base64.b64decode(user_data).decode()
    assert f"export SPOTWISE_ATTEMPT_ID={info.attempt_id}" in script and "SPOTWISE_NOTICE=aws" in script


def test_relaunch_after_a_crash_finds_the_same_instance(
    make_provider: Callable[..., AWSProvider], injector: Injector
) -> None:
    before_crash = make_provider()
    spec = _spec(_spot_a10g(before_crash)[0], key="crash-key")
    first = before_crash.launch(spec)
    after_restart = make_provider()  # a new daemon process: no memory of the first launch
    second = after_restart.launch(spec)
    assert second.id == first.id
    assert injector.count("ec2", "RunInstances") == 1
    assert [i.id for i in after_restart.list_managed("c-test")] == [first.id]


def test_capacity_error_in_the_cheapest_zone_is_a_pool_capacity_error(
    make_provider: Callable[..., AWSProvider], injector: Injector
) -> None:
    provider = make_provider(max_attempts=2)
    cheapest, runner_up = _spot_a10g(provider)[:2]

    def no_capacity_in_cheapest(request: Any) -> Any:
        zone = injector.bodies[("ec2", "RunInstances")][-1]["Placement.AvailabilityZone"][0]
        return ec2_error(request, "InsufficientInstanceCapacity", 500) if zone == cheapest.zone else None

    injector.on("ec2", "RunInstances", no_capacity_in_cheapest)
    with pytest.raises(CapacityError) as info:
        provider.launch(_spec(cheapest))
    assert info.value.scope is ErrorScope.POOL
    assert info.value.raw_code == "InsufficientInstanceCapacity" and info.value.provider == "aws"
    assert injector.count("ec2", "RunInstances") == 2  # botocore standard mode re-sent the 500 once
    assert provider.list_managed("c-test") == []
    moved = provider.launch(_spec(runner_up))  # what placement does next: the next pool
    assert moved.zone == runner_up.zone != cheapest.zone


def test_preemption_is_seen_by_describe_and_by_the_event_queue(
    provider: AWSProvider, ec2_backend: Any, endpoint: str
) -> None:
    assert set(provider.setup_interruption_events()) == {REGION}
    assert provider.setup_interruption_events()  # idempotent: a rerun changes nothing and does not fail
    info = provider.launch(_spec(_spot_a10g(provider)[0]))
    # AWS reclaims the instance: the warning goes out through EventBridge, then the instance ends.
    boto3.client("events", endpoint_url=endpoint, region_name=REGION).put_events(Entries=[{
        "Source": "aws.ec2", "DetailType": "EC2 Spot Instance Interruption Warning",
        "Detail": json.dumps({"instance-id": info.id, "instance-action": "terminate"}), "Resources": [],
    }])
    ec2_backend.terminate_instances([info.id])
    ec2_backend.get_instance(info.id).state_reason = StateReason(
        "Server.SpotInstanceTermination: Spot instance termination", "Server.SpotInstanceTermination"
    )
    notices = provider.interruption_events()
    assert [(n.instance_id, n.kind) for n in notices] == [(info.id, "preemption")]
    assert notices[0].deadline is not None
    assert provider.interruption_events() == []  # drained
    (described,) = provider.describe([info.id])
    assert described.state is InstanceState.TERMINATED and described.preempted
    assert described.state_reason == "Server.SpotInstanceTermination"


def test_user_terminate_is_not_a_preemption(provider: AWSProvider) -> None:
    info = provider.launch(_spec(_spot_a10g(provider)[0]))
    provider.terminate([info.id, "i-0000000000000dead", "not-an-id"])
    (described,) = provider.describe([info.id, "i-0000000000000beef"])
    assert described.state is InstanceState.TERMINATED and not described.preempted


def test_on_demand_launch_and_describe_price(provider: AWSProvider) -> None:
    offers = provider.list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,), spot=False))
    offer = next(o for o in offers if o.instance_type == "g5.xlarge")
    info = provider.launch(_spec(offer))
    assert not info.spot
    (described,) = provider.describe([info.id])
    assert not described.spot and described.price_per_hour == pytest.approx(offer.price_per_hour)


def test_a_launch_refused_for_its_network_fails_with_the_clouds_message(
    make_provider: Callable[..., AWSProvider], injector: Injector
) -> None:
    provider = make_provider(max_attempts=3)
    cheapest = _spot_a10g(provider)[0]
    injector.on("ec2", "RunInstances", lambda request: ec2_error(request, "VPCIdNotSpecified", 400))
    with pytest.raises(InvalidRequest) as info:
        provider.launch(_spec(cheapest))
    assert info.value.raw_code == "VPCIdNotSpecified" and "injected VPCIdNotSpecified" in info.value.message
    assert injector.count("ec2", "RunInstances") == 1  # a 4xx is not re-sent
    injector.on("ec2", "RunInstances", lambda request: ec2_error(request, "MaxSpotInstanceCountExceeded", 400))
    with pytest.raises(QuotaError) as quota:
        provider.launch(_spec(cheapest))
    assert quota.value.scope is ErrorScope.REGION  # the spot vCPU quota: no other pool of the region helps
