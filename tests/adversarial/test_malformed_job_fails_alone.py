"""A stored job that no longer validates fails alone: the reconcile pass goes on and places the other team's job.

The broken rows are written straight into the store (as an old row or a bug would leave them, bypassing the API),
at the head of the queue, beside a good job of another team.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.jobs.attempts import create_attempt
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import insert_submissions, job_by_id, submit_values
from orchestrator.store.db import make_session_factory, transaction
from orchestrator.store.types import utcnow
from providers.base import Offer
from tests.adversarial.containment_support import Tenants, shared_daemon

# field -> (broken stored value, words the job's reason must contain)
BROKEN: dict[str, tuple[Any, str]] = {
    "accelerators": ({"accelerators": "a100:-5"}, "GPU count must be at least 1"),
    "num_nodes": ({"num_nodes": "many"}, "node count"),
    "max_restarts": ("not a number", "max_restarts"),
    "resources": ("gpu please", "resources"),
}


@pytest.fixture(params=["sqlite", "postgres"])
def tenants(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tenants]:
    url = None if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))
    with shared_daemon(tmp_path / "home", url) as t:
        yield t


def _insert_broken(t: Tenants) -> dict[str, str]:
    """One team-b job per broken field, at priority 1000 (claimed before anything else): field -> job id."""
    rows, ids = [], {}
    for field, (value, _) in BROKEN.items():
        spec = JobSpec.model_validate({"name": f"broken-{field}", "team": "b", "priority": 1000, "run": "true"})
        values = submit_values(spec, utcnow())
        stored = values["spec"]
        if field in ("max_restarts", "resources"):
            stored[field] = value
        else:
            stored["resources"].update(value)
        rows.append(values)
        ids[field] = values["id"]
    engine = t.engine()
    try:
        with engine.begin() as conn:
            insert_submissions(conn, rows)
    finally:
        engine.dispose()
    return ids


def test_broken_stored_jobs_fail_alone_and_the_other_team_is_placed(tenants: Tenants) -> None:
    broken = _insert_broken(tenants)
    good = tenants.submit_ok("a", {"name": "good", "run": "echo fine"})

    job = tenants.wait_final("a", good, timeout=60)
    assert job["state"] == "SUCCEEDED", job

    for field, job_id in broken.items():
        failed = tenants.wait_final("b", job_id, timeout=30)
        assert failed["state"] == "FAILED", failed
        words = BROKEN[field][1]
        assert words in failed["reason"], (field, failed["reason"])
        assert any(e["to"] == "FAILED" and words in e["reason"] for e in tenants.events("b", job_id)), field
        assert "Traceback" not in failed["reason"]
    listed = tenants.call("b", "GET", "/v1/jobs")  # the broken rows do not break the owner's listing
    assert listed.status_code == 200 and len(listed.json()["items"]) == len(broken), listed.text[:300]


def test_every_form_of_accelerators_gets_the_same_checks(tenants: Tenants) -> None:
    """The dict form was stored as 'a100:-5' without the string form's checks; now both refuse alike, and a good
    dict form is stored exactly like its string form."""
    for bad in ({"model": "a100", "count": -5}, {"model": "a100", "count": 0}, {"model": "a 100", "count": 1},
                {"model": "a100", "count": True}, {"model": "a100", "count": 2, "extra": 1}, "a100:-5"):
        response = tenants.submit("b", {"name": "x", "run": "true", "resources": {"accelerators": bad}})
        assert response.status_code == 422, (bad, response.text)
        assert "accelerators" in response.json()["error"]["message"], response.text
    as_dict = tenants.submit("b", {"name": "x", "run": "true", "resources": {"accelerators": {"model": "t4",
                                                                                               "count": "1"}}})
    as_text = tenants.submit("b", {"name": "x", "run": "true", "resources": {"accelerators": "T4:1"}})
    assert as_dict.status_code == as_text.status_code == 201, (as_dict.text, as_text.text)
    assert as_dict.json()["accelerators"] == as_text.json()["accelerators"] == "T4:1"
    for job_id in (as_dict.json()["id"], as_text.json()["id"]):
        tenants.call("b", "POST", f"/v1/jobs/{job_id}/cancel")
    good = tenants.submit_ok("a", {"name": "good", "run": "echo fine"})
    assert tenants.wait_final("a", good)["state"] == "SUCCEEDED"


def _in_flight(t: Tenants, name: str, attempt_state: str, **stored: Any) -> str:
    """A team-b job already PROVISIONING/RUNNING (an attempt recorded) whose stored spec no longer validates."""
    spec = JobSpec.model_validate({"name": name, "team": "b", "run": "true"})
    values = submit_values(spec, utcnow())
    values["spec"].update(stored)
    engine = t.engine()
    try:
        with engine.begin() as conn:
            insert_submissions(conn, [values])
        with transaction(make_session_factory(engine)) as s:
            job = job_by_id(s, values["id"])
            offer = Offer(cloud="local", region="local", zone="local-a", instance_type="cpu", gpu_model="",
                          gpu_count=0, vcpus=1, memory_gb=1, spot=False, price_per_hour=0.0,
                          price_fetched_at=datetime.now(UTC))
            attempt = create_attempt(s, job, offer)
            job.state, job.attempts_count = ("RUNNING" if attempt_state == "RUNNING" else "PROVISIONING"), 1
            attempt.state = attempt_state
            if attempt_state == "RUNNING":  # its instance is gone: reconcile ends the attempt and decides a retry
                attempt.launched_at = attempt.started_at = attempt.last_heartbeat_at = utcnow()
    finally:
        engine.dispose()
    return str(values["id"])


def test_in_flight_jobs_whose_spec_no_longer_validates_fail_alone(tenants: Tenants) -> None:
    launching = _in_flight(tenants, "relaunch", "LAUNCHING", resources={"accelerators": "a100:-5"})
    running = _in_flight(tenants, "lost", "RUNNING", max_restarts="x")
    good = tenants.submit_ok("a", {"name": "good", "run": "echo fine"})

    assert tenants.wait_final("a", good, timeout=60)["state"] == "SUCCEEDED"
    job = tenants.wait_final("b", launching, timeout=30)
    assert job["state"] == "FAILED" and "GPU count must be at least 1" in job["reason"], job
    job = tenants.wait_final("b", running, timeout=30)
    assert job["state"] == "FAILED" and "max_restarts" in job["reason"], job
