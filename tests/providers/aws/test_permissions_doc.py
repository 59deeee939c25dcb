"""Every AWS API call of a whole cycle (offers, setup, launch, describe, interruptions, terminate, prices, zone
names, placement scores, credentials, launch preflight) maps to an action of the IAM policy in docs/clouds/aws.md,
and the policy asks for nothing the cycle does not use (beyond what only a config option needs): recorded with
botocore's `before-call` event against moto."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any

import boto3

from providers.aws import AWSProvider
from providers.base import AgentBootstrap, LaunchSpec, OfferQuery, ProviderError
from tests.docs.permissions import aws_actions
from tests.providers.aws.conftest import REGION

# botocore's service id (as in the event name) -> the IAM service prefix
PREFIX = {"ec2": "ec2", "sts": "sts", "ssm": "ssm", "pricing": "pricing", "service-quotas": "servicequotas",
          "sqs": "sqs", "events": "events", "eventbridge": "events"}
# calls authorised by another action's name, and actions a call needs besides its own
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html: DeleteMessageBatch is
# authorised as DeleteMessage; RunInstances with TagSpecifications needs ec2:CreateTags,
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html)
AUTHORISED_AS = {"sqs:DeleteMessageBatch": "sqs:DeleteMessage"}
ALSO_NEEDS = {"ec2:RunInstances": {"ec2:CreateTags"}}
# in the policy for a config option the cycle below does not set
CONDITIONAL = {"iam:PassRole"}  # iam_instance_profile: passing the instances' role


def _cycle(provider: AWSProvider, endpoint: str) -> None:
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
    image = ec2.register_image(Name="spotwise-gpu", RootDeviceName="/dev/sda1", Architecture="x86_64")["ImageId"]
    provider.images._cache[REGION] = image  # SSM's public parameter is asked below, moto does not hold it
    assert provider.check_credentials().account
    provider.setup_interruption_events()
    offers = [o for o in provider.list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,))) if o.spot]
    assert provider.spot_prices(offers)
    key = uuid.uuid4().hex
    spec = LaunchSpec(idempotency_key=key, cluster_id="c-iam", job_id="job-iam", attempt_id=f"att-{key[:6]}",
                      offer=offers[0], bootstrap=AgentBootstrap(api_url="https://spotwise.example.com",
                                                                attempt_id=f"att-{key[:6]}", token="t0k"))
    info = provider.launch(spec)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=provider.config.interruption_queue)["QueueUrl"],
                     MessageBody="{}")
    provider.interruption_events()
    assert provider.describe([info.id]) and provider.list_managed("c-iam")
    provider.terminate([info.id])
    provider.zone_names([REGION])
    with contextlib.suppress(ProviderError):  # moto may not answer; the call was made, which is what is recorded
        provider.placement_scores([offers[0].instance_type])
    provider.images._cache.clear()
    with contextlib.suppress(ProviderError):  # the public SSM parameter: moto does not hold it
        provider.images.image_for(REGION)
    provider.images._cache[REGION] = image
    assert not [r for r in provider.preflight("https://spotwise.example.com") if not r.ok]


def test_every_call_of_a_cycle_is_allowed_by_the_documented_policy_and_nothing_more(
    make_provider: Callable[..., AWSProvider], endpoint: str
) -> None:
    called: set[str] = set()

    def record(event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        assert service in PREFIX, f"a call to {service}: add its IAM prefix here and its actions to docs/clouds/aws.md"
        action = f"{PREFIX[service]}:{operation}"
        called.add(AUTHORISED_AS.get(action, action))
        called.update(ALSO_NEEDS.get(action, set()))

    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName="spotwise", Description="agents", VpcId=vpc)["GroupId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    provider = make_provider(subnet_ids=tuple(subnets), security_group_ids=[group], placement_scores=True,
                             ami=None)  # the AMI from SSM: the cycle asks SSM once (moto does not hold it)
    provider.clients.events.register("before-call", record)
    _cycle(provider, endpoint)

    documented = aws_actions()
    assert called - documented == set(), "calls the policy in docs/clouds/aws.md does not allow"
    assert documented - called - CONDITIONAL == set(), "actions in the policy that no call of the cycle needs"
