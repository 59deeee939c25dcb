"""What `spotwise serve` runs at start: the providers' configuration checks at once (a failing row is a warning
with its fix), then the checks that ask the cloud in a background thread, logged the same way. Against the fake
Compute Engine, through a real runtime built from settings as the daemon builds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from orchestrator.config import Settings
from orchestrator.provisioning.preflight import preflight_at_start
from orchestrator.runtime import build_runtime
from tests.providers.gcp.conftest import gce, gce_server  # noqa: F401 - the fake GCE's fixtures
from tests.providers.gcp.fake_gce import FakeGCE, FakeGCEServer


def _gcp(server: FakeGCEServer, fake: FakeGCE, **overrides: Any) -> dict[str, Any]:
    return {"project": fake.project, "credentials": "anonymous", "endpoint": server.url,
            "billing_endpoint": server.url, "request_timeout_s": 10.0, **overrides}


def test_config_rows_are_logged_at_once_and_cloud_rows_from_the_background(
    tmp_path: Path, gce_server: FakeGCEServer, gce: FakeGCE  # noqa: F811
) -> None:
    gce.quotas["us-central1"] = {"NVIDIA_L4_GPUS": (8.0, 8.0)}  # every L4 of the region in use
    settings = Settings(home=tmp_path, providers={"gcp": _gcp(
        gce_server, gce, regions=["us-central1", "europe-west4"], subnetwork={"us-central1": "default"})})
    rt = build_runtime(settings)
    try:
        with capture_logs() as logs:
            thread = preflight_at_start(rt)
            config = [e for e in logs if e.get("phase") == "config" and e["event"] == "preflight_failed"]
            assert [(e["check"], e["region"]) for e in config] == [("subnetwork", "europe-west4")]
            assert thread is not None
            thread.join(timeout=120)
            assert not thread.is_alive()
        cloud = [e for e in logs if e.get("phase") == "cloud" and e["event"] == "preflight_failed"]
        assert {(e["check"], e["region"]) for e in cloud} == {("subnetwork", "europe-west4"),
                                                              ("quota L4", "us-central1")}
        assert all(e["log_level"] == "warning" and e["fix"] for e in cloud)
        assert gce.requests["instances.insert"] == 0
    finally:
        rt.close()


def test_it_can_be_turned_off(tmp_path: Path, gce_server: FakeGCEServer, gce: FakeGCE) -> None:  # noqa: F811
    rt = build_runtime(Settings(home=tmp_path, preflight_at_start=False, providers={"gcp": _gcp(gce_server, gce)}))
    try:
        before = sum(gce.requests.values())
        with capture_logs() as logs:
            assert preflight_at_start(rt) is None
        assert not logs and sum(gce.requests.values()) == before
    finally:
        rt.close()
