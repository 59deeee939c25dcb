"""The offers view, the dry run and the launcher rank a job's offers alike, because one builder makes its request.

Through real code paths: the daemon's app over HTTP (TestClient) for `/v1/offers?for_job=`, `spotwise submit
--dry-run -o json` through the CLI against that app, and a real Reconciler pass on a real SQLite file with two fake
clouds whose every pool is out of capacity, so the launcher fails over down its ranking and its attempts, in order,
are that ranking. The last test keeps the request built in one place: no other daemon module constructs one.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from orchestrator.api import create_app
from orchestrator.catalog.pricing import refresh_due
from orchestrator.cli import app as cli_app
from orchestrator.client import Client
from orchestrator.config import Settings
from orchestrator.provisioning.reconcile import Reconciler
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt
from orchestrator.tokens import create_api_token
from tests.fakes.provider import FakeProvider, make_offer

TRIES = 5  # placement_max_launch_attempts: the launcher's ranking as far as one pass walks it
ROOT = Path(__file__).resolve().parents[2]


def _offers(cloud: str, prices: list[float]) -> list[Any]:
    """One T4 spot, T4 on-demand and L4 spot offer per region, each in a pool (and region) of its own, so a capacity
    block on one never hides another from the failover."""
    out = []
    for n, price in enumerate(prices):
        zone = f"{cloud}{n}-a"
        out += [make_offer(cloud, zone, price), make_offer(cloud, zone, price * 3.1, spot=False),
                make_offer(cloud, zone, price * 1.3, gpu="L4", instance_type="gpu.l4")]
    return out


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Runtime, TestClient]]:
    rt = build_runtime(Settings(home=tmp_path, providers={}, placement_max_launch_attempts=TRIES),
                       with_providers=False)
    providers = {"cheap": FakeProvider("cheap", _offers("cheap", [0.21, 0.35, 0.52])),
                 "dear": FakeProvider("dear", _offers("dear", [0.27, 0.44, 0.61]))}
    for provider in providers.values():  # every pool out of capacity: each launch fails over to the next offer
        provider.capacity.update({o.pool: 0 for o in provider.offers})
    rt.providers = providers  # type: ignore[assignment]
    refresh_due(rt, force=True)  # the offers stored, as the daemon's price loop stores them
    with transaction(rt.sessions) as s:
        _, token = create_api_token(s, role="admin", team=None, name="test")
    http = TestClient(create_app(rt), headers={"Authorization": f"Bearer {token}"})
    monkeypatch.setattr(Client, "from_settings", staticmethod(
        lambda _settings, **_: Client("http://testserver", token, transport=http)))
    yield rt, http
    rt.close()


def _key(offer: dict[str, Any]) -> tuple[str, str, str, bool]:
    return offer["cloud"], offer["zone"], offer["instance_type"], offer["spot"]


def _dry_run(rt: Runtime, spec: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    path = Path(rt.settings.home) / "job.json"  # JSON is YAML: the CLI reads it as a spec file
    path.write_text(json.dumps(spec))
    out = CliRunner().invoke(cli_app, ["submit", str(path), "--dry-run", "-o", "json"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()  # the daemon's in-process log lines come first in this runner
    body = "\n".join(lines[next(n for n, line in enumerate(lines) if line.startswith("{")):])
    return [_key(o) for o in json.loads(body)["offers"]]


SPECS = {
    "spot": {"accelerators": "T4:1", "spot": True},
    "on-demand": {"accelerators": "T4:1", "spot": False},
    "spot auto, before its fallback": {"accelerators": "T4:1", "spot": "auto"},
    "candidates under a price cap": {"accelerators": "T4:1", "accelerator_candidates": ["L4:1"], "spot": True,
                                     "max_price_per_hour": 0.5},
}


@pytest.mark.parametrize("resources", SPECS.values(), ids=list(SPECS))
def test_offers_for_the_job_the_dry_run_and_the_launcher_rank_alike(daemon: tuple[Runtime, TestClient],
                                                                     resources: dict[str, Any]) -> None:
    rt, http = daemon
    spec = {"name": "train", "run": "python train.py", "estimated_runtime": "4h", "resources": resources}
    dry = _dry_run(rt, spec)
    answer = http.post("/v1/jobs", json=spec)
    assert answer.status_code == 201, answer.text
    job_id = answer.json()["id"]
    view = http.get("/v1/offers", params={"for_job": job_id, "limit": 50})
    assert view.status_code == 200, view.text
    viewed = [_key(o) for o in view.json()["items"]]

    Reconciler(rt).run_once()  # one pass: every launch refused for capacity, so it walks its ranking
    with transaction(rt.sessions) as s:
        attempts = s.scalars(select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.number)).all()
        launched = [(a.provider, a.zone, a.offer["instance_type"], a.offer["spot"]) for a in attempts]

    assert len(launched) == min(TRIES, len(viewed)) and len(launched) >= 3  # the comparison has something to compare
    assert viewed[:len(launched)] == launched
    assert dry == launched[:len(dry)] and len(dry) == 3
    if resources.get("spot") == "auto":  # spot first until spot_auto_fallback_seconds, in the view as in a pass
        assert all(k[3] for k in viewed) and all(k[3] for k in launched)
    if resources.get("max_price_per_hour"):  # the cap filtered in all three (L4 offers are among the ranked)
        assert any(k[2] == "gpu.l4" for k in launched)
        assert all(o["price_per_hour"] <= 0.5 for o in view.json()["items"])


def test_only_the_builder_constructs_a_placement_request() -> None:
    """Every daemon module asks `orchestrator.provisioning.placement_request` for a request; a second construction
    would let the offers view and the launcher drift apart again."""
    builders = []
    for path in sorted((ROOT / "orchestrator").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "PlacementRequest":
                builders.append(str(path.relative_to(ROOT)))
    assert sorted(set(builders)) == ["orchestrator/provisioning/placement_request.py"]


def test_the_policy_files_price_cap_filters_the_view_as_it_filters_the_launcher(
        daemon: tuple[Runtime, TestClient]) -> None:
    rt, http = daemon
    applied = http.post("/v1/policies", json={"text": "caps:\n  - {scope: global, max_price_per_hour: 0.4}\n"})
    assert applied.status_code == 200, applied.text
    spec = {"name": "capped", "run": "python train.py", "estimated_runtime": "4h",
            "resources": {"accelerators": "T4:1", "spot": True}}
    answer = http.post("/v1/jobs", json=spec)
    assert answer.status_code == 201, answer.text
    view = http.get("/v1/offers", params={"for_job": answer.json()["id"], "limit": 50})
    assert view.status_code == 200, view.text
    prices = [o["price_per_hour"] for o in view.json()["items"]]
    assert prices and max(prices) <= 0.4  # the 0.44, 0.52 and 0.61 spot offers are over the policy's cap

    Reconciler(rt).run_once()
    with transaction(rt.sessions) as s:
        attempts = s.scalars(select(Attempt).where(Attempt.job_id == answer.json()["id"])).all()
        assert attempts and all(a.offer["price_per_hour"] <= 0.4 for a in attempts)
        assert len(attempts) == len(prices)  # the launcher tried exactly the offers the view showed
