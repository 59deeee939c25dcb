"""The end-of-run invariants of a chaos run, read from the database, the provider's records and /proc.

Why read the database with the project's own tables: the invariants are about what Spotwise recorded
(attempts, instances, ledger, alert deliveries), and the provider's records and /proc are the "cloud's"
independent view, so a bug that corrupts one side shows up as a disagreement with the other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from orchestrator.store.tables import Alert, AlertDelivery, Instance, Job, LedgerEntry
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


def _max_concurrent(intervals: list[tuple[float, float]]) -> int:
    points = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    best = now = 0
    for _, step in points:
        now += step
        best = max(best, now)
    return best


def check_all(database_url: str, home: Path, cluster: str, received: Counter[str], exp: Expectations) -> list[Check]:
    engine = create_engine(database_url)
    checks: list[Check] = []
    with Session(engine) as s:
        jobs = list(s.scalars(select(Job)))
        states = Counter(j.state for j in jobs)
        stuck = [j.id for j in jobs if j.state not in FINAL | WAITING]
        wrong = [j.id for j in jobs if j.state in FINAL and (j.state == "FAILED") != (j.id in exp.should_fail)]
        waiting_wrong = [j.id for j in jobs if j.state in WAITING and j.team != exp.capped_team]
        checks.append(Check("every job final or legitimately waiting", not stuck and not waiting_wrong,
                            f"{dict(states)}; stuck {stuck[:5]} waiting outside a budget {waiting_wrong[:5]}"))
        lost_jobs = exp.acknowledged - {j.id for j in jobs}
        checks.append(Check("no acknowledged submission lost", not lost_jobs,
                            f"{len(exp.acknowledged)} acknowledged, {len(lost_jobs)} missing {sorted(lost_jobs)[:5]}"))
        checks.append(Check("every job ended as its command meant", not wrong, f"{len(wrong)} wrong {wrong[:5]}"))

        per_attempt = s.execute(select(Instance.attempt_id, func.count()).group_by(Instance.attempt_id)
                                .having(func.count() > 1)).all()
        in_cloud = Counter(r.tags[TAG_ATTEMPT] for r in RecordStore(home / "local-provider").all())
        doubled = [a for a, n in in_cloud.items() if n > 1]
        checks.append(Check("no attempt with two instances", not per_attempt and not doubled,
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

        capped_jobs = {j.id for j in jobs if j.team == exp.capped_team}
        capped = [i for i in instances if i.job_id in capped_jobs]
        spent = float(s.scalar(select(func.coalesce(func.sum(LedgerEntry.cost_usd), 0.0))
                               .where(LedgerEntry.team == exp.capped_team)) or 0.0)
        intervals = [(i.launched_at.timestamp(), (i.ended_at or i.launched_at).timestamp()) for i in capped]
        top_price = max((i.price_per_hour for i in capped), default=0.0)
        bound = _max_concurrent(intervals) * top_price * (exp.budget_interval_s + exp.stop_grace_s) / 3600
        checks.append(Check("budget never exceeded beyond the stated bound",
                            spent <= exp.capped_limit_usd + bound + 1e-9,
                            f"team {exp.capped_team}: spent ${spent:.6f}, limit ${exp.capped_limit_usd:.6f} "
                            f"+ bound ${bound:.6f}"))
    engine.dispose()
    return checks
