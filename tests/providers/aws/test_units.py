"""Pure parts of the AWS adapter: GPU names, the run_instances request, config, advisor, event parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from providers.aws.advisor import HOURS_PER_MONTH, SpotAdvisor
from providers.aws.config import AWSConfig
from providers.aws.gpus import canonical_gpu, gpu_summary
from providers.aws.interruptions import parse_event
from providers.aws.launch import TAG_LAUNCH_KEY, build_run_request, client_token, format_max_price
from providers.aws.network import Subnet
from providers.aws.pricing import parse_price_item
from providers.base import AgentBootstrap, LaunchSpec, Offer
from providers.errors import InvalidRequest

ADVISOR = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "aws-spot-advisor" / "spot-advisor-data.json"


@pytest.mark.parametrize(
    ("name", "mib", "expected"),
    [("A100", 40960, "A100"), ("A100", 81920, "A100-80GB"), ("H100", 81920, "H100"), ("L4", 22888, "L4"),
     ("A10G", 22888, "A10G"), ("T4", 16384, "T4"), ("V100", 32768, "V100"), ("L40S", 45776, "L40S")],
)
def test_canonical_gpu_names(name: str, mib: int, expected: str) -> None:
    assert canonical_gpu(name, mib) == expected


def test_gpu_summary_of_a_p4de_entry() -> None:
    entry = {"GpuInfo": {"Gpus": [{"Name": "A100", "Count": 8, "MemoryInfo": {"SizeInMiB": 81920}}]}}
    assert gpu_summary(entry) == ("A100-80GB", 8, 80.0)
    assert gpu_summary({"InstanceType": "c7i.large"}) == ("", 0, 0.0)


def _offer(spot: bool = True, zone: str = "us-east-1b") -> Offer:
    return Offer(
        cloud="aws", region="us-east-1", zone=zone, instance_type="g5.xlarge", gpu_model="A10G", gpu_count=1,
        vcpus=4, memory_gb=16, spot=spot, price_per_hour=0.39, price_fetched_at=datetime.now(UTC),
    )


def _spec(offer: Offer, key: str = "key-1", max_price: float | None = None) -> LaunchSpec:
    return LaunchSpec(
        idempotency_key=key, cluster_id="c1", job_id="j1", attempt_id="a1", offer=offer,
        bootstrap=AgentBootstrap(api_url="http://daemon:8080/x'; rm -rf /", attempt_id="a1", token="t0k"),
        max_price_per_hour=max_price,
    )


def test_spot_request_has_market_options_token_tags_and_quoted_user_data() -> None:
    config = AWSConfig(subnet_ids=("subnet-1",), security_group_ids=("sg-1",), key_name="k",
                       iam_instance_profile="arn:aws:iam::1:instance-profile/spotwise")
    subnet = Subnet("subnet-1", "us-east-1b", "vpc-1")
    request = build_run_request(_spec(_offer(), max_price=1.25), config, "ami-1", subnet)
    assert request["InstanceMarketOptions"] == {"MarketType": "spot", "SpotOptions": {
        "SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate", "MaxPrice": "1.25"}}
    assert request["ClientToken"] == "key-1"
    assert request["Placement"] == {"AvailabilityZone": "us-east-1b"} and request["SubnetId"] == "subnet-1"
    assert request["SecurityGroupIds"] == ["sg-1"] and request["KeyName"] == "k"
    assert request["IamInstanceProfile"] == {"Arn": "arn:aws:iam::1:instance-profile/spotwise"}
    kinds = {t["ResourceType"]: {x["Key"]: x["Value"] for x in t["Tags"]} for t in request["TagSpecifications"]}
    assert set(kinds) == {"instance", "volume"}
    for tags in kinds.values():
        assert tags == {"spotwise-cluster": "c1", "spotwise-job": "j1", "spotwise-attempt": "a1",
                        TAG_LAUNCH_KEY: "key-1"}
    assert "export SPOTWISE_URL='http://daemon:8080/x'\"'\"'; rm -rf /'" in request["UserData"]
    assert "SPOTWISE_NOTICE=aws" in request["UserData"]


def test_on_demand_request_has_no_market_options_and_is_deterministic() -> None:
    config = AWSConfig(iam_instance_profile="spotwise-agent")
    first = build_run_request(_spec(_offer(spot=False)), config, "ami-1")
    assert "InstanceMarketOptions" not in first and "SubnetId" not in first
    assert first["IamInstanceProfile"] == {"Name": "spotwise-agent"}
    assert build_run_request(_spec(_offer(spot=False)), config, "ami-1") == first


def test_long_keys_become_a_stable_64_char_client_token() -> None:
    long_key = "attempt/" + "x" * 100
    assert len(client_token(long_key)) == 64 and client_token(long_key) == client_token(long_key)
    assert client_token("short") == "short"
    assert format_max_price(2.0) == "2" and format_max_price(0.123456) == "0.12346"


def test_config_rejects_unknown_keys_and_lists_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="subnet_ids"):
        AWSConfig.parse({"subnet_id": "subnet-1"}, home=tmp_path)
    config = AWSConfig.parse({"regions": "eu-west-1", "advisor_file": "advisor.json",
                              "ami": {"eu-west-1": "ami-9"}}, home=tmp_path)
    assert config.regions == ("eu-west-1",) and config.advisor_file == tmp_path / "advisor.json"
    assert config.for_region(config.ami, "eu-west-1") == "ami-9" and config.for_region(config.ami, "x") is None


def test_advisor_priors_from_the_public_feed() -> None:
    if not ADVISOR.exists():
        pytest.skip(f"Spot Advisor snapshot not found at {ADVISOR} (../shared/data is not checked out)")
    advisor = SpotAdvisor(ADVISOR)
    # SOURCE.md: p3.2xlarge is ">20%" in us-east-1; p5en.48xlarge is "<5%".
    assert advisor.prior("us-east-1", "p3.2xlarge") == pytest.approx(0.25 / HOURS_PER_MONTH)
    assert advisor.prior("us-east-1", "p5en.48xlarge") == pytest.approx(0.025 / HOURS_PER_MONTH)
    assert advisor.prior("us-east-1", "no-such.type") is None
    assert SpotAdvisor(None).prior("us-east-1", "p3.2xlarge") is None


def test_parse_event_reads_warnings_and_rebalance_hints() -> None:
    warning = {"detail-type": "EC2 Spot Instance Interruption Warning", "time": "2026-01-02T03:04:05Z",
               "detail": {"instance-id": "i-0123456789abcdef0", "instance-action": "terminate"}}
    notice = parse_event(json.dumps(warning))
    assert notice is not None and notice.kind == "preemption" and notice.instance_id == "i-0123456789abcdef0"
    assert notice.deadline is not None and (notice.deadline - notice.noticed_at).total_seconds() == 120
    hint = parse_event(json.dumps({**warning, "detail-type": "EC2 Instance Rebalance Recommendation"}))
    assert hint is not None and hint.kind == "rebalance" and hint.deadline is None
    assert parse_event("not json") is None
    assert parse_event(json.dumps({"detail-type": "EC2 Instance State-change Notification"})) is None


def test_parse_price_item() -> None:
    item = {"terms": {"OnDemand": {"a": {"priceDimensions": {"b": {"pricePerUnit": {"USD": "1.0060000000"}}}}}}}
    assert parse_price_item(json.dumps(item)) == pytest.approx(1.006)
    assert parse_price_item({"terms": {}}) is None

