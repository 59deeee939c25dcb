"""The budget sweep matches scopes in SQL; its outcome equals a plain Python sweep over every row.

The reference below is the sweep as it was before scope matching moved into SQL: read every job,
match each budget's scope with `policies.budget.scope_matches`, sum the ledger (stored entries plus
what accrual would write now) and the open instances' prices per scope, and decide with the same
pure `evaluate`. Both run on a real SQLite file and on the real PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.jobs import transitions as T
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit
from orchestrator.spending import ledger, policy_store
from orchestrator.spending.budget import BLOCKS_KEY, scope_filter, sweep_budgets
from orchestrator.spending.policyfile import Budget, PolicyFile
from orchestrator.store.db import make_engine, make_session_factory, migrate, transaction
from orchestrator.store.tables import Alert, Attempt, Base, Instance, Job, Meta
from policies.budget import evaluate, period_bounds, scope_matches
from tests.spending.conftest import T0, running_job
from tests.spending.test_ledger_sums import reference_entries

HOUR = 3600
LABEL_KEYS = ("k", "a.b", "x/y-z", "ü")
SCOPES = ("global", "team:a", "team:b", "project:p1", "label:k=v", "label:a.b=", "label:x/y-z=w", "label:ü=v",
          "label:k=w")
THRESHOLDS = ((50.0, "alert"), (80.0, "block_new"), (100.0, "stop"))
INTERVAL, GRACE = 600.0, 300.0  # grace > 0: stops are only requested, so the sweep needs no provider


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    migrate(engine)
    yield make_session_factory(engine)
    engine.dispose()


def wipe(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != Meta.__tablename__:
                s.execute(table.delete())
        s.execute(delete(Meta).where(Meta.key == BLOCKS_KEY))


def labels_of(job: Job) -> dict[str, str]:
    return dict((job.spec or {}).get("labels") or {})


def matches(scope: str, job: Job) -> bool:
    return scope_matches(scope, job.team, job.project, labels_of(job))


# --- the reference: every row read into Python ---------------------------------------------------------------

def reference_inputs(s: Session, scope: str, period: str, now: datetime) -> tuple[float, float]:
    """(spent, burn $/h) of the scope, from every job, entry and instance row."""
    ids = {j.id for j in s.scalars(select(Job)) if matches(scope, j)}
    start, _ = period_bounds(period, "UTC", now)
    spent = sum(e.cost_usd for e in reference_entries(s, now)
                if e.job_id in ids and (start is None or e.start >= start))
    burn = sum(r.price_per_hour for r in s.scalars(select(Instance)) if r.ended_at is None and r.job_id in ids)
    return spent, burn


def reference_release_commits(s: Session, scope: str, spent: float, burn: float) -> float | None:
    """Committed spend if the scope's waiting jobs were released (None: nothing waits)."""
    scoped = [j for j in s.scalars(select(Job)) if matches(scope, j)]
    waiting = [j.id for j in scoped if j.state == "BLOCKED_BUDGET"]
    if not waiting:
        return None
    last: dict[str, tuple[int, float]] = {}
    for a in s.scalars(select(Attempt)):
        if a.job_id in {j.id for j in scoped} and (a.job_id not in last or last[a.job_id][0] < a.number):
            last[a.job_id] = (a.number, a.price_per_hour)
    dearest = max((p for _, p in last.values()), default=0.0)
    released = sum(last[j][1] if j in last else dearest for j in waiting)
    return spent + (burn + released) * (INTERVAL + GRACE) / HOUR


def near(value: float, level: float) -> bool:
    return abs(value - level) <= 1e-9 * max(1.0, abs(level))


# --- the store ---------------------------------------------------------------------------------------------

KINDS = ("running", "closed", "blocked_ran", "blocked_never", "cancelled_open")
job_strategy = st.tuples(
    st.sampled_from(["a", "b"]), st.sampled_from([None, "p1", "p2"]),
    st.dictionaries(st.sampled_from(LABEL_KEYS), st.sampled_from(["", "v", "w"]), max_size=3),
    st.sampled_from(KINDS), st.integers(0, 3 * 86400), st.floats(60.0, 86400.0), st.floats(0.05, 40.0),
    st.one_of(st.none(), st.floats(0.05, 40.0)),  # a second attempt's price (blocked_ran): the last one counts
)


def make_job(s: Session, n: int, row: tuple) -> None:  # type: ignore[type-arg]
    team, project, labels, kind, start, life, price, price2 = row
    launched = T0 + timedelta(seconds=start)
    if kind == "blocked_never":
        job = submit(s, JobSpec(name="w", run="true", team=team, project=project, labels=labels), now=launched)
        T.block_for_budget(s, job, "held")
        return
    job_id, attempt_id, iid = running_job(s, team=team, project=project, labels=labels, price=price,
                                          launched_at=launched, instance_id=f"i{n}")
    inst = s.get(Instance, (iid, "local"))
    job_row = s.scalars(select(Job).where(Job.id == job_id)).one()
    assert inst is not None
    if kind in ("closed", "blocked_ran"):
        inst.ended_at = launched + timedelta(seconds=life)
    if kind == "blocked_ran":
        job_row.state = "BLOCKED_BUDGET"
        if price2 is not None:
            s.add(Attempt(id=f"{job_id}-2", job_id=job_id, number=2, idempotency_key=f"{job_id}-2",
                          state="FAILED", provider="local", region="local-1", zone="local-1a", instance_type="gpu",
                          spot=True, price_per_hour=price2, offer={}, created_at=launched, end_reason="",
                          launch_tries=1))
    if kind == "cancelled_open":  # final, instance still open: it burns but is never stopped
        job_row.state = "CANCELLED"
    s.flush()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(job_strategy, min_size=1, max_size=8),
       budgets=st.lists(st.tuples(st.sampled_from(SCOPES), st.sampled_from(["total", "daily", "monthly"]),
                                  st.sampled_from([0.3, 0.9, 0.99, 1.01, 1.1, 1.5, 4.0]), st.booleans()),
                        min_size=1, max_size=3),
       passes=st.lists(st.integers(0, 4 * 86400), max_size=2), now_s=st.integers(HOUR, 4 * 86400),
       max_actions=st.integers(1, 3))
def test_sweep_equals_a_python_sweep_over_every_row(sessions: sessionmaker[Session], rows: list, budgets: list,
                                                    passes: list, now_s: int, max_actions: int) -> None:
    wipe(sessions)
    with transaction(sessions) as s:
        for n, row in enumerate(rows):
            make_job(s, n, row)
    for p in sorted(passes):
        ledger.accrue(sessions, now=T0 + timedelta(seconds=p))
    now = T0 + timedelta(seconds=now_s)
    lookahead = INTERVAL + GRACE

    # the reference decisions, from every row; limits are set off the reference spend so thresholds fire
    want_blocks: dict[str, str] = {}
    want_alerts: dict[tuple[str, float], tuple[float, float]] = {}
    running_in: dict[str, list[str]] = {}
    policy_budgets, held = [], {}
    with transaction(sessions) as s:
        jobs = list(s.scalars(select(Job).order_by(Job.seq)))
        open_jobs = {r.job_id for r in s.scalars(select(Instance)) if r.ended_at is None}
        waiting = [j for j in jobs if j.state == "BLOCKED_BUDGET"]
        for k, (scope, period, factor, was_held) in enumerate(budgets):
            name = f"b{k}"
            spent, burn = reference_inputs(s, scope, period, now)
            committed = spent + burn * lookahead / HOUR
            release = reference_release_commits(s, scope, spent, burn) if was_held else None
            # a held block's limit is set off what a release would commit, so that decision is close too
            limit = max(0.01, (committed if release is None else release / 0.8) * factor)
            policy_budgets.append(Budget.model_validate({
                "name": name, "scope": scope, "period": period, "limit_usd": limit,
                "thresholds": [{"percent": p, "action": a} for p, a in THRESHOLDS]}))
            v = evaluate(limit=limit, thresholds=list(THRESHOLDS), spent=spent, burn_per_hour=burn, now=now,
                         period_end=period_bounds(period, "UTC", now)[1], sweep_interval_s=lookahead)
            assume(not any(near(committed, limit * p / 100) for p, _ in THRESHOLDS))
            for c in v.crossed:
                want_alerts[(name, c.percent)] = (round(spent, 4), round(v.committed, 4))
            if was_held:
                held[name] = scope
                assume(release is None or not near(release, limit * 0.8))
            if v.actions & {"block_new", "stop"} or (release is not None and release >= limit * 0.8):
                want_blocks[name] = scope
            if "stop" in v.actions:
                running_in[name] = [j.id for j in jobs if j.id in open_jobs and matches(scope, j)
                                    and j.state != "CANCELLED"]
        want_unblocked = sum(1 for j in waiting if not any(matches(sc, j) for sc in want_blocks.values()))
        policy = PolicyFile(budgets=policy_budgets, max_actions_per_sweep=max_actions)
        policy_store.apply(s, json.dumps(policy.model_dump(mode="json")))  # JSON is YAML
        s.add(Meta(key=BLOCKS_KEY, value=json.dumps(held)))
    want_stopped: list[str] = []
    left = max_actions  # each try counts, even one at a job an earlier budget already stopped
    for name in sorted(running_in):  # budgets in policy order, each one's running jobs in submission order
        for job_id in running_in[name]:
            if left > 0:
                left -= 1
                if job_id not in want_stopped:
                    want_stopped.append(job_id)

    report = sweep_budgets(sessions, {}, INTERVAL, now=now, grace_s=GRACE)
    for what, n in (("blocks", len(want_blocks)), ("stops", len(want_stopped)), ("unblocks", want_unblocked),
                    ("threshold alerts", len(want_alerts)), ("held", len(held))):
        event(f"{what}: {'some' if n else 'none'}")  # --hypothesis-show-statistics: which paths ran

    assert report.blocked_scopes == want_blocks
    assert report.stopped == want_stopped
    assert report.unblocked == want_unblocked
    with transaction(sessions) as s:
        got = {(a.payload["budget"], a.payload["percent"]): (a.payload["spent_usd"], a.payload["committed_usd"])
               for a in s.scalars(select(Alert).where(Alert.kind == "cost.threshold"))}
    assert set(got) == set(want_alerts)
    for key, (spent, committed) in want_alerts.items():  # rounded to 4 places on both sides
        assert abs(got[key][0] - spent) <= 1.01e-4 and abs(got[key][1] - committed) <= 1.01e-4, key


def add_attempt(s: Session, job_id: str, number: int, price: float) -> None:
    s.add(Attempt(id=f"{job_id}-{number}", job_id=job_id, number=number, idempotency_key=f"{job_id}-{number}",
                  state="FAILED", provider="local", region="local-1", zone="local-1a", instance_type="gpu",
                  spot=True, price_per_hour=price, offer={}, created_at=T0, end_reason="", launch_tries=1))


def test_release_prices_waiting_jobs_at_their_last_attempt(sessions: sessionmaker[Session]) -> None:
    """A held block is released only when the waiting jobs fit: each priced at its last attempt's price,
    one that never ran at the dearest last price in the scope -- not an earlier attempt's, nor another
    scope's. Here that is $1/h + $2/h for one hour ahead: $3."""
    with transaction(sessions) as s:
        ran = submit(s, JobSpec(name="ran", run="true", team="a"), now=T0)
        never = submit(s, JobSpec(name="never", run="true", team="a"), now=T0)
        done = submit(s, JobSpec(name="done", run="true", team="a"), now=T0)
        other = submit(s, JobSpec(name="other", run="true", team="b"), now=T0)
        for job_id, prices in ((ran.id, (100.0, 1.0)), (done.id, (50.0, 2.0)), (other.id, (1000.0,))):
            for number, price in enumerate(prices, 1):
                add_attempt(s, job_id, number, price)
        s.flush()
        for job in (ran, never):
            T.block_for_budget(s, job, "held")
        s.add(Meta(key=BLOCKS_KEY, value=json.dumps({"team-a": "team:a"})))
    policy = "budgets:\n  - {{name: team-a, scope: 'team:a', period: total, limit_usd: {limit}, " \
             "thresholds: [{{percent: 100, action: block_new}}]}}\n"
    for limit, held in ((2.9, True), (3.1, False)):
        with transaction(sessions) as s:
            policy_store.apply(s, policy.format(limit=limit))
        report = sweep_budgets(sessions, {}, 3000.0, now=T0 + timedelta(hours=1), grace_s=600.0)
        assert (report.blocked_scopes == {"team-a": "team:a"}) is held, limit
        assert report.unblocked == (0 if held else 2)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from([None, "p1", "p2"]),
                               st.dictionaries(st.sampled_from(LABEL_KEYS), st.sampled_from(["", "v", "w"]),
                                               max_size=4)), min_size=1, max_size=10))
def test_scope_filter_selects_exactly_the_jobs_in_scope(sessions: sessionmaker[Session], rows: list) -> None:
    wipe(sessions)
    with transaction(sessions) as s:
        for team, project, labels in rows:
            submit(s, JobSpec(name="j", run="true", team=team, project=project, labels=labels), now=T0)
    with transaction(sessions) as s:
        jobs = list(s.scalars(select(Job)))
        for scope in SCOPES:
            got = set(s.scalars(select(Job.id).where(scope_filter(scope))))
            assert got == {j.id for j in jobs if matches(scope, j)}, scope


def test_label_that_is_not_a_json_string_matches_no_scope(sessions: sessionmaker[Session]) -> None:
    """A plain JSON extract would read the number 5 as '5'; Python's `labels.get('n') == '5'` is False."""
    with transaction(sessions) as s:
        job = submit(s, JobSpec(name="j", run="true", team="a", labels={"k": "v"}), now=T0)
        job.spec = {**job.spec, "labels": {"n": 5, "t": True, "o": {"x": "v"}, "k": "v"}}
    with transaction(sessions) as s:
        for scope, want in (("label:n=5", False), ("label:t=true", False), ("label:t=1", False),
                            ("label:o=v", False), ("label:k=v", True), ("label:missing=", False)):
            row = s.scalars(select(Job)).one()
            assert matches(scope, row) is want, scope
            assert (s.scalar(select(Job.id).where(scope_filter(scope))) is not None) is want, scope


def test_unknown_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        scope_filter("region:us-east-1")
