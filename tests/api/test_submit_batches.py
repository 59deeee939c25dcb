"""The submit hot path (group commit, Core INSERTs) stores exactly what submit() stores, commits several
concurrent submissions in one transaction, keeps each submission's own errors to itself, and never acknowledges a
job that a SIGKILL then loses."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from orchestrator.api import create_app, submitbatch
from orchestrator.api.submitbatch import SubmitBatcher
from orchestrator.api.workdirs import check_submission
from orchestrator.cli.demo import free_port, start_daemon, wait_healthy
from orchestrator.config import Settings
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit, submit_values
from orchestrator.provisioning.feasibility import NO_OFFERS_NOTE
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Job, JobEvent
from orchestrator.store.types import utcnow
from orchestrator.tokens import create_api_token

SPEC = {"name": "b", "run": "true", "resources": {"accelerators": "A100:1"}, "deadline": "2h", "labels": {"x": "y"}}


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path / "home", providers={}, database_url=db_url))
    yield runtime
    runtime.close()


def _token(rt: Runtime, role: str = "team", team: str | None = "a") -> dict[str, str]:
    with transaction(rt.sessions) as s:
        _, token = create_api_token(s, role=role, team=team)
    return {"Authorization": f"Bearer {token}"}


def _row(rt: Runtime, job_id: str) -> dict[str, Any]:
    with transaction(rt.sessions) as s:
        job = s.scalar(select(Job).where(Job.id == job_id))
        assert job is not None
        return {c: getattr(job, c) for c in Job.__table__.columns.keys()}  # noqa: SIM118 - a ColumnCollection


def _events(rt: Runtime, job_id: str) -> list[tuple[str, str | None, str | None, str]]:
    with transaction(rt.sessions) as s:
        return [(e.kind, e.from_state, e.to_state, e.reason)
                for e in s.scalars(select(JobEvent).where(JobEvent.job_id == job_id))]


def test_the_api_stores_what_submit_stores(rt: Runtime) -> None:
    """Column for column (ids, sequence and times aside) the hot path's row and event equal the ORM submit()'s, and
    the 201 body is the job as `jobs show` reads it back."""
    with transaction(rt.sessions) as s:
        # the API records who submitted (a team token here): the same spec through submit() says so too
        reference = submit(s, JobSpec.model_validate({**SPEC, "team": "a", "submitted_by": "team"})).id
    with TestClient(create_app(rt)) as api:
        r = api.post("/v1/jobs", json=SPEC, headers=_token(rt))
        assert r.status_code == 201, r.text
        created = r.json()
        shown = api.get(f"/v1/jobs/{created['id']}", headers=_token(rt, "admin", None)).json()
    assert created.pop("note") == NO_OFFERS_NOTE  # no provider here: accepted unchecked, and told so
    assert {k: shown[k] for k in created} == created
    ours, theirs = _row(rt, created["id"]), _row(rt, reference)
    for key in ("seq", "id", "submitted_at", "updated_at", "deadline_at"):
        ours.pop(key), theirs.pop(key)
    assert ours == theirs
    assert _events(rt, reference) == [("transition", None, "PENDING", "submitted")]
    assert _events(rt, created["id"]) == [("transition", None, "PENDING", f"submitted; {NO_OFFERS_NOTE}")]


def test_concurrent_submissions_share_commits_and_keep_their_own_errors(rt: Runtime,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Sixteen clients at once: fewer commits than submissions (group commit), every 201 is stored with its one
    event, and the submissions naming a secret that is not set get their own 422 without failing the others.
    PostgreSQL writes two batches at once here (not 8), so sixteen clients always leave some to share one."""
    monkeypatch.setattr(submitbatch, "PG_WRITERS", 2)
    headers = _token(rt)
    commits = [0]

    def count(_conn: Any) -> None:
        commits[0] += 1

    event.listen(rt.engine, "commit", count)

    def post(i: int) -> httpx.Response:
        body = {**SPEC, "name": f"c{i}"} if i % 5 else {**SPEC, "name": f"c{i}", "secrets": ["NOT_SET"]}
        return api.post("/v1/jobs", json=body, headers=headers)

    with TestClient(create_app(rt)) as api, ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(post, range(160)))
    event.remove(rt.engine, "commit", count)
    ok = [r.json()["id"] for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert len(ok) == 128 and len(refused) == 32
    assert {r.status_code for r in refused} == {422}
    assert all("NOT_SET" in r.json()["error"]["message"] for r in refused)
    with transaction(rt.sessions) as s:
        stored = set(s.scalars(select(Job.id)))
        events = s.scalar(select(func.count()).select_from(JobEvent).where(JobEvent.reason.startswith("submitted")))
    assert stored == set(ok) and events == 128
    assert commits[0] < 128, f"{commits[0]} commits for 128 submissions: nothing was committed together"


def test_a_batch_whose_transaction_fails_is_retried_one_by_one(rt: Runtime) -> None:
    """A row the database refuses (here: a job id that already exists) fails its own submission only."""
    with transaction(rt.sessions) as s:
        taken = submit(s, JobSpec(name="old", run="true")).id
    spec = JobSpec(name="new", run="true")
    now = utcnow()
    values = [submit_values(spec, now) for _ in range(5)]
    values[2]["id"] = taken

    async def together() -> list[BaseException | None]:
        batcher = SubmitBatcher(rt, check_submission)
        return await asyncio.gather(*[batcher.submit(spec, v) for v in values], return_exceptions=True)

    outcomes = asyncio.run(together())
    assert [o is None for o in outcomes] == [True, True, False, True, True]
    assert isinstance(outcomes[2], IntegrityError)
    with transaction(rt.sessions) as s:
        names = sorted(s.scalars(select(Job.name)))
    assert names == ["new"] * 4 + ["old"]


def test_no_acknowledged_submission_is_lost_to_sigkill(tmp_path: Path) -> None:
    """A real daemon under eight concurrent clients is killed with SIGKILL mid-stream: every job it answered 201
    for is in the database, with its event (the batch commits before any of its responses is sent)."""
    home = tmp_path / "d"
    home.mkdir()
    admin = "kill-admin-token"
    (home / "config.yaml").write_text(yaml.safe_dump({"admin_token": admin, "providers": {}, "log_level": "warning"}))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_daemon(home, port)
    acknowledged: list[str] = []
    lock = threading.Lock()
    try:
        wait_healthy(url, proc, timeout=60)

        def client(i: int) -> None:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=10) as c:
                for n in range(400):
                    try:
                        r = c.post("/v1/jobs", json={**SPEC, "name": f"k{i}-{n}"})
                    except httpx.HTTPError:
                        return  # the daemon is gone
                    if r.status_code == 201:
                        with lock:
                            acknowledged.append(r.json()["id"])

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for t in threads:
            t.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(acknowledged) >= 150
    db = sqlite3.connect(home / "spotwise.db")
    stored = {row[0] for row in db.execute("SELECT id FROM jobs")}
    with_event = {row[0] for row in db.execute("SELECT job_id FROM job_events WHERE reason LIKE 'submitted%'")}
    db.close()
    lost = set(acknowledged) - stored
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged submissions lost"
    assert set(acknowledged) <= with_event
