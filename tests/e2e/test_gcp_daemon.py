"""The GCP provider, end to end: the real daemon configured for GCP against the fake Compute Engine.

The daemon is a real `spotwise serve` subprocess configured through SPOTWISE_PROVIDERS, with the real
google-cloud-compute and billing clients pointed at the fake (credentials "anonymous"; the fake
serves the Billing Catalog too, so prices are live from the daemon's point of view).

No agent runs on a fake VM, so the test STANDS IN FOR THE AGENT: it reads the bootstrap token from the
instance's startup-script metadata (which holds no token the agent API accepts), trades it with the agent's
own exchange code and an identity token from a fake metadata server naming the instance, and posts a
heartbeat with the agent token it got. That heartbeat is what moves the job to RUNNING, exactly as the real
agent's first heartbeat would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from providers.gcp.labels import label_value
from tests.agent.fake_metadata import fake_metadata_server
from tests.e2e.clouds import (
    attempt_facts,
    cloud_daemon,
    exchange_as_agent,
    gcp_config,
    heartbeat_as_agent,
    launched_attempt,
    metadata_grants_nothing,
    submit,
    wait_until,
)
from tests.e2e.conftest import Daemon, write
from tests.providers.gcp import conftest as gcp_fixtures
from tests.providers.gcp.fake_billing import REGION_FACTOR
from tests.providers.gcp.fake_gce import FakeGCE, FakeGCEServer

# The session's fake Compute Engine server and its per-test reset, shared with tests/providers/gcp.
gce_server = gcp_fixtures.gce_server
gce = gcp_fixtures.gce

MACHINE = "a2-highgpu-1g"  # the only A100 (40 GB) shape the fake offers, in two regions


@pytest.fixture
def gcp_daemon(gce_server: FakeGCEServer, gce: FakeGCE, tmp_path: Path) -> Iterator[Daemon]:
    with cloud_daemon(tmp_path, {"gcp": gcp_config(gce_server.url, gce.project)}) as daemon:
        yield daemon


def cheapest_zone(fake: FakeGCE, machine: str) -> str:
    """The fake prices a region by its factor (same SKUs everywhere): the cheapest zone selling `machine`."""
    zones = [z for z, (types, _) in fake.zone_catalog.items() if machine in {t["name"] for t in types}]
    ranked = sorted(zones, key=lambda z: REGION_FACTOR[z.rsplit("-", 1)[0]])
    assert len(ranked) > 1 and REGION_FACTOR[ranked[0].rsplit("-", 1)[0]] < REGION_FACTOR[ranked[1].rsplit("-", 1)[0]]
    return ranked[0]


def metadata(instance: dict[str, Any]) -> dict[str, str]:
    return {item["key"]: item["value"] for item in instance.get("metadata", {}).get("items", [])}


def test_spot_job_runs_in_cheapest_zone_and_cancel_deletes_it(
    gcp_daemon: Daemon, gce: FakeGCE, tmp_path: Path
) -> None:
    spec = write(tmp_path / "job.yaml", "name: gcp-e2e\nrun: python train.py\n"
                 "resources: {accelerators: 'A100:1', spot: true, clouds: [gcp]}\n")
    job_id = submit(gcp_daemon, spec)
    attempt, row = launched_attempt(gcp_daemon, job_id)

    zone = cheapest_zone(gce, MACHINE)
    assert (attempt["provider"], attempt["zone"], attempt["instance_type"]) == ("gcp", zone, MACHINE)
    assert attempt["spot"] is True
    offers = json.loads(gcp_daemon.cli("offers", "--cloud", "gcp", "--gpu", "A100:1", "--spot", "-o", "json",
                                       check=True).stdout)
    assert offers and {o["cloud"] for o in offers} == {"gcp"} and offers[0]["source"] == "live"
    assert (offers[0]["zone"], offers[0]["instance_type"]) == (zone, MACHINE)
    assert offers[0]["price_per_hour"] == attempt["price_per_hour"] > 0
    l4 = json.loads(gcp_daemon.cli("offers", "--cloud", "gcp", "--gpu", "L4", "-o", "json", check=True).stdout)
    assert l4 and {o["gpu_model"] for o in l4} == {"L4"} and {o["spot"] for o in l4} == {True, False}
    assert all(o["price_per_hour"] > 0 and o["instance_type"].startswith("g2-") for o in l4)

    with gce.lock:
        [((inst_zone, name), instance)] = list(gce.instances.items())
    assert inst_zone == zone and instance["machineType"].endswith(f"/{MACHINE}")
    scheduling = instance["scheduling"]
    assert scheduling["provisioningModel"] == "SPOT" and scheduling["instanceTerminationAction"] == "DELETE"
    labels = instance["labels"]
    assert labels["spotwise-job"] == label_value(job_id)
    assert labels["spotwise-attempt"] == label_value(attempt["id"])
    assert labels["spotwise-cluster"] == label_value(gcp_daemon.cluster_id())
    assert name in row["id"]

    script = metadata(instance)["startup-script"]
    metadata_grants_nothing(gcp_daemon, attempt["id"], script)
    with fake_metadata_server() as (imds, state):  # the VM's metadata server: its identity token names it
        state.set_identity("gcp", instance["id"], zone=zone, account=gce.project)
        token = exchange_as_agent(gcp_daemon, script, f"gcp:{imds}")
    assert token == attempt_facts(gcp_daemon, attempt["id"]).agent_token
    assert heartbeat_as_agent(gcp_daemon, attempt["id"], token) == {"action": "continue"}
    running = gcp_daemon.wait_for(job_id, {"RUNNING"}, timeout=10)
    assert running["attempt_list"][0]["state"] == "RUNNING"

    assert "CANCELLED" in gcp_daemon.cli("jobs", "cancel", job_id, check=True).stdout

    def deleted() -> bool:
        with gce.lock:
            return not gce.instances

    wait_until(deleted, "the instance to be deleted")
    assert gcp_daemon.api("GET", "/v1/instances")["items"] == []
    [item] = json.loads(gcp_daemon.cli("providers", "check", "-o", "json", check=True).stdout)["items"]
    assert item["name"] == "gcp" and item["ok"] is True
