"""Each cloud's provider, end to end and alone: the real daemon configured for that one cloud, the real CLI,
the cloud's stand-in over HTTP (AWS: moto behind tests/fakes/moto_relay.py, which injects the spot price feed
moto does not model; GCP: the fake Compute Engine and Billing Catalog with "anonymous" credentials; Azure: the
fake ARM server, whose managed identity DefaultAzureCredential picks up, as on App Service).

One scenario, parametrised over the clouds (what differs per cloud lives in tests/e2e/one_cloud.py): a spot
GPU job lands on the cheapest live pool, as `spotwise offers` lists it too; its VM carries the job, attempt and
cluster tags; the agent's first heartbeat (the test stands in for the agent, with the token the VM would end up
holding; on GCP through the real bootstrap exchange) moves it to RUNNING; cancelling deletes everything the
launch made and tells a still-alive agent to stop; `providers list/check/setup` report the cloud. The
three-cloud scenario (preemption, exchange on every cloud, leftovers by resource type) is
tests/e2e/test_three_clouds.py; Azure's own leftover story stays in test_azure_daemon.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import one_cloud
from tests.e2e.clouds import (
    AWS_ENV,
    aws_config,
    cloud_daemon,
    gcp_config,
    heartbeat_as_agent,
    launched_attempt,
    submit,
    wait_until,
)
from tests.e2e.conftest import Daemon, write
from tests.fakes.moto_relay import MotoFront
from tests.providers.aws import conftest as aws_fixtures
from tests.providers.aws.conftest import AMI, REGION
from tests.providers.azure import conftest as azure_fixtures
from tests.providers.gcp import conftest as gcp_fixtures

# The session's stand-ins and their per-test resets, shared with tests/providers/*.
moto_endpoint, endpoint = aws_fixtures.moto_endpoint, aws_fixtures.endpoint
gce_server, gce = gcp_fixtures.gce_server, gcp_fixtures.gce
fake_arm, arm = azure_fixtures.fake_arm, azure_fixtures.arm

CLOUDS = ("aws", "gcp", "azure")


@pytest.fixture(params=CLOUDS)
def cloud(request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[one_cloud.OneCloud, Daemon]]:
    """The cloud and a daemon configured for it alone; only that cloud's stand-in is started."""
    name = request.param
    if name == "aws":
        moto = request.getfixturevalue("endpoint")
        front = MotoFront(moto).start()
        try:
            with cloud_daemon(tmp_path, {"aws": aws_config(front.url, REGION, AMI)}, AWS_ENV) as daemon:
                yield one_cloud.aws(front, moto), daemon
        finally:
            front.stop()
    elif name == "gcp":
        server, fake = request.getfixturevalue("gce_server"), request.getfixturevalue("gce")
        with cloud_daemon(tmp_path, {"gcp": gcp_config(server.url, fake.project)}) as daemon:
            yield one_cloud.gcp(fake), daemon
    else:
        fake = request.getfixturevalue("arm")
        with one_cloud.azure_daemon(tmp_path, fake, monkeypatch) as daemon:
            yield one_cloud.azure(fake), daemon


def test_spot_job_lands_on_the_cheapest_pool_runs_and_cancel_deletes_everything(
    cloud: tuple[one_cloud.OneCloud, Daemon], tmp_path: Path
) -> None:
    c, daemon = cloud
    spec = write(tmp_path / "job.yaml", f"name: {c.name}-e2e\nrun: python train.py\nresources: {c.resources}\n")
    job_id = submit(daemon, spec)
    attempt, row = launched_attempt(daemon, job_id)

    place, instance_type, price = c.cheapest
    assert (attempt["provider"], attempt[c.place_key], attempt["instance_type"]) == (c.name, place, instance_type)
    assert attempt["spot"] is True
    if price is not None:
        assert attempt["price_per_hour"] == pytest.approx(price)
    offers = json.loads(daemon.cli("offers", "--cloud", c.name, "--gpu", c.gpu, "--spot", "-o", "json",
                                   check=True).stdout)
    assert offers and {o["cloud"] for o in offers} == {c.name} and offers[0]["source"] == "live"
    assert (offers[0][c.place_key], offers[0]["instance_type"]) == (place, instance_type)
    if price is not None:
        assert offers[0]["price_per_hour"] == pytest.approx(price)
    gone = c.check_launch(daemon, job_id, attempt, row, offers)
    tags = c.tags(job_id)
    assert tags["spotwise-job"] == c.tag(job_id) and tags["spotwise-attempt"] == c.tag(attempt["id"])
    assert tags["spotwise-cluster"] == c.tag(daemon.cluster_id())

    token = c.agent_token(daemon, attempt, row)
    assert heartbeat_as_agent(daemon, attempt["id"], token) == {"action": "continue"}
    running = daemon.wait_for(job_id, {"RUNNING"}, timeout=10)
    assert running["attempt_list"][0]["state"] == "RUNNING"

    assert "CANCELLED" in daemon.cli("jobs", "cancel", job_id, check=True).stdout
    wait_until(gone, f"the {c.name} VM and everything its launch made to be deleted")
    assert daemon.api("GET", f"/v1/jobs/{job_id}")["state"] == "CANCELLED"
    wait_until(lambda: daemon.api("GET", f"/v1/jobs/{job_id}")["attempt_list"][0]["state"] == "CANCELLED",
               "the attempt to end")
    assert daemon.api("GET", "/v1/instances")["items"] == []
    stop = heartbeat_as_agent(daemon, attempt["id"], token)
    assert stop["action"] == "stop"  # an agent still alive would now be told to stop

    # the provider as the operator's CLI reports it (on the same daemon: no extra start per cloud)
    listed = json.loads(daemon.cli("providers", "list", "-o", "json", check=True).stdout)["items"]
    assert [p["name"] for p in listed] == [c.name]
    checked = daemon.cli("providers", "check", check=True)
    assert c.name in checked.stdout and "ok" in checked.stdout
    [item] = json.loads(daemon.cli("providers", "check", "-o", "json", check=True).stdout)["items"]
    assert item["name"] == c.name and item["ok"] is True
    c.check_provider(daemon, item)
    other = next(n for n in CLOUDS if n != c.name)
    unknown = daemon.cli("providers", "setup", other)
    assert unknown.returncode == 1 and "not configured" in unknown.stderr and "Traceback" not in unknown.stderr
