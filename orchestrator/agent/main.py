"""The agent's life for one attempt: fetch the spec, run setup then run, report, exit.

Configuration comes from the environment the start-up script (or the local provider) sets:
SPOTWISE_URL, SPOTWISE_AGENT_TOKEN, SPOTWISE_ATTEMPT_ID, SPOTWISE_WORK_ROOT, SPOTWISE_NOTICE
and, on the local provider, SPOTWISE_PATH_PREFIX (the instance's private "disk").
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from orchestrator.agent.client import AgentClient, DaemonRefused
from orchestrator.agent.gpu import NvmlReader, mean_utilization
from orchestrator.agent.notices import NoticeWatcher, watcher_for
from orchestrator.agent.runner import JobProcess, LogPump

STOP_GRACE_SECONDS = 10.0
_HIDDEN_FROM_JOB = ("SPOTWISE_AGENT_TOKEN",)  # the job never sees the agent's credential


def _log(message: str) -> None:
    print(f"spotwise-agent: {message}", file=sys.stderr, flush=True)


class Agent:
    def __init__(self, client: AgentClient, work_root: Path, notice: NoticeWatcher | None,
                 path_prefix: str = "") -> None:
        self.client = client
        self.work_root = work_root
        self.notice = notice
        self.path_prefix = path_prefix
        self.phase = "starting"
        self.job: JobProcess | None = None
        self.stopped_by_daemon = threading.Event()
        self.preempted = threading.Event()
        self.done = threading.Event()
        self.gpu = NvmlReader.open()

    def _job_env(self, spec: dict[str, Any], checkpoint_dir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _HIDDEN_FROM_JOB}
        env.update(spec.get("env") or {})
        env.update({
            "SPOTWISE_JOB_ID": spec["job_id"], "SPOTWISE_ATTEMPT": str(spec["attempt_number"]),
            "SPOTWISE_CHECKPOINT_DIR": str(checkpoint_dir), "SPOTWISE_RESUMED": "1" if spec["resumed"] else "0",
        })
        return env

    def _checkpoint_dir(self, spec: dict[str, Any]) -> Path:
        configured = spec.get("checkpoint_dir")
        if not configured:
            return self.work_root / "checkpoint"
        return Path(self.path_prefix + configured) if self.path_prefix else Path(configured)

    def _heartbeats(self, interval: float) -> None:
        while not self.done.wait(interval):
            util = mean_utilization(self.gpu.sample()) if self.gpu else None
            try:
                answer = self.client.heartbeat(self.phase, util)
            except (TimeoutError, DaemonRefused) as exc:
                _log(f"heartbeat failed: {exc}")
                continue
            if answer.get("action") == "stop" and not self.stopped_by_daemon.is_set():
                _log(f"daemon asked to stop: {answer.get('reason')}")
                self.stopped_by_daemon.set()
                if self.job:
                    self.job.stop(STOP_GRACE_SECONDS)

    def _watch_notice(self) -> None:
        assert self.notice is not None
        notice = self.notice.wait(self.done)
        if notice is None:
            return
        _log(f"preemption notice: {notice}")
        self.preempted.set()
        if self.job:
            self.job.stop(max(1.0, notice.seconds_left() - 1.0))

    def run(self) -> int:
        spec = self.client.spec()
        if not spec.get("active", True):
            _log("attempt is no longer active; nothing to do")
            return 0
        workdir = self.work_root / "job"
        workdir.mkdir(parents=True, exist_ok=True)
        checkpoint_dir = self._checkpoint_dir(spec)
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        env = self._job_env(spec, checkpoint_dir)
        pump = LogPump(self.client)
        pump.start()
        threading.Thread(target=self._heartbeats, args=(spec["heartbeat_interval_seconds"],), daemon=True).start()
        if self.notice:
            threading.Thread(target=self._watch_notice, daemon=True).start()
        self.client.heartbeat("starting", None)
        code = 0
        for phase in ("setup", "run"):
            command = spec.get(phase)
            if not command or self.stopped_by_daemon.is_set() or self.preempted.is_set():
                continue
            self.phase = "setup" if phase == "setup" else "running"
            self.job = JobProcess(command, cwd=str(workdir), env=env, pump=pump)
            code = self.job.wait()
            if code != 0:
                break
        self.done.set()
        pump.close()
        if self.stopped_by_daemon.is_set():
            return 0
        message = "" if code == 0 or self.phase != "setup" else "setup failed"
        try:
            self.client.exit(code, preempted=self.preempted.is_set(), message=message)
        except DaemonRefused as exc:
            _log(f"exit report refused: {exc}")
        return 0


def main() -> int:
    try:
        url = os.environ["SPOTWISE_URL"]
        token = os.environ["SPOTWISE_AGENT_TOKEN"]
        attempt_id = os.environ["SPOTWISE_ATTEMPT_ID"]
    except KeyError as missing:
        _log(f"missing environment variable {missing}; the start-up script sets it")
        return 2
    work_root = Path(os.environ.get("SPOTWISE_WORK_ROOT", "/var/lib/spotwise/work"))
    client = AgentClient(url, token, attempt_id)
    agent = Agent(client, work_root, watcher_for(os.environ.get("SPOTWISE_NOTICE", "")),
                  os.environ.get("SPOTWISE_PATH_PREFIX", ""))

    def _forward(signum: int, _frame: object) -> None:  # instance shutdown: the job goes down with us
        if agent.job:
            agent.job.signal(signum)

    signal.signal(signal.SIGTERM, _forward)
    try:
        return agent.run()
    except (TimeoutError, DaemonRefused) as exc:
        _log(str(exc))
        return 1
    finally:
        client.close()
