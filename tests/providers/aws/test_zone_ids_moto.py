"""Zone IDs (SkyPilot's AWS vms.csv, `use1-az1`) become this account's zone names: at import and at launch."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from orchestrator.api import create_app
from orchestrator.catalog.pricing import LIVE, load_offers, store_offers
from orchestrator.config import Settings
from orchestrator.runtime import build_runtime
from orchestrator.store.db import transaction
from orchestrator.tokens import create_api_token
from providers.aws import AWSProvider
from providers.base import AgentBootstrap, LaunchSpec, Offer, OfferQuery
from tests.providers.aws.conftest import REGION, Injector

_GPU = "\"{'Gpus': [{'Name': 'A10G', 'Manufacturer': 'NVIDIA', 'Count': 1, 'MemoryInfo': {'SizeInMiB': 24576}}]}\""
HEADER = ("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,"
          "AvailabilityZone,Arch")
# moto's account maps use1-az6 -> us-east-1a and use1-az1 -> us-east-1b (as a real account does, its own way).
CSV = "\n".join([
    HEADER,
    f"g5.xlarge,A10G,1.0,4.0,16.0,{_GPU},1.006,0.45,us-east-1,use1-az6,x86_64",
    f"g5.xlarge,A10G,1.0,4.0,16.0,{_GPU},1.006,0.40,us-east-1,use1-az1,x86_64",
]) + "\n"


def test_imported_zone_ids_become_zone_names_that_live_rows_replace(
    make_provider: Callable[..., AWSProvider], tmp_path: Path
) -> None:
    provider = make_provider()
    rt = build_runtime(Settings(home=tmp_path, providers={}), with_providers=False)
    rt.providers["aws"] = provider  # the daemon's AWS adapter, against moto
    with transaction(rt.sessions) as s:
        _, token = create_api_token(s, role="admin", team=None, name="test")
    client = TestClient(create_app(rt), headers={"Authorization": f"Bearer {token}"})
    answer = client.post("/v1/catalog/import", params={"cloud": "aws", "name": "vms.csv"}, content=CSV.encode())
    assert answer.status_code == 200, answer.text
    with transaction(rt.sessions) as s:
        imported = load_offers(s, frozenset({"aws"}))
    assert {(o.zone, o.spot) for o in imported} == {
        ("us-east-1a", True), ("us-east-1a", False), ("us-east-1b", True), ("us-east-1b", False)}

    live = provider.list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,), spot=True))
    with transaction(rt.sessions) as s:
        store_offers(s, "aws", LIVE, live)
        merged = load_offers(s, frozenset({"aws"}))
    spot_b = [o for o in merged if o.pool == ("aws", REGION, "us-east-1b", "g5.xlarge", True)]
    assert [o.source for o in spot_b] == ["live"]  # one pool, priced live: the catalog row was replaced
    assert not [o for o in merged if o.zone.startswith("use1-")]


def test_a_launch_of_a_zone_id_offer_sends_the_zone_name(
    make_provider: Callable[..., AWSProvider], injector: Injector
) -> None:
    offer = Offer(cloud="aws", region=REGION, zone="use1-az1", instance_type="g5.xlarge", gpu_model="A10G",
                  gpu_count=1, vcpus=4, memory_gb=16, spot=True, price_per_hour=0.40,
                  price_fetched_at=datetime.now(UTC), source="catalog")
    key = uuid.uuid4().hex
    info = make_provider().launch(LaunchSpec(
        idempotency_key=key, cluster_id="c-zid", job_id="j", attempt_id="a", offer=offer,
        bootstrap=AgentBootstrap(api_url="http://127.0.0.1:9", attempt_id="a", token="t0k")))
    assert injector.bodies[("ec2", "RunInstances")][-1]["Placement.AvailabilityZone"] == ["us-east-1b"]
    assert info.zone == "us-east-1b"


def test_zone_ids_and_zone_names_are_told_apart() -> None:
    from providers.aws.zones import is_zone_id

    assert all(is_zone_id(z) for z in ("use1-az1", "apne1-az4", "usw2-lax1-az1", "euc1-az3"))
    assert not any(is_zone_id(z) for z in ("us-east-1a", "us-west-2-lax-1a", "eu-central-1", ""))
