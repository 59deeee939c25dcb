"""A team cannot starve another team's jobs through the queue: 1,000 unplaceable jobs at the top priority do not
keep another team's feasible job from being placed within a few passes, and a policy caps a team's priority.

Through the real reconcile pass (Reconciler.run_once on a real SQLite file and the real PostgreSQL, a scriptable
fake cloud) and through a real `spotwise serve` with two team tokens on the local provider.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from orchestrator.config import Settings
from orchestrator.jobs import fair_queue
from orchestrator.jobs.fair_queue import Claimed, next_look_delay, placement_order
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import claim_runnable, insert_submissions, job_by_id, submit, submit_values
from orchestrator.provisioning.launcher import CLAIM_BATCH
from orchestrator.provisioning.reconcile import Reconciler
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.spending.policyfile import PolicyError, parse_policy
from orchestrator.spending.priority_caps import clamp_queued, over_cap, priority_cap
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, Job, JobEvent
from orchestrator.store.types import utcnow
from tests.e2e.conftest import Daemon, running_daemon
from tests.e2e.wheel import agent_wheel_env
from tests.fakes.provider import FakeProvider, make_offer

HOG = {"name": "hog", "priority": 1000, "run": "true",
       "resources": {"accelerators": "H100:8", "max_price_per_hour": 0.01}}
# Feasible at submit (the local provider offers H100:8) but never placeable: every H100 pool has no room, so
# each launch meets a capacity error and the pools stay blocked, as a cloud short of H100s would do.
FULL_HOG = {"name": "hog", "priority": 1000, "run": "true", "resources": {"accelerators": "H100:8"}}
NO_H100_ROOM = {"local": {"job_user": "daemon",  # about the queue, not isolation: team jobs run as the daemon's user
                          "pool_capacity": {f"{zone}:p5.48xlarge": 0
                                            for zone in ("local-east-a", "local-east-b", "local-west-a")}}}
FEASIBLE = {"name": "fair", "run": "true", "resources": {"accelerators": "L4:1"}}


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    wheel = agent_wheel_env(tmp_path).get("SPOTWISE_AGENT_WHEEL", "")  # not built inside the first launch
    runtime = build_runtime(Settings(home=tmp_path, database_url=db_url, providers={}, agent_wheel=wheel),
                            with_providers=False)
    cloud = FakeProvider("fake", [make_offer("fake", "f1-a", 0.40, gpu="L4"),
                                  make_offer("fake", "f1-a", 40.0, gpu="H100", count=8, instance_type="gpu.huge")])
    runtime.providers = {"fake": cloud}  # type: ignore[dict-item]
    yield runtime
    runtime.close()


def _queue_hogs(rt: Runtime, n: int) -> None:
    now = utcnow()
    spec = JobSpec.model_validate({**HOG, "team": "b"})
    with rt.engine.begin() as conn:
        insert_submissions(conn, [submit_values(spec, now) for _ in range(n)])


def test_a_feasible_job_is_placed_in_the_first_pass_behind_1000_unplaceable_ones(rt: Runtime) -> None:
    _queue_hogs(rt, 1000)
    with transaction(rt.sessions) as s:
        fair = submit(s, JobSpec.model_validate({**FEASIBLE, "team": "a"})).id
    passes = 0
    while passes < 3:
        passes += 1
        Reconciler(rt).run_once()
        with transaction(rt.sessions) as s:
            if job_by_id(s, fair).state == "PROVISIONING":
                break
    with transaction(rt.sessions) as s:
        state = job_by_id(s, fair).state
        attempts = s.scalars(select(Attempt.instance_type).where(Attempt.job_id == fair)).all()
        hog_attempts = s.scalar(select(func.count()).select_from(Attempt).where(Attempt.job_id != fair))
        looked_at = s.scalar(select(func.count()).select_from(Job).where(Job.team == "b",
                                                                         Job.state == "WAITING_CAPACITY"))
    assert state == "PROVISIONING" and list(attempts) == ["gpu.small"], (state, passes)
    assert passes == 1
    assert hog_attempts == 0  # nothing at $0.01/h fits an H100:8: no hog was ever launched
    assert 0 < (looked_at or 0) <= CLAIM_BATCH * passes  # a pass looks at a bounded batch, not the whole queue


def test_unplaceable_jobs_do_not_hold_the_head_of_their_own_team(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Team b's own feasible job, submitted after its 1,000 hogs at a lower priority, is reached once the hogs
    were looked at and are waiting out their backoff: each miss sends a hog behind the jobs waiting meanwhile."""
    # a first look-again delay longer than four passes take on a loaded machine (5 s by default), so no hog's
    # backoff ends during the test and the order under test is the only order possible
    monkeypatch.setattr(fair_queue, "LOOK_DELAY_BASE_S", 600.0)
    _queue_hogs(rt, 60)
    with transaction(rt.sessions) as s:
        own = submit(s, JobSpec.model_validate({**FEASIBLE, "team": "b"})).id
    for _ in range(4):  # 60 hogs / 20 a pass: every hog looked at once, then its own job's turn
        Reconciler(rt).run_once()
    with transaction(rt.sessions) as s:
        assert job_by_id(s, own).state == "PROVISIONING"
        waits = s.scalars(select(Job.not_before).where(Job.team == "b", Job.id != own)).all()
    assert all(w is not None and w > utcnow() for w in waits)


def test_a_second_replica_skips_the_locked_turns_and_takes_the_next_ones(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL, two replicas claiming at once: the ranking is shared, the locked rows are skipped, and the
    second replica gets each team's next turn rather than nothing."""
    runtime = build_runtime(Settings(home=tmp_path, database_url=postgres_url, providers={}), with_providers=False)
    try:
        with transaction(runtime.sessions) as s:
            ids = {(team, n): submit(s, JobSpec.model_validate({**FEASIBLE, "team": team, "name": f"{team}{n}"})).id
                   for n in range(3) for team in ("a", "b")}
        first, second = runtime.sessions(), runtime.sessions()
        try:
            held = [j.id for j in claim_runnable(first, 2)]
            taken = [j.id for j in claim_runnable(second, 2)]
        finally:
            first.rollback()
            second.rollback()
            first.close()
            second.close()
    finally:
        runtime.close()
    assert sorted(held) == sorted([ids[("a", 0)], ids[("b", 0)]])
    assert sorted(taken) == sorted([ids[("a", 1)], ids[("b", 1)]])


def _claimed(team: str, priority: int, rank: int, seq: int) -> Claimed:
    job = Job(id=f"{team}{seq}", team=team, priority=priority, seq=seq,
              submitted_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seq), not_before=None)
    return Claimed(job, rank)


def test_placement_order_is_priority_then_round_robin_with_the_less_placed_team_first() -> None:
    from collections import Counter

    claimed = [_claimed("b", 5, 1, 1), _claimed("b", 5, 2, 2), _claimed("b", 5, 3, 3),
               _claimed("a", 5, 1, 4), _claimed("a", 0, 2, 5), _claimed("c", 9, 1, 6)]
    order = [j.id for j in placement_order(claimed, Counter({"b": 3}))]
    # priority 9 first; at 5: a (nothing placed) before b, then b's next turns; priority 0 last
    assert order == ["c6", "a4", "b1", "b2", "b3", "a5"]


def test_a_job_that_keeps_missing_is_looked_at_less_often() -> None:
    assert next_look_delay(5.0, 0.0) == 5.0  # a fresh miss: the base, as before
    assert next_look_delay(5.0, 100.0) == 25.0  # a quarter of the time already waited
    assert next_look_delay(5.0, 36_000.0) == 60.0  # at most a minute, so capacity that appears is seen
    assert next_look_delay(160.0, 10.0) == 160.0  # a launch-failure streak's longer backoff still applies


# -- through a real daemon -------------------------------------------------------------------------------------


def _token(d: Daemon, team: str) -> str:
    return str(d.api("POST", "/v1/tokens", json={"team": team})["token"])


def _post(d: Daemon, token: str, body: dict[str, Any]) -> httpx.Response:
    for _ in range(50):
        r = httpx.post(d.url + "/v1/jobs", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        if r.status_code != 429:
            return r
        time.sleep(0.2)
    return r


@pytest.fixture
def daemon_on(db_url: str, tmp_path: Path) -> Iterator[Daemon]:
    home = tmp_path / "home"
    home.mkdir()
    if not db_url.startswith("sqlite"):
        (home / "config.yaml").write_text(f"database_url: {json.dumps(db_url)}\n")
    with running_daemon(home, {**agent_wheel_env(home), "SPOTWISE_RECONCILE_INTERVAL_SECONDS": "1",
                               "SPOTWISE_PROVIDERS": json.dumps(NO_H100_ROOM)}) as d:
        yield d


# The 1,000 submissions over HTTP are the cost (20-25 s a database, mostly CPU). Fairness itself lives in the queue's
# SQL, which the in-process tests above check on both databases; the daemon-level story runs in `make test` on
# PostgreSQL (the replicated deployments' database) and on SQLite as well under --run-slow.
@pytest.mark.parametrize("db_url", [pytest.param("sqlite", marks=pytest.mark.slow), "postgres"], indirect=True)
def test_daemon_places_team_a_job_while_team_b_queues_1000_unplaceable_jobs(daemon_on: Daemon) -> None:
    d = daemon_on
    ta, tb = _token(d, "a"), _token(d, "b")
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: _post(d, tb, FULL_HOG).status_code, range(1000)))
    assert codes == [201] * 1000
    time.sleep(2.0)  # let the hogs take the head of the queue, as they would in production
    submitted = time.monotonic()
    fair = _post(d, ta, FEASIBLE)
    assert fair.status_code == 201, fair.text
    job = d.wait_for(fair.json()["id"], {"RUNNING", "SUCCEEDED", "FAILED"}, timeout=30)
    placed_after = time.monotonic() - submitted
    assert job["state"] != "FAILED", job
    assert placed_after < 15, f"team a's job waited {placed_after:.1f}s behind team b's hogs"  # interval: 1 s

    # the admin caps team b's priority: queued hogs are lowered, a new one above the cap is refused by name
    applied = d.api("POST", "/v1/policies", json={"text": "caps:\n  - scope: team:b\n    max_priority: 10\n"})
    assert applied["priorities_lowered"] == 1000
    hogs = httpx.get(d.url + "/v1/jobs", params={"limit": 500}, headers={"Authorization": f"Bearer {tb}"},
                     timeout=30).json()["items"]
    assert {h["priority"] for h in hogs} == {10}
    refused = _post(d, tb, {**FULL_HOG, "priority": 11})
    assert refused.status_code == 422
    assert "max_priority cap of 10 for team:b" in refused.json()["error"]["message"], refused.text
    assert _post(d, tb, {**FULL_HOG, "priority": 10}).status_code == 201
    assert _post(d, ta, {**FEASIBLE, "priority": 1000}).status_code == 201  # the cap is team b's only


def test_the_strictest_matching_priority_cap_wins_and_a_bad_one_is_refused_by_line() -> None:
    policy = parse_policy("caps:\n  - {scope: global, max_priority: 50}\n  - {scope: 'label:tier=batch', "
                          "max_priority: 5}\n  - {scope: 'team:b', max_price_per_hour: 3}\n")
    assert priority_cap(policy, "b", None, {}) == (50, "global")
    assert priority_cap(policy, "a", None, {"tier": "batch"}) == (5, "label:tier=batch")
    spec = JobSpec.model_validate({**FEASIBLE, "team": "a", "priority": 6, "labels": {"tier": "batch"}})
    assert over_cap(policy, spec) == ("priority: 6 is above the max_priority cap of 5 for label:tier=batch (policy "
                                      "file); submit with priority 5 or lower, or ask an admin to raise the cap")
    with pytest.raises(PolicyError, match=r"line 2: caps.0.max_priority: Input should be less than or equal to 1000"):
        parse_policy("caps:\n  - max_priority: 5000\n")


def test_applying_a_lower_cap_lowers_queued_jobs_only_in_its_scope(rt: Runtime) -> None:
    with transaction(rt.sessions) as s:
        hog = submit(s, JobSpec.model_validate({**HOG, "team": "b", "project": "p"})).id
        other = submit(s, JobSpec.model_validate({**HOG, "team": "b"})).id
    with transaction(rt.sessions) as s:
        assert clamp_queued(s, parse_policy("caps:\n  - {scope: 'project:p', max_priority: -3}\n")) == 1
    with transaction(rt.sessions) as s:
        lowered, kept = job_by_id(s, hog), job_by_id(s, other)
        assert (lowered.priority, lowered.spec["priority"], kept.priority) == (-3, -3, 1000)
        events = s.scalars(select(JobEvent.reason).where(JobEvent.job_id == hog, JobEvent.kind == "policy")).all()
    assert events == ["priority lowered from 1000 to -3: the policy's max_priority cap for project:p"]
