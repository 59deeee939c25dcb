"""Only GPU types a job can run on are offered: whole NVIDIA GPUs on x86_64; arm64 with an arm64 AMI only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from orchestrator.catalog.vmscsv import read_vms_csv
from providers.aws import AWSProvider
from providers.aws.gpus import launchable_architecture
from providers.base import AgentBootstrap, LaunchSpec, OfferQuery
from tests.providers.aws.conftest import AMI, REGION, SPOT_PRICES, Injector, spot_history_xml

ARM_AMI = "ami-0arm64000000000001"


def _entry(name: str, maker: str = "NVIDIA", count: int = 1, partition: float = 1.0,
           arch: str = "x86_64") -> dict[str, Any]:
    return {"GpuInfo": {"Gpus": [{"Name": name, "Manufacturer": maker, "Count": count, "GpuPartitionSize": partition,
                                  "MemoryInfo": {"SizeInMiB": 22888}}]},
            "ProcessorInfo": {"SupportedArchitectures": [arch]}}


@pytest.mark.parametrize(("entry", "arm64", "expected"), [
    (_entry("L4"), False, "x86_64"),                               # g6: a whole L4
    (_entry("L4", partition=0.125), False, None),                  # g6f.large: an eighth of an L4
    (_entry("L4", count=0, partition=0.5), False, None),           # g6f.4xlarge as EC2 describes it
    (_entry("Radeon Pro V520", maker="AMD"), False, None),         # g4ad: no CUDA
    (_entry("T4g", arch="arm64"), False, None),                    # g5g without an arm64 AMI
    (_entry("T4g", arch="arm64"), True, "arm64"),                  # g5g with one
    ({"InstanceType": "c7i.large"}, False, None),
])
def test_launchable_architecture(entry: dict[str, Any], arm64: bool, expected: str | None) -> None:
    assert launchable_architecture(entry, arm64=arm64) == expected


def test_fractional_and_arm64_types_are_not_offered_by_default(make_provider: Callable[..., AWSProvider]) -> None:
    offers = make_provider().list_offers(OfferQuery(regions=(REGION,), spot=False))
    families = {o.instance_type.split(".")[0] for o in offers}
    assert {"g5", "g6", "p4d"} <= families
    assert not families & {"g6f", "gr6f", "g5g", "g4ad"}


def test_arm64_types_are_offered_and_launched_with_the_arm64_ami_when_one_is_configured(
    make_provider: Callable[..., AWSProvider], injector: Injector
) -> None:
    prices = {**SPOT_PRICES, ("g5g.xlarge", "us-east-1a"): 0.1712}
    injector.on("ec2", "DescribeSpotPriceHistory", lambda request: spot_history_xml(request, prices))
    assert make_provider().list_offers(OfferQuery(gpu_model="T4g", regions=(REGION,), spot=True)) == []
    provider = make_provider(ami_arm64=ARM_AMI)
    offers = provider.list_offers(OfferQuery(gpu_model="T4g", regions=(REGION,), spot=True))
    assert offers and {o.instance_type.split(".")[0] for o in offers} == {"g5g"}
    key = uuid.uuid4().hex
    provider.launch(LaunchSpec(idempotency_key=key, cluster_id="c-arm", job_id="j", attempt_id="a", offer=offers[0],
                               bootstrap=AgentBootstrap(api_url="http://127.0.0.1:9", attempt_id="a", token="t")))
    assert injector.bodies[("ec2", "RunInstances")][-1]["ImageId"] == [ARM_AMI]
    x86 = provider.list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,), spot=True))[0]
    provider.launch(LaunchSpec(idempotency_key=key + "x", cluster_id="c-arm", job_id="j", attempt_id="b", offer=x86,
                               bootstrap=AgentBootstrap(api_url="http://127.0.0.1:9", attempt_id="b", token="t")))
    assert injector.bodies[("ec2", "RunInstances")][-1]["ImageId"] == [AMI]


def test_imported_fractional_amd_and_arm64_rows_are_skipped() -> None:
    header = ("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,"
              "AvailabilityZone,Arch")

    def row(itype: str, gpu: str, maker: str, partition: float, arch: str) -> str:
        info = (f"\"{{'Gpus': [{{'Name': '{gpu}', 'Manufacturer': '{maker}', 'Count': 1, "
                f"'GpuPartitionSize': {partition}, 'MemoryInfo': {{'SizeInMiB': 22888}}}}]}}\"")
        return f"{itype},{gpu},1.0,4.0,16.0,{info},1.0,0.5,us-east-1,use1-az1,{arch}"

    text = "\n".join([header, row("g6.xlarge", "L4", "NVIDIA", 1.0, "x86_64"),
                      row("g6f.large", "L4", "NVIDIA", 0.125, "x86_64"),
                      row("g4ad.xlarge", "V520", "AMD", 1.0, "x86_64"),
                      row("g5g.xlarge", "T4g", "NVIDIA", 1.0, "arm64")]) + "\n"
    offers, skipped = read_vms_csv(text, "aws")
    assert {o.instance_type for o in offers} == {"g6.xlarge"}
    reasons = " ".join(why for _, why in skipped)
    assert "g6f.large: a fraction" in reasons and "g4ad.xlarge: AMD" in reasons and "g5g.xlarge: arm64" in reasons
