"""The smaller chaos workload on AWS-on-moto: a real `spotwise serve` configured for AWS, its endpoint a moto
front that injects EC2 faults (tests/fakes/moto_relay.py), while the harness SIGKILLs the daemon (at random and
right after a launch wave), preempts instances and lets agents go silent.

What "final" means here, honestly: a moto instance runs no command and no agent. The harness stands in for
each instance's agent, with the attempt's own agent token, as the real one would: it reports in (the attempt
turns RUNNING), heartbeats, and after a drawn run time reports the exit code (0, or 3 for jobs meant to fail).
The daemon then ends the attempt and terminates the VM (the orphan sweep of a tagged instance with no active
attempt). A few jobs are cancelled, which terminates their instance. So every job must end SUCCEEDED, FAILED
or CANCELLED as meant, through the daemon's real handling of the instance lifecycle on EC2's API.

Preemption, as AWS does it: an "EC2 Spot Instance Interruption Warning" event in the interruption queue
(`spotwise providers setup aws` made it), then the instance terminated in moto; some are terminated with no
notice. A silent agent (a hung VM) is ended by the daemon's heartbeat timeout.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx

from orchestrator.agentkey import load_agent_key
from orchestrator.cli.demo import free_port
from orchestrator.store.db import make_engine, make_session_factory, transaction
from orchestrator.tokens import agent_token
from tests.chaos.aws_invariants import check_aws
from tests.chaos.invariants import Check, ledger_caught_up
from tests.e2e.conftest import Daemon
from tests.e2e.wheel import agent_wheel_env
from tests.fakes.moto_relay import EC2Faults, MotoFront
from tests.providers.aws.conftest import AMI, REGION

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}
FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
HEARTBEAT_TIMEOUT = 6.0


@dataclass
class AwsChaosConfig:
    seed: int = 1
    jobs: int = 24
    kills: int = 6
    preemptions: int = 4  # at least
    error_rate: float = 0.1
    concurrency: int = 6
    timeout_s: float = 600.0


@dataclass
class Agent:
    """The harness's stand-in for one attempt's agent."""

    token: str
    exit_code: int
    run_s: float
    started: float | None = None
    silent: bool = False
    done: bool = False


@dataclass
class AwsChaosRun:
    cfg: AwsChaosConfig
    workdir: Path
    rng: random.Random = field(init=False)
    faults: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.cfg.seed)
        self.home = self.workdir / "home"
        self.home.mkdir(parents=True)
        self.job_ids: list[str] = []
        self.should_fail: set[str] = set()
        self.cancelled: set[str] = set()
        self.agents: dict[str, Agent] = {}
        self.agent_errors: list[str] = []
        self._agents_lock = threading.Lock()
        self._agent_rng = random.Random(f"agents:{self.cfg.seed}")  # its own: the agents run in their own thread
        self._stop_agents = threading.Event()
        self._secret: bytes | None = None

    # -- set-up ------------------------------------------------------------------------------------

    def _daemon(self, front: MotoFront) -> Daemon:
        providers = {"aws": {"regions": [REGION], "endpoint_url": front.url, "ami": AMI, "max_attempts": 2,
                             "connect_timeout": 2, "read_timeout": 20}}
        env = {"SPOTWISE_PROVIDERS": json.dumps(providers), "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
               "SPOTWISE_RECONCILE_INTERVAL_SECONDS": "1", "SPOTWISE_HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT),
               "SPOTWISE_PROVISIONING_TIMEOUT_SECONDS": "30", "SPOTWISE_RETRY_BACKOFF_SECONDS": "0.5",
               "SPOTWISE_CAPACITY_BLOCK_SECONDS": "2", "SPOTWISE_RECLAIMED_POOL_BLOCK_SECONDS": "2",
               "SPOTWISE_LEDGER_INTERVAL_SECONDS": "1",
               "SPOTWISE_ALLOW_LOOPBACK_PUBLIC_URL": "true"}  # moto's "instances" run on this machine
        env.update(agent_wheel_env(self.home))  # built once per source tree (tests/e2e/wheel.py)
        return Daemon(home=self.home, port=free_port(), extra_env=env)

    def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        for _ in range(150):  # the daemon may be between a kill and its restart
            try:
                return self.daemon.api(method, path, **kwargs)
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"daemon unreachable for {method} {path}")

    def _agent_token(self, attempt_id: str) -> str:
        if self._secret is None:  # what the daemon puts into each VM's start-up script
            engine = make_engine(f"sqlite:///{self.home / 'spotwise.db'}")
            with transaction(make_session_factory(engine)) as s:
                self._secret = load_agent_key(s, self.home)
            engine.dispose()
        return agent_token(self._secret, attempt_id)

    # -- workload and the stand-in agents --------------------------------------------------------------

    def _submit(self, n: int) -> None:
        for _ in range(n):
            i = len(self.job_ids)
            body = {"name": f"aws-chaos-{i}", "team": "t0", "run": "python train.py", "max_restarts": 100,
                    "resources": {"accelerators": "A10G:1", "spot": self.rng.random() < 0.8, "clouds": ["aws"]}}
            job_id = str(self._api("POST", "/v1/jobs", json=body)["id"])
            self.job_ids.append(job_id)
            if self.rng.random() < 0.15:
                self.should_fail.add(job_id)

    def _states(self) -> dict[str, str]:
        items = self._api("GET", "/v1/jobs", params={"limit": 500})["items"]
        return {j["id"]: j["state"] for j in items}

    def _agent_post(self, attempt_id: str, agent: Agent, what: str, body: dict[str, Any]) -> dict[str, Any] | None:
        try:
            r = httpx.post(f"{self.daemon.url}/v1/agent/attempts/{attempt_id}/{what}", json=body, timeout=10,
                           headers={"Authorization": f"Bearer {agent.token}"})
        except httpx.TransportError:
            return None  # the daemon is down: the agent tries again on its next beat
        if r.status_code == 409:  # the attempt already ended (preempted, lost, cancelled)
            agent.done = True
            return None
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    def _agents_loop(self) -> None:
        """The stand-in agents, beating every second in their own thread as real agents do, whatever the
        harness is busy with (a daemon restart, a preemption)."""
        while not self._stop_agents.wait(1.0):
            try:
                self._beat()
            except (httpx.HTTPError, RuntimeError) as exc:  # a daemon in the middle of a restart
                self.agent_errors.append(repr(exc))

    def _beat(self) -> None:
        """One beat of every agent of an instance the daemon has open (a LAUNCHED or RUNNING attempt)."""
        try:
            rows = self.daemon.api("GET", "/v1/instances")["items"]
        except httpx.TransportError:
            return
        for row in rows:
            attempt_id = row["attempt_id"]
            with self._agents_lock:
                agent = self.agents.get(attempt_id)
                if agent is None:
                    agent = self.agents[attempt_id] = Agent(
                        token=self._agent_token(attempt_id), exit_code=3 if row["job_id"] in self.should_fail else 0,
                        run_s=self._agent_rng.uniform(0.5, 3.0))
                if agent.silent or agent.done:
                    continue
            now = time.monotonic()
            if agent.started is not None and now - agent.started >= agent.run_s:
                if self._agent_post(attempt_id, agent, "exit", {"exit_code": agent.exit_code}) is not None:
                    agent.done = True
                continue
            answer = self._agent_post(attempt_id, agent, "heartbeat", {"phase": "running"})
            if answer is not None and agent.started is None:
                agent.started = now
            if answer is not None and answer.get("action") == "stop":
                agent.done = True

    # -- faults ------------------------------------------------------------------------------------------

    def _restart(self, kind: str) -> None:
        self.daemon.kill9()
        self.faults[kind] += 1
        time.sleep(self.rng.uniform(0.05, 0.8))
        self.daemon.start()

    def _live_instances(self) -> list[dict[str, Any]]:
        return [i for i in self._api("GET", "/v1/instances")["items"] if i["state"] != "terminated"]

    def _preempt(self) -> None:
        live = self._live_instances()
        if not live:
            return
        target = self.rng.choice(live)
        noticed = self.rng.random() < 0.7
        if noticed:
            event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "EC2 Spot Instance Interruption Warning",
                     "source": "aws.ec2", "account": "123456789012", "region": REGION,
                     "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "resources": [],
                     "detail": {"instance-id": target["id"], "instance-action": "terminate"}}
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(event))
            time.sleep(self.rng.uniform(0.2, 1.5))
        self.ec2.terminate_instances(InstanceIds=[target["id"]])  # the cloud reclaims it
        self.faults["preemption (notice + terminate)" if noticed else "instance vanished (no notice)"] += 1

    def _silence(self) -> None:
        with self._agents_lock:
            live = [a for a in self.agents.values() if a.started is not None and not a.done and not a.silent]
            if live:
                self.rng.choice(live).silent = True
                self.faults["agent silent (hung VM)"] += 1

    def _cancel(self) -> None:
        open_jobs = [j for j in self.job_ids if j not in self.cancelled]
        if open_jobs:
            job_id = self.rng.choice(open_jobs)
            try:
                self.daemon.api("POST", f"/v1/jobs/{job_id}/cancel")
            except httpx.HTTPStatusError:
                return  # already final
            except httpx.TransportError:
                return
            self.cancelled.add(job_id)
            self.faults["job cancelled"] += 1

    def _random_fault(self, need_kills: bool, need_preempts: bool, progress: float) -> None:
        roll = self.rng.random()
        if need_kills and roll < 0.15 + max(0.0, progress - 0.5):
            self._restart("sigkill at random")
        elif roll < 0.35 or (need_preempts and progress > 0.7 and roll < 0.6):
            self._preempt()
        elif roll < 0.4:
            self._silence()
        elif roll < 0.45:
            self._cancel()

    # -- the run -------------------------------------------------------------------------------------

    def run(self) -> tuple[list[Check], dict[str, int], float]:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log

        started = time.monotonic()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        front = MotoFront(endpoint, faults=EC2Faults(self.cfg.seed, self.cfg.error_rate,
                                                     self.workdir / "faults.jsonl"))
        front.start()
        self.ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint, **CREDENTIALS)
        self.sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint, **CREDENTIALS)
        self.daemon = self._daemon(front)
        try:
            self.daemon.start()
            setup = json.loads(self.daemon.cli("providers", "setup", "aws", "-o", "json", check=True).stdout)
            self.queue_url = setup["setup"]["setup_interruption_events"][REGION]
            cluster = self.daemon.cluster_id()
            agents = threading.Thread(target=self._agents_loop, daemon=True, name="chaos-agents")
            agents.start()
            try:
                self._loop(started)
                self._settle()
            finally:
                self._stop_agents.set()
                agents.join(timeout=15)
            checks = check_aws(self.home / "spotwise.db", self.ec2, cluster, self, front)
        finally:
            self.daemon.stop()
            front.stop()
            moto.stop()
        counts = dict(self.faults)
        counts.update(front.faults)
        counts["ClientToken repeats answered with the first launch"] = front.token_repeats
        return checks, counts, time.monotonic() - started

    def _loop(self, started: float) -> None:
        kills = lambda: sum(n for k, n in self.faults.items() if k.startswith("sigkill"))  # noqa: E731
        preempts = lambda: sum(n for k, n in self.faults.items() if k.startswith(("preempt", "instance")))  # noqa: E731
        while time.monotonic() - started < self.cfg.timeout_s:
            states = self._states()
            unfinished = [j for j in self.job_ids if states.get(j) not in FINAL]
            room = self.cfg.concurrency - len(unfinished)
            to_submit = min(max(room, 0), self.cfg.jobs - len(self.job_ids))
            if to_submit:
                self._submit(to_submit)
                if self.faults["sigkill mid-launch"] * 3 < self.cfg.kills and self.rng.random() < 0.5:
                    time.sleep(self.rng.uniform(0.3, 1.2))  # the next reconcile pass is launching them
                    self._restart("sigkill mid-launch")
                continue
            if (len(self.job_ids) >= self.cfg.jobs and not unfinished and kills() >= self.cfg.kills
                    and preempts() >= self.cfg.preemptions):
                return
            if not unfinished and len(self.job_ids) >= self.cfg.jobs:  # faults still owed: one more wave
                self.cfg.jobs += 2
            if len(self.job_ids) >= self.cfg.jobs and kills() >= self.cfg.kills and preempts() >= self.cfg.preemptions:
                time.sleep(0.5)  # draining: no more faults, or the last jobs are preempted until one outlives the rate
                continue
            self._random_fault(kills() < self.cfg.kills, preempts() < self.cfg.preemptions,
                               len(self.job_ids) / self.cfg.jobs)
            time.sleep(self.rng.uniform(0.2, 0.6))

    def _settle(self, timeout: float = 90.0) -> None:
        """No more faults: agents finish, the daemon terminates every VM and closes every instance row."""
        deadline = time.monotonic() + timeout
        with self._agents_lock:
            for agent in self.agents.values():
                agent.silent = False
        while time.monotonic() < deadline:
            states = self._states()
            live = [i for r in self.ec2.describe_instances()["Reservations"] for i in r["Instances"]
                    if i["State"]["Name"] != "terminated"]
            if (all(states.get(j) in FINAL for j in self.job_ids) and not live and not self._live_instances()
                    and ledger_caught_up(f"sqlite:///{self.home / 'spotwise.db'}")):
                return
            time.sleep(0.5)


def render(seed: int, jobs: int, checks: list[Check], faults: dict[str, int], seconds: float) -> str:
    from tests.chaos.__main__ import render as render_table

    return render_table(seed, jobs, checks, faults, seconds).replace("chaos run:", "AWS-on-moto chaos run:", 1)


def main(args: argparse.Namespace) -> int:
    cfg = AwsChaosConfig(seed=args.seed, jobs=args.jobs or 24, kills=6 if args.kills is None else args.kills,
                         error_rate=0.1 if args.error_rate is None else args.error_rate,
                         concurrency=min(args.concurrency, 6))
    with tempfile.TemporaryDirectory(prefix="spotwise-chaos-aws-") as tmp:
        checks, faults, seconds = AwsChaosRun(cfg, args.keep or Path(tmp)).run()
    print(render(cfg.seed, cfg.jobs, checks, faults, seconds))
    return 0 if all(c.ok for c in checks) else 1
