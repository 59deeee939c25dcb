"""The end-of-run invariants of the AWS-on-moto chaos run: the daemon's database against moto's own view.

Why moto's view: "no attempt with two instances" and "no orphan" are about what exists in the cloud, so they
are counted from every instance moto ever made (terminated ones included), by the tags the daemon put on
them, independently of what the daemon recorded.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from orchestrator.store.tables import Attempt, Instance, Job, LedgerEntry
from providers.base import TAG_ATTEMPT, TAG_CLUSTER
from tests.chaos.invariants import Check

if TYPE_CHECKING:
    from tests.chaos.aws import AwsChaosRun
    from tests.fakes.moto_relay import MotoFront


def _moto_instances(ec2: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in ec2.get_paginator("describe_instances").paginate():
        found += [i for r in page["Reservations"] for i in r["Instances"]]
    return found


def check_aws(db: Path, ec2: Any, cluster: str, run: AwsChaosRun, front: MotoFront) -> list[Check]:
    engine = create_engine(f"sqlite:///{db}")
    checks: list[Check] = []
    cloud = _moto_instances(ec2)
    tags = [{t["Key"]: t["Value"] for t in i.get("Tags", [])} for i in cloud]
    with Session(engine) as s:
        jobs = list(s.scalars(select(Job)))
        states = Counter(j.state for j in jobs)
        stuck = [j.id for j in jobs if j.state not in ("SUCCEEDED", "FAILED", "CANCELLED")]
        checks.append(Check("every job final", not stuck, f"{dict(states)}; stuck {stuck[:5]}"))
        lost_jobs = set(run.job_ids) - {j.id for j in jobs}
        checks.append(Check("no acknowledged submission lost", not lost_jobs,
                            f"{len(run.job_ids)} acknowledged, {len(lost_jobs)} missing {sorted(lost_jobs)[:5]}"))

        def meant(job_id: str) -> str:
            if job_id in run.cancelled:
                return "CANCELLED"
            return "FAILED" if job_id in run.should_fail else "SUCCEEDED"

        wrong = [(j.id, j.state, meant(j.id)) for j in jobs if j.state != meant(j.id)]
        checks.append(Check("every job ended as meant (exit code, or cancelled)", not wrong,
                            f"{len(wrong)} wrong {wrong[:3]}"))

        nodes = {a: n for a, n in s.execute(select(Attempt.id, Attempt.nodes))}  # a gang attempt has N instances
        per_attempt = [a for a, n in s.execute(select(Instance.attempt_id, func.count()).group_by(Instance.attempt_id))
                       if n > nodes.get(a, 1)]
        in_cloud = Counter(t.get(TAG_ATTEMPT, "") for t in tags)
        doubled = [a for a, n in in_cloud.items() if n > nodes.get(a, 1)]
        checks.append(Check("no attempt with more instances than its nodes", not per_attempt and not doubled,
                            f"db {len(per_attempt)}, moto {len(doubled)}; "
                            f"{sum(in_cloud.values())} moto instances for {len(in_cloud)} attempts"))

        untagged = [i["InstanceId"] for i, t in zip(cloud, tags, strict=True)
                    if t.get(TAG_CLUSTER) != cluster or not t.get(TAG_ATTEMPT)]
        live = [i["InstanceId"] for i in cloud if i["State"]["Name"] != "terminated"]
        open_rows = s.scalars(select(Instance.id).where(Instance.ended_at.is_(None))).all()
        checks.append(Check("every moto instance tagged and terminated; no orphan", not untagged and not live
                            and not open_rows, f"{len(cloud)} instances; untagged {untagged[:3]}, not terminated "
                            f"{live[:3]}, open instance rows {len(open_rows)}"))
        known = set(s.scalars(select(Instance.id)))
        unrecorded = [i["InstanceId"] for i in cloud if i["InstanceId"] not in known]
        checks.append(Check("every moto instance recorded by the daemon", not unrecorded,
                            f"{len(unrecorded)} of {len(cloud)} not in the instances table {unrecorded[:3]}"))

        ledger = float(s.scalar(select(func.coalesce(func.sum(LedgerEntry.cost_usd), 0.0))) or 0.0)
        expected = slack = 0.0
        for i in s.scalars(select(Instance)):
            if i.ended_at is not None:
                expected += i.price_per_hour * max(0.0, (i.ended_at - i.launched_at).total_seconds()) / 3600
                slack += i.price_per_hour * 1.0 / 3600  # accrual is in whole seconds
        checks.append(Check("ledger total = sum of instance costs", abs(ledger - expected) <= slack + 1e-9,
                            f"ledger ${ledger:.6f} vs instances ${expected:.6f} (rounding allowance ${slack:.6f})"))
    engine.dispose()
    checks.append(Check("every RunInstances carried a ClientToken", front.untokened_launches == 0,
                        f"{front.untokened_launches} without; {front.token_repeats} repeats answered as EC2 does"))
    return checks
