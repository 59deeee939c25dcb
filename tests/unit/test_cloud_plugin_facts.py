"""Every per-cloud fact the core uses is declared by the cloud's own package: grid carbon, egress prices, bucket
schemes and their locator, the vms.csv row filter, the instance identity proof, the SkyPilot name and whether its
instances are remote. Shown with the out-of-tree toycloud (tests/plugins), whose package declares each of them,
through the real core functions that read them -- and with the built-in clouds, whose figures must be the ones the
core used when these were tables of its own."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.agent.identity import identity_proof
from orchestrator.catalog.vmscsv import catalog_clouds, read_vms_csv
from orchestrator.config import Settings
from orchestrator.identity import Expected, IdentityRefused, has_identity, verify
from orchestrator.jobs.models import input_url_problem
from orchestrator.provisioning.datagravity import bucket_key, locate
from orchestrator.publicurl import cloud_providers
from orchestrator.runtime import build_runtime
from orchestrator.skypilot.resources import map_resources
from orchestrator.store.db import transaction
from orchestrator.store.tables import StoreRegion
from policies.egress import UNKNOWN_CLOUD_EGRESS, TransferRates, move_kind
from policies.energy import carbon_facts
from providers.plugin import plugins

PLUGINS_DIR = Path(__file__).resolve().parents[1] / "plugins"
AUDIENCE = "https://spotwise.example.com"


@pytest.fixture
def toycloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """tests/plugins on sys.path (its dist-info registers the toycloud entry point); yields the toy:// store root."""
    monkeypatch.syspath_prepend(str(PLUGINS_DIR))
    monkeypatch.setenv("TOYCLOUD_STORE_ROOT", str(tmp_path / "store"))
    plugins.cache_clear()
    carbon_facts.cache_clear()
    yield tmp_path / "store"
    plugins.cache_clear()
    carbon_facts.cache_clear()
    for name in [m for m in sys.modules if m == "toycloud" or m.startswith("toycloud.")]:
        del sys.modules[name]


def test_the_builtin_figures_are_the_ones_the_core_tables_held() -> None:
    carbon = carbon_facts()
    assert carbon.intensity("aws", "us-east-1").g_per_kwh == 415.755
    assert carbon.intensity("gcp", "us-central1").known and carbon.intensity("azure", "eastus").known
    assert carbon.intensity("local", "local-east").g_per_kwh == 415.755  # simulated as AWS us-east-1
    assert carbon.intensity("aws", "mars-north-1").g_per_kwh == 475.0  # the world average, from the core
    rates = TransferRates()
    assert [rates.egress_usd_per_gb(c, "internet") for c in ("aws", "gcp", "azure", "local")] == [
        0.09, 0.12, 0.087, 0.0]
    assert [rates.egress_usd_per_gb("nosuchcloud", k) for k in ("same_region", "cross_region", "internet")] == [
        0.0, 0.02, 0.12]
    assert move_kind("local", "local-east", "local", "local-west") == "same_region"  # one disk
    assert bucket_key("gcs://b/x") == ("gcp", "gs://b") and bucket_key("abfss://c@acct/x") == ("azure", "az://acct")
    assert bucket_key("file:///data/x") == ("local", "file://") and bucket_key("ftp://b/x") is None
    assert input_url_problem("s3://b/x") is None and "s3://, gs://" in (input_url_problem("file:///x") or "")
    assert [c for c in ("aws", "gcp", "azure", "local", "faulty") if has_identity(c)] == [
        "aws", "gcp", "azure", "local"]
    assert cloud_providers({"aws": {}, "local": {}, "faulty": {"wraps": "gcp"}}) == ["aws", "faulty"]


def test_an_installed_cloud_declares_every_fact_the_core_reads(toycloud: Path, tmp_path: Path) -> None:
    east = carbon_facts().intensity("toycloud", "toy-east")
    assert (east.g_per_kwh, east.pue, east.year, east.known) == (123.0, 1.2, 2026, True)
    assert not carbon_facts().intensity("toycloud", "toy-west").known
    assert TransferRates().egress_usd_per_gb("toycloud", "internet") == 0.05
    assert TransferRates().egress_usd_per_gb("toycloud", "cross_region") == 0.01 != UNKNOWN_CLOUD_EGRESS[
        "cross_region"].value
    assert input_url_problem("toy://bucket/data") is None
    mapped, problems = map_resources({"cloud": "toy", "accelerators": "T4:1"})
    assert problems == [] and mapped["clouds"] == ["toycloud"]
    assert cloud_providers({"toycloud": {}}) == []  # its instances are processes here: no public_url needed

    assert "toycloud" in catalog_clouds()
    header = "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,SpotPrice,Region,Arch\n"
    offers, skipped = read_vms_csv(header + "t.x86,T4,1,4,16,1.0,0.3,toy-east,x86_64\n"
                                   "t.arm,T4,1,4,16,1.0,0.3,toy-east,arm64\n", "toycloud")
    assert {o.instance_type for o in offers} == {"t.x86"}  # its spot and on-demand offers
    assert skipped == [(3, "t.arm: arm64 type (toycloud runs x86_64 only)")]


def test_an_installed_cloud_locates_its_buckets_through_its_plugin(toycloud: Path, tmp_path: Path) -> None:
    (toycloud / "data").mkdir(parents=True)
    (toycloud / "data" / ".region").write_text("toy-east\n")
    rt = build_runtime(Settings(home=tmp_path, providers={}), with_providers=False)
    try:
        with transaction(rt.sessions) as s:
            assert bucket_key("toy://data/set") == ("toycloud", "toy://data")
            assert locate(s, rt.settings, {}, "toy://data/set") == ("toycloud", "toy-east")
            row = s.get(StoreRegion, "toy://data")
            assert row is not None and (row.cloud, row.region, row.source) == ("toycloud", "toy-east", "api")
            assert locate(s, rt.settings, {}, "toy://nowhere/set") == ("toycloud", None)  # lookup failed: unknown
    finally:
        rt.close()


def test_an_installed_cloud_proves_its_instances_with_its_own_identity_module(toycloud: Path) -> None:
    assert has_identity("toycloud")
    claim = "c" * 40
    want = Expected(provider="toycloud", instance_id="toy-1", uid="", region="toy-east", zone="toy-east-a")
    proof = identity_proof("toycloud:toy-1", audience=AUDIENCE, claim=claim)
    proved = verify(proof, want, audience=AUDIENCE, claim=claim, now=datetime.now(UTC))
    assert proved.fields == ("toy_instance",) and not proved.signature_verified
    with pytest.raises(IdentityRefused, match="toy_instance 'toy-2'"):
        verify(identity_proof("toycloud:toy-2", audience=AUDIENCE, claim=claim), want, audience=AUDIENCE,
               claim=claim)
    with pytest.raises(IdentityRefused, match="kind 'local'"):  # another cloud's proof cannot stand for it
        verify(identity_proof("local:toy-1", audience=AUDIENCE, claim=claim), want, audience=AUDIENCE, claim=claim)
    with pytest.raises(ValueError, match="unknown SPOTWISE_IDENTITY 'nosuchcloud'; use aws, gcp, azure, local, "
                                         "toycloud"):
        identity_proof("nosuchcloud", audience=AUDIENCE, claim=claim)
