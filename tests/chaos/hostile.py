"""A hostile tenant for the chaos run: a third team, with its own team token, submits malformed, infeasible,
never-starting and log-flooding jobs while the other teams' workload runs.

What it must not change: the other teams' guarantees (no lost job, no duplicate instance, no orphan, no lost
alert, every job of theirs ended as its command meant, placed again within its backoff). What each hostile job
must do (`hostile_check`): be refused at submit with a 4xx and a message, or end FAILED with a reason; an
infeasible one never launches anything and waits with a reason until the harness cancels it at the end of the
run (it cannot end by itself: a runtime cap counts paid instance time, and it never gets an instance).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from orchestrator.store.tables import Attempt, Job
from tests.chaos.invariants import Check

HOSTILE = "hostile"
MAX_PRIORITY = 100  # the policy's cap for the hostile team; one submit above it is refused by name
MAX_RUNTIME_S = 15  # the policy's runtime cap for the hostile team: what stops the endless log flood
FLOOD = "head -c 3000000 /dev/zero | tr '\\0' x | fold -w 500; exit 5"  # 3 MB of log lines, then a failure
ENDLESS_FLOOD = "while true; do head -c 50000 /dev/zero | tr '\\0' y | fold -w 1000; sleep 0.2; done"

# Refused at submit: each is a 4xx with a message (kind -> body). A daemon that knows no offers yet (its first
# seconds) accepts what it cannot judge and says so; such a job then waits with a reason, like an infeasible one.
MALFORMED: dict[str, dict[str, Any]] = {
    "unknown field": {"name": "x", "run": "true", "bogus": 1},
    "negative GPU count": {"name": "x", "run": "true", "resources": {"accelerators": "T4:-1"}},
    "empty command": {"name": "x", "run": ""},
    "priority out of range": {"name": "x", "run": "true", "priority": 10**9},
    "priority above the team's cap": {"name": "x", "run": "true", "priority": MAX_PRIORITY + 1,
                                      "resources": {"accelerators": "T4:1"}},
    "another team's name": {"name": "x", "run": "true", "team": "t0"},
    "negative GPU count, dict form": {"name": "x", "run": "true",
                                      "resources": {"accelerators": {"model": "a100", "count": -5}}},
    "misspelt GPU model": {"name": "x", "run": "true", "resources": {"accelerators": "A1OO:1"}},
    "no offer under its own price cap": {"name": "x", "run": "true",
                                         "resources": {"accelerators": "H100:8", "max_price_per_hour": 0.01}},
    "NUL byte in run": {"name": "x", "run": "echo a\u0000b"},
    "run over 64 KiB": {"name": "x", "run": "true #" + "x" * 70_000},
}
T4 = {"accelerators": "T4:1"}
# Accepted, then must end FAILED with a reason (kind -> body). A job that never starts is its own user failure
# (exit 126/127) on its first attempt, whatever max_restarts allows.
ACCEPTED: dict[str, dict[str, Any]] = {
    "never starts: PATH=/nope": {"run": "true", "env": {"PATH": "/nope"}, "max_restarts": 100, "resources": T4},
    "never starts: command not found": {"run": "no-such-command-spotwise", "max_restarts": 100, "resources": T4},
    "log flood, then exit 5": {"run": FLOOD, "max_restarts": 0, "resources": T4},
    "endless log flood (runtime cap)": {"run": ENDLESS_FLOOD, "max_restarts": 0, "resources": T4},
}
# Accepted at submit (a configured provider offers H100:8) but never placeable: the policy file caps the price of
# jobs labelled as hogs far below any offer, a limit an admin can change at any time, so submit does not judge it.
INFEASIBLE = {"run": "true", "priority": MAX_PRIORITY, "max_restarts": 1000, "labels": {"kind": "hog"},
              "resources": {"accelerators": "H100:8"}}


UNJUDGED_BEFORE_OFFERS = frozenset({"no offer under its own price cap"})


def policy_caps() -> list[dict[str, Any]]:
    return [{"scope": f"team:{HOSTILE}", "max_priority": MAX_PRIORITY, "max_runtime": f"{MAX_RUNTIME_S}s"},
            {"scope": "label:kind=hog", "max_price_per_hour": 0.01}]


@dataclass
class HostileTenant:
    url: str
    admin_token: str
    infeasible_per_wave: int = 30  # 60 in all at priority 100: three claim batches, as many as starved a team
    token: str = ""
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)  # kind -> (status, message)
    accepted: dict[str, str] = field(default_factory=dict)  # job id -> kind
    waves: int = 0

    def _post(self, path: str, body: dict[str, Any], token: str) -> httpx.Response:
        for _ in range(150):  # the daemon may be between a SIGKILL and its restart, or its database restarting
            try:
                r = httpx.post(self.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            if r.status_code not in (429, 503):
                return r
            time.sleep(0.2)
        raise RuntimeError(f"daemon unreachable for POST {path}")

    def wave(self) -> None:
        """One round of every hostile kind (the first also creates the team's token)."""
        if not self.token:
            r = self._post("/v1/tokens", {"team": HOSTILE, "name": "chaos hostile tenant"}, self.admin_token)
            r.raise_for_status()
            self.token = r.json()["token"]
        self.waves += 1
        for kind, body in MALFORMED.items():
            r = self._post("/v1/jobs", body, self.token)
            message = (r.json().get("error") or {}).get("message", "") if r.headers.get(
                "content-type", "").startswith("application/json") else ""
            if r.status_code == 201 and kind in UNJUDGED_BEFORE_OFFERS:  # no offers known yet: it waits like a hog
                self.accepted[r.json()["id"]] = "infeasible"
                continue
            self.refused[f"{kind} #{self.waves}"] = (r.status_code, message)
            if r.status_code == 201:  # accepted after all: then it must end FAILED like the others
                self.accepted[r.json()["id"]] = f"malformed accepted: {kind}"
        for kind, body in ACCEPTED.items():
            self._accept({"name": f"hostile-{len(self.accepted)}", **body}, kind)
        for _ in range(self.infeasible_per_wave):
            self._accept({"name": f"hostile-{len(self.accepted)}", **INFEASIBLE}, "infeasible")

    def _accept(self, body: dict[str, Any], kind: str) -> None:
        r = self._post("/v1/jobs", body, self.token)
        if r.status_code != 201:
            self.refused[f"{kind} (expected accepted)"] = (r.status_code, r.text[:200])
            return
        self.accepted[r.json()["id"]] = kind

    def infeasible(self) -> list[str]:
        return [j for j, kind in self.accepted.items() if kind == "infeasible"]

    def unfinished(self, states: dict[str, str]) -> list[str]:
        """Accepted jobs that must still end by themselves (every kind but the infeasible)."""
        return [j for j, kind in self.accepted.items()
                if kind != "infeasible" and states.get(j) not in ("FAILED", "SUCCEEDED", "CANCELLED")]

    def cancel_infeasible(self) -> dict[str, str]:
        """At the end of the run: what each infeasible job was waiting with, then cancel it (as its owner)."""
        reasons: dict[str, str] = {}
        for job_id in self.infeasible():
            for _ in range(150):
                try:
                    r = httpx.get(f"{self.url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {self.token}"},
                                  timeout=30)
                    if r.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            reasons[job_id] = f"{r.json()['state']}: {r.json()['reason']}"
            self._post(f"/v1/jobs/{job_id}/cancel", {}, self.token)
        return reasons


def hostile_check(database_url: str, tenant: HostileTenant, waited: dict[str, str]) -> Check:
    """Every hostile submission refused with a 4xx and a message, or ended FAILED with a reason; every
    infeasible one never launched, was waiting for capacity with a reason, and ended CANCELLED by the harness."""
    bad: list[str] = []
    for kind, (status, message) in tenant.refused.items():
        if not (400 <= status < 500 and message):
            bad.append(f"{kind}: {status} {message[:80]!r}")
    engine = create_engine(database_url)
    with Session(engine) as s:
        jobs = {j.id: j for j in s.scalars(select(Job).where(Job.team == HOSTILE))}
        launched = dict(s.execute(select(Attempt.job_id, func.count()).where(Attempt.job_id.in_(list(jobs)))
                                  .group_by(Attempt.job_id)).all())
    engine.dispose()
    for job_id, kind in tenant.accepted.items():
        job = jobs.get(job_id)
        if job is None:
            bad.append(f"{kind} {job_id}: lost")
        elif kind == "infeasible":
            if job.state != "CANCELLED" or launched.get(job_id) or not waited.get(job_id, "").startswith(
                    "WAITING_CAPACITY: no"):
                bad.append(f"{kind} {job_id}: {job.state}, {launched.get(job_id, 0)} attempts, "
                           f"waited as {waited.get(job_id)!r}")
        elif job.state != "FAILED" or not job.reason:
            bad.append(f"{kind} {job_id}: {job.state} {job.reason[:80]!r}")
        elif kind.startswith("never starts") and launched.get(job_id) != 1:  # a user failure: never retried
            bad.append(f"{kind} {job_id}: {launched.get(job_id, 0)} attempts for a job that cannot start")
    refusals = {k.rsplit(" #", 1)[0]: status for k, (status, _) in tenant.refused.items()}
    ends = {kind: f"{jobs[j].state}: {jobs[j].reason[:70]}" for j, kind in tenant.accepted.items()
            if j in jobs and kind != "infeasible"}
    return Check("hostile team: every job refused (4xx, reason) or ended FAILED with a reason", not bad,
                 f"{len(tenant.refused)} refused, {len(tenant.accepted)} accepted "
                 f"({len(tenant.infeasible())} infeasible: never launched, cancelled at the end) over "
                 f"{tenant.waves} waves; refused {refusals}; ended {ends}; wrong {bad[:4]}")
