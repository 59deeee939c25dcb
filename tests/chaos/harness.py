"""The chaos run: a real daemon on the local provider (through the fault-injecting `faulty` wrapper) runs a
workload of jobs while seeded random faults hit it; the invariants are checked once everything settles.

Faults: SIGKILL of the daemon (at random, right after a launch wave, and while an alert delivery is in
flight at the receiver), cloud API errors (capacity, throttling, 5xx, timeouts, a launch whose answer is
lost) at `error_rate` per provider call, spot preemptions (`chaos preempt`), agent crashes (SIGKILL of an
instance's agent process), the webhook sink down for a while, restarts of the run's own PostgreSQL (when
`postgres` is on: tests/chaos/pgcluster.py, dbfaults.py) and, once, a long SIGKILL outage just as the
`capped` team's spend nears its limit, so that the limit is crossed while nothing enforces it and the
budget bound's downtime term is what holds the overrun. Why one seeded RNG drives the plan: a
failing seed can be rerun; the timing of the daemon itself is not deterministic, so a rerun explores the
same plan, not the same interleaving.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from orchestrator.cli.demo import free_port
from providers.local import processes
from tests.chaos.dbfaults import PostgresFaults
from tests.chaos.hostile import HOSTILE, HostileTenant, hostile_check, policy_caps
from tests.chaos.invariants import FINAL, WAITING, Check, Expectations, _epoch, check_all, ledger_caught_up
from tests.chaos.pgcluster import ThrowawayPostgres
from tests.chaos.receiver import Receiver
from tests.e2e.conftest import Daemon
from tests.e2e.wheel import agent_wheel_env

TEAMS = ["t0", "t1", "t2", "t3"]
CAPPED = "capped"
# USD: reached after a few of the capped team's (longer) jobs, so block_new and stop both fire mid-run and the
# budget-edge outage below makes the spend cross it while nothing enforces it (the bound's downtime term)
CAPPED_LIMIT = 0.003
BUDGET_INTERVAL = 1.0
STOP_GRACE = 5.0
STOPS_INTERVAL = min(5.0, BUDGET_INTERVAL)  # the daemon's "stops" loop: finishes stops past their deadline
CAPACITY_BLOCK = 2.0
RECONCILE_INTERVAL = 2.0


@dataclass
class ChaosConfig:
    seed: int = 1
    jobs: int = 30
    kills: int = 5
    error_rate: float = 0.05
    concurrency: int = 8
    database_url: str = ""  # "" = SQLite in the run's home (or the throwaway PostgreSQL, with `postgres`)
    timeout_s: float = 900.0
    postgres: bool = False  # run on a throwaway PostgreSQL cluster of the run's own, restarted at random
    pg_restarts: int = 0  # at least this many PostgreSQL restarts (with `postgres`)
    capped_limit: float = CAPPED_LIMIT
    budget_edge: bool = True  # one long SIGKILL outage as the capped team's spend nears its limit
    sink_outages: bool = True  # off in short runs: after one, delivery backoff can add a minute to the settle
    hostile: bool = True  # a third team submits malformed, infeasible, never-starting, log-flooding jobs (2 waves)


@dataclass
class Faults:
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] += n


def _policy(capped_limit: float, hostile: bool) -> str:
    budgets: list[dict[str, Any]] = [
        {"name": "all", "scope": "global", "period": "monthly", "limit_usd": 0.02,
         "thresholds": [{"percent": p, "action": "alert"} for p in range(10, 101, 10)]},
        {"name": "capped", "scope": f"team:{CAPPED}", "period": "monthly", "limit_usd": capped_limit,
         "thresholds": [{"percent": 50, "action": "alert"}, {"percent": 100, "action": "block_new"},
                        {"percent": 100, "action": "stop"}]},
    ]
    budgets += [{"name": f"team-{t}", "scope": f"team:{t}", "period": "monthly", "limit_usd": 0.004,
                 "thresholds": [{"percent": p, "action": "alert"} for p in (25, 50, 75, 100)]} for t in TEAMS]
    return json.dumps({"budgets": budgets, "caps": policy_caps() if hostile else []})


class ChaosRun:
    def __init__(self, cfg: ChaosConfig, workdir: Path) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.faults = Faults()
        self.receiver = Receiver(secret="chaos-hmac-secret")
        self.home = workdir / "home"
        self.home.mkdir(parents=True)
        self.fault_log = workdir / "faults.jsonl"
        self.daemon = Daemon(home=self.home, port=free_port())
        self.job_ids: list[str] = []
        self.should_fail: set[str] = set()
        # (SIGKILL, replacement's first budget sweep) in epoch seconds: while no replica runs, nothing
        # enforces a budget, so the invariants' bound counts these windows (see invariants.py)
        self.outages: list[tuple[float, float]] = []
        self._sink_timer: threading.Timer | None = None
        self.capped_jobs: set[str] = set()
        self.edge_done = not cfg.budget_edge
        self.pg: ThrowawayPostgres | None = None
        self.pgf: PostgresFaults | None = None
        # the random kinds each run deals at least once before it drains (while any job is left to hit)
        self._kinds = ["preemption", "agent crash"] + (["alert sink down"] if cfg.sink_outages else [])
        self.tenant: HostileTenant | None = None

    def _env(self) -> dict[str, str]:
        # the hostile team's jobs run (as the daemon's user) so that they fail their own way, not at launch where a
        # root daemon cannot isolate teams here (tests/adversarial/test_local_isolation.py covers isolation)
        providers = {"faulty": {"wraps": "local", "wrapped_config": {"job_user": "daemon"},
                                "error_rate": self.cfg.error_rate, "seed": self.cfg.seed,
                                "timeout_seconds": 0.5, "fault_log": str(self.fault_log)}}
        sinks = {"hook": {"type": "webhook", "url": self.receiver.url, "secret": "chaos-hmac-secret"}}
        env = {
            "SPOTWISE_PROVIDERS": json.dumps(providers), "SPOTWISE_ALERT_SINKS": json.dumps(sinks),
            "SPOTWISE_ALERT_INTERVAL_SECONDS": "0.5", "SPOTWISE_ALERT_BASE_BACKOFF_SECONDS": "0.5",
            "SPOTWISE_ALERT_MAX_TRIES": "40", "SPOTWISE_LEDGER_INTERVAL_SECONDS": "1",
            # a delivery cut off by a SIGKILL is claimed again once its lease ends: at the 60 s default the settle
            # sat out the lease (0-60 s, by when the kill came); one daemon never overlaps its own alert passes
            "SPOTWISE_ALERT_LEASE_SECONDS": "3",
            "SPOTWISE_BUDGET_INTERVAL_SECONDS": str(BUDGET_INTERVAL), "SPOTWISE_STOP_GRACE_SECONDS": str(STOP_GRACE),
            "SPOTWISE_HEARTBEAT_TIMEOUT_SECONDS": "8", "SPOTWISE_RETRY_BACKOFF_SECONDS": "0.5",
            "SPOTWISE_CAPACITY_BLOCK_SECONDS": str(CAPACITY_BLOCK),
            "SPOTWISE_RECLAIMED_POOL_BLOCK_SECONDS": str(CAPACITY_BLOCK),
            "SPOTWISE_RECONCILE_INTERVAL_SECONDS": str(RECONCILE_INTERVAL),
            **agent_wheel_env(self.home),  # built once per source tree, not in the first reconcile pass of each run
        }
        if self.cfg.database_url or self.pg:
            # not SPOTWISE_DATABASE_URL: the test daemon launcher drops it from the environment on purpose
            (self.home / "config.yaml").write_text(f"database_url: {json.dumps(self.database_url)}\n")
        return env

    @property
    def database_url(self) -> str:
        if self.pg is not None:
            return self.pg.url
        return self.cfg.database_url or f"sqlite:///{self.home / 'spotwise.db'}"

    # -- workload --------------------------------------------------------------------------------

    def _submit(self, n: int) -> None:
        for _ in range(n):
            i = len(self.job_ids)
            team = CAPPED if i % 10 == 9 else self.rng.choice(TEAMS)
            fail = self.rng.random() < 0.1
            # the capped team's jobs run longer: an instance of it is running when its spend nears the limit
            seconds = self.rng.uniform(4.0, 10.0) if team == CAPPED else self.rng.uniform(0.3, 2.5)
            run = "exit 3" if fail else f"sleep {seconds:.2f}; echo done"
            body = {"name": f"chaos-{i}", "team": team, "run": run, "max_restarts": 100,
                    "resources": {"accelerators": "T4:1", "spot": self.rng.random() < 0.8}}
            job = self._api("POST", "/v1/jobs", json=body)
            self.job_ids.append(str(job["id"]))
            if team == CAPPED:
                self.capped_jobs.add(str(job["id"]))
            if fail:
                self.should_fail.add(str(job["id"]))

    def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        for _ in range(150):  # the daemon may be between a kill and its restart, or its database restarting
            try:
                return self.daemon.api(method, path, **kwargs)
            except httpx.TransportError:
                time.sleep(0.2)
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 503:
                    raise
                time.sleep(0.2)
        raise RuntimeError(f"daemon unreachable for {method} {path}")

    def _unfinished(self, hostile: bool = False) -> list[str]:
        items = self._api("GET", "/v1/jobs", params={"limit": 500})["items"]
        seen = {j["id"]: j["state"] for j in items}
        if hostile:  # the hostile team's jobs that must still end by themselves
            return self.tenant.unfinished(seen) if self.tenant else []
        # a job the store lost is not waited for: the "no acknowledged submission lost" invariant reports it
        return [j for j in self.job_ids if j in seen and seen[j] not in FINAL | WAITING]

    # -- faults ----------------------------------------------------------------------------------

    def _restart(self, kind: str, down_s: float | None = None) -> None:
        killed = time.time()
        self.daemon.kill9()
        self.faults.add(kind)
        time.sleep(self.rng.uniform(0.05, 0.8) if down_s is None else down_s)
        self.daemon.start()
        # the scheduler starts before the API answers, so its first sweep is at most one interval after this
        self.outages.append((killed, time.time() + BUDGET_INTERVAL))

    def _kill_mid_alert(self) -> None:
        self.receiver.in_flight.clear()
        self.receiver.hold_seconds = 1.0
        try:
            caught = self.receiver.in_flight.wait(timeout=4.0)
            self._restart("sigkill mid-alert-delivery" if caught else "sigkill (no alert in flight)")
        finally:
            self.receiver.hold_seconds = 0.0

    def _running_instances(self) -> list[dict[str, Any]]:
        return [i for i in self._api("GET", "/v1/instances")["items"] if i["state"] == "running"]

    def _preempt(self) -> None:
        live = self._running_instances()
        if live:
            target = self.rng.choice(live)
            try:
                self.daemon.api("POST", f"/v1/chaos/instances/{target['id']}/preempt", json={"grace_seconds": 1})
                self.faults.add("preemption")
            except httpx.HTTPError:
                pass  # it ended meanwhile

    def _agent_crash(self) -> None:
        live = self._running_instances()
        if not live:
            return
        target = self.rng.choice(live)
        for pid in processes.instance_pids(target["id"]):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"orchestrator.agent" in cmdline:
                os.kill(pid, signal.SIGKILL)
                self.faults.add("agent crash")
                return

    def _pg_restart(self) -> None:
        assert self.pgf is not None
        label, down, up = self.pgf.restart()
        self.faults.add(label)
        # nothing is enforced while the database is down; after it is back, each loop's first tick finds its
        # lease connection broken and gives the lease up, the next takes it again: two intervals
        self.outages.append((down, up + 2 * BUDGET_INTERVAL))

    def _capped_spend(self) -> tuple[float, float]:
        """(spent so far, $/h running) of the capped team, from the instances' lives as the API lists them."""
        now = time.time()
        spent = burn = 0.0
        for r in self._api("GET", "/v1/instances", params={"all": "true"})["items"]:
            if r["job_id"] not in self.capped_jobs:
                continue
            start = _epoch(datetime.fromisoformat(r["launched_at"]))
            end = _epoch(datetime.fromisoformat(r["ended_at"])) if r["ended_at"] else now
            spent += r["price_per_hour"] * max(0.0, end - start) / 3600.0
            burn += 0.0 if r["ended_at"] else r["price_per_hour"]
        return spent, burn

    def _budget_edge(self) -> None:
        """Once: when the capped team's committed spend (as the daemon's sweep computes it: spent + running
        $/h x (sweep + grace)) nears the limit, SIGKILL the daemon and keep it down until the running spend
        has crossed the limit plus 1-3 s. The overrun is then bounded only by the downtime term."""
        spent, burn = self._capped_spend()
        lookahead = (BUDGET_INTERVAL + STOP_GRACE) / 3600.0
        if burn <= 0 or spent + burn * lookahead < 0.85 * self.cfg.capped_limit:
            return
        self.edge_done = True
        need = max(0.0, self.cfg.capped_limit - spent) * 3600.0 / burn
        self._restart("sigkill at the budget edge", down_s=min(need + self.rng.uniform(1.0, 3.0), 20.0))

    def _sink_down(self) -> None:
        if self.receiver.down:
            return
        self.receiver.down = True
        self.faults.add("alert sink down")
        self._sink_timer = threading.Timer(self.rng.uniform(3.0, 12.0), lambda: setattr(self.receiver, "down", False))
        self._sink_timer.start()

    # -- the run ---------------------------------------------------------------------------------

    def run(self) -> tuple[list[Check], dict[str, int], float]:
        started = time.monotonic()
        if self.cfg.postgres:
            self.pg = ThrowawayPostgres().start()
            self.pgf = PostgresFaults(self.pg, self.rng, self.daemon.url, lambda: self.daemon.token)
        try:
            return self._run(started)
        finally:
            if self.pg is not None:
                self.pg.destroy()

    def _run(self, started: float) -> tuple[list[Check], dict[str, int], float]:
        self.receiver.start()
        self.daemon.extra_env = self._env()
        self.daemon.start()
        cluster = self.daemon.cluster_id()
        self._api("POST", "/v1/policies", json={"text": _policy(self.cfg.capped_limit, self.cfg.hostile),
                                                "source": "chaos"})
        self.tenant = HostileTenant(self.daemon.url, self.daemon.token) if self.cfg.hostile else None
        kills_done = lambda: sum(n for k, n in self.faults.counts.items() if k.startswith("sigkill"))  # noqa: E731
        pg_left = lambda: self.pgf is not None and self.pgf.done < self.cfg.pg_restarts  # noqa: E731
        try:
            while time.monotonic() - started < self.cfg.timeout_s:
                unfinished = self._unfinished()
                if self.tenant and self.tenant.waves < 2 and len(self.job_ids) >= self.cfg.jobs * self.tenant.waves / 2:
                    self.tenant.wave()  # at the start and half way through the workload
                room = self.cfg.concurrency - len(unfinished)
                to_submit = min(max(room, 0), self.cfg.jobs - len(self.job_ids))
                if to_submit:
                    self._submit(to_submit)
                    if self.faults.counts["sigkill mid-launch"] * 3 < self.cfg.kills and self.rng.random() < 0.5:
                        time.sleep(self.rng.uniform(0.3, 1.2))  # the next reconcile pass is launching them
                        self._restart("sigkill mid-launch")
                        continue
                if (len(self.job_ids) >= self.cfg.jobs and not unfinished and kills_done() >= self.cfg.kills
                        and not pg_left()):
                    break
                if not self.edge_done:
                    self._budget_edge()
                if (len(self.job_ids) >= self.cfg.jobs and kills_done() >= self.cfg.kills and not pg_left()
                        and all(self.faults.counts[k] for k in self._kinds)):
                    # draining: every job is in, every fault owed was dealt and each kind hit at least once.
                    # Faulting on from here would preempt or crash the last few jobs over and over until one
                    # happened to outlive the fault rate -- a random walk that once made up half a run's time
                    time.sleep(0.5)
                    continue
                progress = len(self.job_ids) / self.cfg.jobs
                if pg_left() and self.rng.random() < 0.03 + max(0.0, progress - 0.6):
                    self._pg_restart()
                self._random_fault(kills_done() < self.cfg.kills, progress)
                time.sleep(self.rng.uniform(0.2, 1.0))
            self.receiver.down = False
            waited = self.tenant.cancel_infeasible() if self.tenant else {}
            self._settle()
            received = Counter(self.receiver.received)
        finally:
            if self._sink_timer:
                self._sink_timer.cancel()
            self.receiver.down = False
            self.daemon.stop()
            for pid in processes.cluster_pids(cluster):
                os.kill(pid, signal.SIGKILL)
        exp = Expectations(should_fail=self.should_fail, acknowledged=set(self.job_ids), capped_team=CAPPED,
                           capped_limit_usd=self.cfg.capped_limit, budget_interval_s=BUDGET_INTERVAL,
                           stop_grace_s=STOP_GRACE,
                           stops_interval_s=STOPS_INTERVAL, outages=list(self.outages),
                           wait_bound_s=CAPACITY_BLOCK + RECONCILE_INTERVAL, hostile_team=HOSTILE)
        checks = check_all(self.database_url, self.home, cluster, received, exp)
        if self.tenant is not None:
            checks.append(hostile_check(self.database_url, self.tenant, waited))
        if self.pgf is not None:
            checks.append(Check("API answered 503 JSON while the database was down", *self.pgf.api_check()))
        self.receiver.stop()
        return checks, self._fault_counts(), time.monotonic() - started

    def _random_fault(self, need_kills: bool, progress: float) -> None:
        roll = self.rng.random()
        # spread the kills over the workload: more likely when behind schedule
        if need_kills and roll < 0.25 + max(0.0, progress - 0.5):
            if self.rng.random() < 0.5:
                self._kill_mid_alert()
            else:
                self._restart("sigkill at random")
        elif roll < 0.45:
            self._preempt()
        elif roll < 0.6:
            self._agent_crash()
        elif roll < 0.67 and self.cfg.sink_outages:
            self._sink_down()

    def _settle(self, timeout: float = 90.0) -> None:
        """No more faults: wait for alerts delivered, instances ended and the ledger caught up (a ledger pass
        has charged every ended instance to its end: a condition, not a fixed wait for "one more pass")."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alerts = self._api("GET", "/v1/alerts", params={"limit": 500})["items"]  # the API's most
            assert len(alerts) < 500, "over 500 alerts: the settle check cannot see them all; shorten the run"
            pending = [a for a in alerts if not a["deliveries"] or any(d["state"] != "delivered"
                                                                         for d in a["deliveries"])]
            open_instances = self._api("GET", "/v1/instances")["items"]
            if (not pending and not open_instances and not self._unfinished() and not self._unfinished(hostile=True)
                    and ledger_caught_up(self.database_url)):
                return
            time.sleep(0.5)

    def _fault_counts(self) -> dict[str, int]:
        counts = dict(self.faults.counts)
        if self.fault_log.exists():
            for line in self.fault_log.read_text().splitlines():
                entry = json.loads(line)
                key = f"cloud API {entry['kind']} ({entry['op']})"
                counts[key] = counts.get(key, 0) + 1
        return counts
