"""The end-of-run invariants of a chaos run, read from the database, the provider's records and /proc.

Why read the database with the project's own tables: the invariants are about what Spotwise recorded
(attempts, instances, ledger, alert deliveries), and the provider's records and /proc are the "cloud's"
independent view, so a bug that corrupts one side shows up as a disagreement with the other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from orchestrator.jobs.fair_queue import next_look_delay
from orchestrator.provisioning.launcher import backoff_seconds
from orchestrator.spending.ledger import pending_instances
from orchestrator.store.tables import Alert, AlertDelivery, Attempt, Instance, Job, JobEvent, LedgerEntry
from providers.base import TAG_ATTEMPT
from providers.local import processes
from providers.local.records import RecordStore

FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
WAITING = {"BLOCKED_BUDGET"}  # legitimately waiting: a budget holds the job


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Expectations:
    should_fail: set[str] = field(default_factory=set)  # jobs whose command exits non-zero on purpose
    acknowledged: set[str] = field(default_factory=set)  # every job id the API answered 201 for
    capped_team: str = "capped"
    capped_limit_usd: float = 0.0
    budget_interval_s: float = 1.0
    stop_grace_s: float = 5.0
    stops_interval_s: float = 1.0  # how often the daemon finishes stops whose grace deadline passed
    outages: list[tuple[float, float]] = field(default_factory=list)  # (SIGKILL, replacement's first sweep), epoch s
    wait_bound_s: float = 4.0  # longest pool block + one reconcile pass: a WAITING_CAPACITY spell's limit
    hostile_team: str = ""  # its jobs are judged by tests/chaos/hostile.py; the job-level checks here skip them


def _epoch(at: datetime) -> float:
    """The store's timestamps are naive UTC; `.timestamp()` alone would read them as local time."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def _overlap(a: float, b: float, windows: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(b, w1) - max(a, w0)) for w0, w1 in windows)


def _crossing(spans: list[tuple[float, float, float]], limit: float) -> float | None:
    """When the spend of (start, end, $/h) spans first reached `limit`, or None if it never did."""
    points = sorted({x for s, e, _ in spans for x in (s, e)})
    spent = 0.0
    for a, b in zip(points, points[1:], strict=False):
        rate = sum(p for s, e, p in spans if s <= a and e >= b) / 3600.0
        if rate > 0 and spent + rate * (b - a) >= limit:
            return a + (limit - spent) / rate
        spent += rate * (b - a)
    return None


def _uptime_deadline(start: float, need: float, outages: list[tuple[float, float]]) -> float:
    """The earliest time by which the daemon has been up for `need` seconds since `start`."""
    t, left = start, need
    for a, b in sorted(outages):
        if b <= t:
            continue
        if a > t:
            if a - t >= left:
                return t + left
            left -= a - t
        t = max(t, b)
    return t + left


def ledger_caught_up(database_url: str) -> bool:
    """Whether the daemon's ledger pass has charged every instance to its end (none open, none with a whole
    unaccrued second: the daemon's own `pending_instances` rule). What the settle waits for before the ledger
    invariant is read, instead of sleeping through "one more pass"."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as s:
            return not pending_instances(s)
    except OperationalError:  # the database between restarts: not caught up yet
        return False
    finally:
        engine.dispose()


def check_all(database_url: str, home: Path, cluster: str, received: Counter[str], exp: Expectations) -> list[Check]:
    engine = create_engine(database_url)
    checks: list[Check] = []
    with Session(engine) as s:
        every_job = list(s.scalars(select(Job)))
        jobs = [j for j in every_job if j.team != exp.hostile_team]  # the other teams: what must hold for them
        states = Counter(j.state for j in jobs)
        stuck = [j.id for j in jobs if j.state not in FINAL | WAITING]
        wrong = [j.id for j in jobs if j.state in FINAL and (j.state == "FAILED") != (j.id in exp.should_fail)]
        waiting_wrong = [j.id for j in jobs if j.state in WAITING and j.team != exp.capped_team]
        checks.append(Check("every job final or legitimately waiting", not stuck and not waiting_wrong,
                            f"{dict(states)}; stuck {stuck[:5]} waiting outside a budget {waiting_wrong[:5]}"))
        lost_jobs = exp.acknowledged - {j.id for j in every_job}
        checks.append(Check("no acknowledged submission lost", not lost_jobs,
                            f"{len(exp.acknowledged)} acknowledged, {len(lost_jobs)} missing {sorted(lost_jobs)[:5]}"))
        checks.append(Check("every job ended as its command meant", not wrong, f"{len(wrong)} wrong {wrong[:5]}"))

        nodes = {a: n for a, n in s.execute(select(Attempt.id, Attempt.nodes))}  # a gang attempt has N instances
        per_attempt = [a for a, n in s.execute(select(Instance.attempt_id, func.count()).group_by(Instance.attempt_id))
                       if n > nodes.get(a, 1)]
        in_cloud = Counter(r.tags[TAG_ATTEMPT] for r in RecordStore(home / "local-provider").all())
        doubled = [a for a, n in in_cloud.items() if n > nodes.get(a, 1)]
        checks.append(Check("no attempt with more instances than its nodes", not per_attempt and not doubled,
                            f"db {len(per_attempt)}, provider records {len(doubled)}; "
                            f"{sum(in_cloud.values())} instances for {len(in_cloud)} attempts"))

        open_rows = s.scalars(select(Instance.id).where(Instance.ended_at.is_(None))).all()
        pids = processes.cluster_pids(cluster)
        checks.append(Check("no orphan instance or process", not open_rows and not pids,
                            f"open instance rows {len(open_rows)}, live processes {len(pids)}"))

        alerts = set(s.scalars(select(Alert.id)))
        undelivered = s.scalars(select(AlertDelivery.alert_id).where(AlertDelivery.state != "delivered")).all()
        lost = alerts - set(received)
        unknown = set(received) - alerts
        redelivered = sum(n - 1 for n in received.values())
        checks.append(Check("no alert lost or duplicated (by event id)", not lost and not unknown and not undelivered,
                            f"{len(alerts)} alerts, {len(received)} distinct event ids received, lost {len(lost)}, "
                            f"unknown {len(unknown)}, undelivered {len(undelivered)}, "
                            f"at-least-once redeliveries deduplicated by id {redelivered}"))

        ledger = float(s.scalar(select(func.coalesce(func.sum(LedgerEntry.cost_usd), 0.0))) or 0.0)
        instances = list(s.scalars(select(Instance)))
        expected = 0.0
        slack = 0.0
        for i in instances:
            if i.ended_at is not None:
                expected += i.price_per_hour * max(0.0, (i.ended_at - i.launched_at).total_seconds()) / 3600
                slack += i.price_per_hour * 1.0 / 3600  # accrual is in whole seconds
        checks.append(Check("ledger total = sum of instance costs", abs(ledger - expected) <= slack + 1e-9,
                            f"ledger ${ledger:.6f} vs instances ${expected:.6f} (rounding allowance ${slack:.6f})"))

        checks.append(_budget_check(s, jobs, instances, exp))
        checks.append(_waiting_check(s, exp, {j.id for j in every_job if j.team == exp.hostile_team}))
    engine.dispose()
    return checks


def _budget_check(s: Session, jobs: list[Job], instances: list[Instance], exp: Expectations) -> Check:
    """The README's bound, from what this run observed: spend past the limit <= for each instance still
    running after the spend reached the limit, its $/h x (sweep interval + stop grace + stops pass + the
    daemon's downtime during its life after that moment). Also: no attempt placed after the block was in
    force (one sweep of daemon uptime after the crossing)."""
    capped_jobs = {j.id for j in jobs if j.team == exp.capped_team}
    capped = [i for i in instances if i.job_id in capped_jobs]
    spent = float(s.scalar(select(func.coalesce(func.sum(LedgerEntry.cost_usd), 0.0))
                           .where(LedgerEntry.team == exp.capped_team)) or 0.0)
    spans = [(_epoch(i.launched_at), _epoch(i.ended_at or i.launched_at), i.price_per_hour) for i in capped]
    crossed = _crossing(spans, exp.capped_limit_usd)
    if crossed is None:
        return Check("budget never exceeded beyond the stated bound", spent <= exp.capped_limit_usd + 1e-9,
                     f"team {exp.capped_team}: spent ${spent:.6f}, limit ${exp.capped_limit_usd:.6f} never reached")
    fixed = exp.budget_interval_s + exp.stop_grace_s + exp.stops_interval_s
    bound = 0.0
    running_per_hour = 0.0
    worst_down = 0.0
    overran: list[str] = []  # instances that ran longer past the limit than the bound allows each of them
    for i, (start, end, price) in zip(capped, spans, strict=True):
        if end <= crossed:
            continue
        down = _overlap(max(start, crossed), end, exp.outages)
        worst_down = max(worst_down, down)
        running_per_hour += price
        bound += price * (fixed + down) / 3600.0
        if end - max(start, crossed) > fixed + down + 0.5:  # 0.5 s: timestamps of a loaded 2-core box
            overran.append(f"{i.id} {end - max(start, crossed):.1f}s")
    blocked_by = _uptime_deadline(crossed, exp.budget_interval_s, exp.outages) + 1.0  # + the sweep's own pass
    late = [a.id for a in s.scalars(select(Attempt).where(Attempt.job_id.in_(capped_jobs)))
            if _epoch(a.created_at) > blocked_by]
    return Check("budget never exceeded beyond the stated bound",
                 spent <= exp.capped_limit_usd + bound + 1e-9 and not late and not overran,
                 f"team {exp.capped_team}: spent ${spent:.6f}, limit ${exp.capped_limit_usd:.6f} + bound "
                 f"${bound:.6f} (${running_per_hour:.4f}/h running at or after the limit x ({fixed:g} s + "
                 f"downtime, at most {worst_down:.1f} s)); attempts placed after the block {len(late)} {late[:3]}; "
                 f"instances running past the limit longer than that {overran[:3]}")


def _waiting_check(s: Session, exp: Expectations, skip: set[str]) -> Check:
    """A job waiting for capacity is placed again within its backoff: every WAITING_CAPACITY spell lasts at
    most the backoff of the job's launch-failure streak when it began, plus the longest pool block and one
    reconcile pass, plus the daemon's downtime during the spell. A job preempted ten times once waited out
    a 300 s backoff (its attempt count) on its first capacity miss; this catches that."""
    events = s.execute(select(JobEvent.job_id, JobEvent.at, JobEvent.from_state, JobEvent.to_state)
                       .where((JobEvent.to_state == "WAITING_CAPACITY") | (JobEvent.from_state == "WAITING_CAPACITY"))
                       .order_by(JobEvent.job_id, JobEvent.at, JobEvent.id)).all()
    attempts: dict[str, list[tuple[int, str, float | None]]] = {}
    for a in s.scalars(select(Attempt).order_by(Attempt.number)):
        attempts.setdefault(a.job_id, []).append((a.number, a.state, _epoch(a.ended_at) if a.ended_at else None))

    def streak(job_id: str, at: float) -> int:
        n = 0
        for _, state, ended in attempts.get(job_id, []):
            if ended is None or ended > at + 0.5:
                break
            n = n + 1 if state == "LAUNCH_FAILED" else 0
        return n

    submitted = {j: _epoch(at) for j, at in s.execute(select(Job.id, Job.submitted_at))}

    def waiting_since(job_id: str, at: float) -> float:
        lost = [e for _, state, e in attempts.get(job_id, []) if state in ("PREEMPTED", "LOST") and e is not None
                and e <= at + 0.5]
        return max(lost, default=submitted[job_id])
    entered: dict[str, float] = {}
    spells = 0
    longest = 0.0
    too_long: list[tuple[str, float, float]] = []
    for job_id, at, src, dst in events:
        if job_id in skip:  # the hostile team's infeasible jobs wait by design
            continue
        when = _epoch(at)
        if src == "WAITING_CAPACITY" and job_id in entered:
            start = entered.pop(job_id)
            spells += 1
            longest = max(longest, when - start)
            # the delay grows with the time waited (fair_queue.next_look_delay, from placement_state.waiting_since:
            # the last lost instance, else the submission); the spell's end bounds the wait at its last look
            delay = next_look_delay(backoff_seconds(streak(job_id, start)), when - waiting_since(job_id, start))
            allowed = (delay + exp.wait_bound_s + 2.0  # 2 s: a busy 2-core box
                       + _overlap(start, when, exp.outages))
            if when - start > allowed:
                too_long.append((job_id, round(when - start, 1), round(allowed, 1)))
        if dst == "WAITING_CAPACITY":
            entered[job_id] = when
    still = sorted(entered)
    return Check("a job waiting for capacity is placed again within its backoff", not too_long and not still,
                 f"{spells} spells, longest {longest:.1f} s; longer than backoff + {exp.wait_bound_s:g} s + 2 s "
                 f"+ downtime {too_long[:3]}; still waiting {still[:3]}")
