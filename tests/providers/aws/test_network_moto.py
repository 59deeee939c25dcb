"""Subnets decide the zones: only zones a configured subnet is in are offered, and a launch goes into it."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import boto3
import pytest

from providers.aws import AWSProvider
from providers.base import AgentBootstrap, InvalidRequest, LaunchSpec, Offer, OfferQuery
from tests.providers.aws.conftest import REGION, Injector


def _spec(offer: Offer) -> LaunchSpec:
    key = uuid.uuid4().hex
    return LaunchSpec(
        idempotency_key=key, cluster_id="c-net", job_id="job-1", attempt_id=f"att-{key[:6]}", offer=offer,
        bootstrap=AgentBootstrap(api_url="http://127.0.0.1:9", attempt_id=f"att-{key[:6]}", token="t0k"),
    )


def _private_network(endpoint: str) -> tuple[str, str, str, str]:
    """A VPC of our own with one subnet in us-east-1a; (vpc, subnet, its group, the default VPC's group)."""
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24", AvailabilityZone="us-east-1a")
    group = ec2.create_security_group(GroupName="spotwise", Description="agents", VpcId=vpc)["GroupId"]
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    default_group = ec2.create_security_group(GroupName="spotwise-default", Description="agents",
                                              VpcId=default_vpc)["GroupId"]
    return vpc, subnet["Subnet"]["SubnetId"], group, default_group


def test_only_zones_with_a_configured_subnet_are_offered_and_launched_into(
    make_provider: Callable[..., AWSProvider], injector: Injector, endpoint: str
) -> None:
    vpc, subnet, group, default_group = _private_network(endpoint)
    everywhere = make_provider().list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,), spot=True))
    assert {o.zone for o in everywhere} >= {"us-east-1a", "us-east-1b"}  # the default VPC reaches every zone

    provider = make_provider(subnet_ids=(subnet,), security_group_ids={vpc: [group], REGION: [default_group]})
    offers = provider.list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,), spot=True))
    assert offers and {o.zone for o in offers} == {"us-east-1a"}
    provider.list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,)))
    assert injector.count("ec2", "DescribeSubnets") == 1  # cached with the instance-type listing

    info = provider.launch(_spec(offers[0]))
    sent = injector.bodies[("ec2", "RunInstances")][-1]
    assert sent["SubnetId"] == [subnet] and sent["SecurityGroupId.1"] == [group]  # the group of the subnet's VPC
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
    raw = ec2.describe_instances(InstanceIds=[info.id])["Reservations"][0]["Instances"][0]
    assert (raw["SubnetId"], raw["VpcId"], raw["Placement"]["AvailabilityZone"]) == (subnet, vpc, "us-east-1a")


def test_a_launch_into_a_zone_without_a_subnet_is_refused_before_ec2_is_asked(
    make_provider: Callable[..., AWSProvider], injector: Injector, endpoint: str
) -> None:
    _, subnet, _, _ = _private_network(endpoint)
    offers = make_provider().list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,), spot=True))
    elsewhere = next(o for o in offers if o.zone == "us-east-1b")
    provider = make_provider(subnet_ids={"us-east-1a": subnet})  # the zone-keyed form is read too
    with pytest.raises(InvalidRequest, match="no configured subnet is in zone us-east-1b"):
        provider.launch(_spec(elsewhere))
    assert injector.count("ec2", "RunInstances") == 0


def test_a_region_without_a_configured_subnet_offers_nothing(
    make_provider: Callable[..., AWSProvider], endpoint: str
) -> None:
    provider = make_provider(subnet_ids=("subnet-0000000000000000f",))
    assert provider.list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,))) == []
