"""The AWS launch preflight against moto: all green on a working config; each broken piece is one failing row
that names the fix; the DryRun launch is the launcher's own request."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from providers.aws import AWSProvider
from providers.aws.quotas import QUOTA_CODES
from providers.base import PreflightRow
from tests.providers.aws.conftest import AMI, REGION, Injector, response

API_URL = "https://spotwise.example.com"


def _image(endpoint: str) -> str:
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
    return str(ec2.register_image(Name="spotwise-gpu", RootDeviceName="/dev/sda1", Architecture="x86_64")["ImageId"])


def _failing(rows: list[PreflightRow]) -> list[PreflightRow]:
    return [r for r in rows if not r.ok]


@pytest.fixture
def working(make_provider: Callable[..., AWSProvider], endpoint: str) -> Callable[..., AWSProvider]:
    image = _image(endpoint)
    return lambda **overrides: make_provider(**{"ami": image, **overrides})


def test_a_working_config_passes_every_check_and_dry_runs_the_launchers_request(
    working: Callable[..., AWSProvider], injector: Injector
) -> None:
    provider = working()
    rows = provider.preflight(API_URL)
    assert not _failing(rows), _failing(rows)
    checks = {r.check for r in rows}
    assert {"credentials", "image", "network", "dry-run launch"} <= checks
    zones = sorted({z for zs in provider.catalog.zones(REGION, sorted(provider.catalog.shapes(REGION))).values()
                    for z in zs})
    dry = [r for r in rows if r.check == "dry-run launch"]
    assert sorted(r.region for r in dry) == zones
    assert all("would succeed" in r.detail for r in dry)
    sent = injector.bodies[("ec2", "RunInstances")]
    assert len(sent) == len(zones) and all(body["DryRun"] == ["true"] for body in sent)
    # the launcher's request: spot market, IMDSv2, the tags, the daemon's URL in the user data
    first = sent[0]
    assert first["InstanceMarketOptions.MarketType"] == ["spot"] and first["MetadataOptions.HttpTokens"] == ["required"]
    assert any(k.startswith("TagSpecification.1.Tag.") for k in first)
    ec2 = boto3.client("ec2", endpoint_url=provider.config.endpoint_url, region_name=REGION)
    assert not ec2.describe_instances()["Reservations"]  # nothing was launched


def test_cloud_calls_off_asks_nothing(working: Callable[..., AWSProvider], injector: Injector) -> None:
    assert working().preflight(API_URL, cloud_calls=False) == []
    assert not injector.calls


def test_a_missing_ami_is_one_failing_row_with_the_fix(make_provider: Callable[..., AWSProvider]) -> None:
    rows = make_provider().preflight(API_URL)  # the conftest's AMI id exists nowhere
    (bad,) = _failing(rows)
    assert (bad.check, bad.region) == ("image", REGION)
    assert AMI in bad.fix and "set `ami`" in bad.fix
    assert not [r for r in rows if r.check == "dry-run launch"]  # the launch cannot work: no DryRun is sent


def test_a_zone_without_a_subnet_is_one_failing_row(
    working: Callable[..., AWSProvider], endpoint: str
) -> None:
    probe = working()
    zones = sorted({z for zs in probe.catalog.zones(REGION, sorted(probe.catalog.shapes(REGION))).values() for z in zs})
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="spotwise", Description="agents", VpcId=vpc)["GroupId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
               for i, zone in enumerate(zones[:-1])]
    rows = working(subnet_ids=tuple(subnets), security_group_ids=[group]).preflight(API_URL)
    (bad,) = _failing(rows)
    assert (bad.check, bad.region) == ("network", zones[-1])
    assert f"add a subnet of {zones[-1]} to subnet_ids" in bad.fix
    assert {r.region for r in rows if r.check == "dry-run launch"} == set(zones[:-1])


def test_a_security_group_of_another_vpc_fails_the_network_row(
    working: Callable[..., AWSProvider], endpoint: str
) -> None:
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
    other = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="elsewhere", Description="x", VpcId=other)["GroupId"]
    rows = working(security_group_ids=[group]).preflight(API_URL)
    assert _failing(rows) and all(r.check == "network" and group in r.fix for r in _failing(rows))


def _quota_answer(values: dict[str, float]) -> Callable[[Any], Any]:
    def answer(request: Any) -> Any:
        code = json.loads(request.body or b"{}").get("QuotaCode", "")
        if code not in values:
            body = json.dumps({"__type": "NoSuchResourceException", "message": f"no quota {code}"})
            return response(request, 400, body, "application/x-amz-json-1.1")
        quota = {"ServiceCode": "ec2", "QuotaCode": code, "QuotaName": code, "Value": values[code], "Unit": "None"}
        return response(request, 200, json.dumps({"Quota": quota}), "application/x-amz-json-1.1")
    return answer


def test_an_exhausted_quota_is_one_failing_row(working: Callable[..., AWSProvider], injector: Injector) -> None:
    code = QUOTA_CODES[("g", True)]
    injector.on("service-quotas", "GetServiceQuota", _quota_answer({
        code: 0.0, QUOTA_CODES[("g", False)]: 64.0, QUOTA_CODES[("p", True)]: 96.0}))
    rows = working().preflight(API_URL)
    (bad,) = _failing(rows)
    assert (bad.check, bad.region) == ("quota G spot", REGION)
    assert code in bad.fix and "request an increase" in bad.fix
    assert any(r.check == "quota G on-demand" and r.ok and "64" in r.detail for r in rows)


def test_credentials_that_do_not_work_are_the_only_row(
    make_provider: Callable[..., AWSProvider], injector: Injector
) -> None:
    body = ("<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token "
            "included in the request is invalid.</Message></Error></ErrorResponse>")
    injector.on("sts", "GetCallerIdentity", lambda request: response(request, 403, body))
    (row,) = make_provider().preflight(API_URL)
    assert (row.check, row.ok) == ("credentials", False) and "InvalidClientTokenId" in row.fix
    assert not injector.count("ec2", "RunInstances")
