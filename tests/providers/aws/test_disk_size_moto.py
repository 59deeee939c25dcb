"""A job's disk size (a SkyPilot task's `disk_size`, JobSpec resources.disk_gb) sizes the root EBS volume on moto:
the AMI's own root device is looked up, so the mapping replaces the root volume rather than adding a second one
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/block-device-mapping-concepts.html)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import boto3

from providers.aws import AWSProvider
from providers.aws.launch import build_run_request
from providers.base import OfferQuery
from tests.providers.aws.conftest import REGION, Injector
from tests.providers.aws.test_launch_moto import _spec


def test_the_root_volume_gets_the_jobs_size(make_provider: Callable[..., AWSProvider], injector: Injector,
                                            endpoint: str) -> None:
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]  # one of moto's own AMIs: it has a root device
    provider = make_provider(ami=image["ImageId"])
    offer = next(o for o in provider.list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,), spot=True))
                 if o.instance_type == "g5.xlarge")
    info = provider.launch(dataclasses.replace(_spec(offer), disk_gb=300))
    raw = ec2.describe_instances(InstanceIds=[info.id])["Reservations"][0]["Instances"][0]
    root = image["RootDeviceName"]
    sent = injector.bodies[("ec2", "RunInstances")][-1]
    assert sent["BlockDeviceMapping.1.DeviceName"] == [root]
    assert sent["BlockDeviceMapping.1.Ebs.VolumeSize"] == ["300"]
    assert sent["BlockDeviceMapping.1.Ebs.DeleteOnTermination"] == ["true"]
    [mapping] = raw["BlockDeviceMappings"]
    volume = ec2.describe_volumes(VolumeIds=[mapping["Ebs"]["VolumeId"]])["Volumes"][0]
    assert mapping["DeviceName"] == root and volume["Size"] == 300


def test_without_a_size_the_request_leaves_the_disk_to_the_ami(provider: AWSProvider) -> None:
    offer = provider.list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,), spot=True))[0]
    assert "BlockDeviceMappings" not in build_run_request(_spec(offer), provider.config, "ami-1")
