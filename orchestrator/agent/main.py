"""The agent's life for one attempt: fetch the spec, run setup then run, report, exit.

Configuration comes from the environment the start-up script (or the local provider) sets:
SPOTWISE_URL, SPOTWISE_BOOTSTRAP_TOKEN (exchanged once for the agent token: session.py), SPOTWISE_IDENTITY,
SPOTWISE_ATTEMPT_ID, SPOTWISE_WORK_ROOT, SPOTWISE_NOTICE
and, on the local provider, SPOTWISE_PATH_PREFIX (the instance's private "disk") and SPOTWISE_NODE_IP.

On a multi-node (gang) attempt the token names this node; the spec answer says its rank and the gang's size.
Every node restores the latest checkpoint, meets the others (gang.py), then runs the job; rank 0 alone
uploads checkpoints (periodic, rebalance, final), so N nodes never race to write the same versions.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from orchestrator.agent.client import AgentClient, DaemonRefused
from orchestrator.agent.container import (  # container images
    container_env,
    container_name,
    docker_argv,
    remove_container,
    shell_command,
)
from orchestrator.agent.gang import gang_env, meet, own_ip
from orchestrator.agent.gpu import NvmlReader, mean_utilization, total_power_watts
from orchestrator.agent.notices import HINTS, REBALANCE, Notice, NoticeWatcher, watcher_for
from orchestrator.agent.prepare import PrepareFailed, after_restart, mount_path, prepare, record_job_group
from orchestrator.agent.runner import JobProcess, LogPump, start_failure
from orchestrator.agent.session import SECRET_ENV, session_token
from orchestrator.agent.sync import CheckpointSync
from orchestrator.checkpoint import CheckpointStorageError, CheckpointStore

STOP_GRACE_SECONDS = 10.0
_HIDDEN_FROM_JOB = (*SECRET_ENV, "SPOTWISE_CLAIM_FILE")  # the job never sees the agent's credentials


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
        self.checkpoint_stop = threading.Event()  # a budget/cap stop: checkpoint, then exit
        self.preempted = threading.Event()
        self.done = threading.Event()
        self.gpu = NvmlReader.open()
        self.sync: CheckpointSync | None = None
        self.notice_seen: Notice | None = None
        self.stop_signal = signal.SIGTERM
        self.stop_grace = STOP_GRACE_SECONDS
        self.rank = 0  # this node's rank in a gang; rank 0 owns checkpoint uploads

    def _open_sync(self, spec: dict[str, Any], checkpoint_dir: Path) -> CheckpointSync | None:
        ckpt = spec.get("checkpoint") or {}
        self.stop_signal = signal.Signals[ckpt.get("stop_signal") or "SIGTERM"]
        self.stop_grace = float(ckpt.get("grace_seconds") or STOP_GRACE_SECONDS)
        if not ckpt.get("store"):
            return None
        try:
            store = CheckpointStore(ckpt["store"])
        except CheckpointStorageError as exc:
            _log(f"checkpoint store unusable, checkpoints stay on this instance: {exc}")
            return None
        return CheckpointSync(store, checkpoint_dir, interval=float(ckpt.get("interval_seconds") or 600),
                              keep=int(ckpt.get("keep") or 3),
                              report=self.client.checkpoint if self.rank == 0 else lambda _report: None, log=_log)

    def _job_env(self, spec: dict[str, Any], checkpoint_dir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _HIDDEN_FROM_JOB}
        env.update(spec.get("env") or {})
        env.update(spec.get("secrets") or {})  # job secrets: from the authenticated spec response only; never logged
        env.update({
            "SPOTWISE_JOB_ID": spec["job_id"], "SPOTWISE_ATTEMPT": str(spec["attempt_number"]),
            "SPOTWISE_CHECKPOINT_DIR": str(checkpoint_dir), "SPOTWISE_RESUMED": "1" if spec["resumed"] else "0",
            # SkyPilot's names (a task file's `run` reads them); the node rank and addresses come with gang_env.
            # The task id is the job's: like a SkyPilot managed job's, it stays the same across recoveries.
            "SKYPILOT_TASK_ID": spec["job_id"], "SKYPILOT_NUM_GPUS_PER_NODE": str(int(spec.get("gpus_per_node") or 0)),
        })
        return env

    def _checkpoint_dir(self, spec: dict[str, Any]) -> Path:
        configured = spec.get("checkpoint_dir")
        if not configured:
            return self.work_root / "checkpoint"
        return Path(self.path_prefix + configured) if self.path_prefix else Path(configured)

    def _phases(self, spec: dict[str, Any], workdir: Path, checkpoint_dir: Path,
                env: dict[str, str]) -> list[tuple[str, str | None, dict[str, str]]]:
        """(phase, shell command, env): setup then run on the host, or one container running both."""
        if not spec.get("image"):
            return [("setup", spec.get("setup"), env), ("run", spec.get("run"), env)]
        inside = spec.get("checkpoint_dir") or "/checkpoint"
        passed = list(spec.get("env") or {}) + list(spec.get("secrets") or {})
        docker_env, names = container_env(env, spec.get("setup"), spec["run"], inside, passed)
        mounts = {mount_path(p, self.path_prefix): p for p in spec.get("file_mounts") or {}}
        argv = docker_argv(spec["image"], name=self._container(spec), workdir=workdir,
                           checkpoint_dir=checkpoint_dir, container_checkpoint_dir=inside, env_names=names,
                           stop_signal=self.stop_signal.name, grace_seconds=self.stop_grace,
                           gpus=self.gpu is not None, mounts=mounts, num_nodes=int(spec.get("num_nodes") or 1))
        return [("run", shell_command(argv), docker_env)]

    @staticmethod
    def _container(spec: dict[str, Any]) -> str:
        """One container per attempt, per node on a gang (nodes may share a host, as on the local provider)."""
        gang = int(spec.get("num_nodes") or 1) > 1
        return container_name(spec["attempt_id"] + (f"-node{spec.get('node_rank') or 0}" if gang else ""))

    def _meet(self, spec: dict[str, Any]) -> list[str] | None:
        """Every node's address in rank order (just this node's on a one-node attempt); None: stop instead."""
        ip = own_ip(self.client.base_url)
        if int(spec.get("num_nodes") or 1) <= 1:
            return [ip]
        ips = meet(self.client, ip, lambda: self.stopped_by_daemon.is_set() or self.preempted.is_set(), _log)
        if ips is None and not self.preempted.is_set():
            _log("the attempt ended before every node of the gang came up; not starting the job")
            self.stopped_by_daemon.set()
        return ips

    def _heartbeats(self, interval: float) -> None:
        while not self.done.wait(interval):
            readings = self.gpu.sample() if self.gpu else []
            util = mean_utilization(readings)
            try:
                answer = self.client.heartbeat(self.phase, util, total_power_watts(readings))
            except (TimeoutError, DaemonRefused) as exc:
                _log(f"heartbeat failed: {exc}")
                if isinstance(exc, DaemonRefused) and exc.status == 401:  # the attempt ended and its token expired
                    self.stopped_by_daemon.set()
                continue
            if answer.get("action") == "checkpoint_and_stop" and not self.checkpoint_stop.is_set():
                grace = float(answer.get("grace_seconds") or self.stop_grace)
                _log(f"daemon asked for a checkpoint and a stop ({answer.get('reason')}); {grace:.0f}s grace")
                self.checkpoint_stop.set()
                if self.job:  # keep a third of the grace for the final upload, as for a preemption notice
                    self.job.stop(max(1.0, min(self.stop_grace, grace * 2 / 3)), self.stop_signal)
            if answer.get("action") == "stop" and not self.stopped_by_daemon.is_set():
                _log(f"daemon asked to stop: {answer.get('reason')}")
                self.stopped_by_daemon.set()
                if self.job:
                    self.job.stop(STOP_GRACE_SECONDS)

    def _watch_notice(self) -> None:
        assert self.notice is not None
        while True:
            notice = self.notice.wait(self.done)
            if notice is None:
                return
            if notice.action not in HINTS:
                break
            what = "rebalance recommendation" if notice.action == REBALANCE else "host live migration ahead"
            _log(f"{what}: uploading a checkpoint now")
            if self.sync and self.rank == 0:
                self.sync.upload_now(what)
        _log(f"preemption notice: {notice}")
        self.notice_seen = notice
        self.preempted.set()
        if self.job:
            # Leave time after the job's own checkpoint write for the upload (a third of the notice, at most 30 s).
            reserve = min(30.0, notice.seconds_left() / 3) if self.sync else 1.0
            grace = max(1.0, min(self.stop_grace, notice.seconds_left() - reserve))
            _log(f"sending {self.stop_signal.name} to the job; {grace:.1f}s to checkpoint and exit")
            self.job.stop(grace, self.stop_signal)

    def run(self) -> int:
        spec = self.client.spec()
        if not spec.get("active", True):
            _log("attempt is no longer active; nothing to do")
            return 0
        self.rank = int(spec.get("node_rank") or 0)
        workdir = self.work_root / "job"
        workdir.mkdir(parents=True, exist_ok=True)
        checkpoint_dir = self._checkpoint_dir(spec)
        try:
            checkpoint_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # the spec's checkpoint.dir (e.g. under /proc): the job's failure, not the instance's
            code, why = start_failure(f"checkpoint.dir {checkpoint_dir}", exc)
            _log(why)
            self.client.exit(code, message=why[:2000])
            return 0
        after_restart(self.client, self.work_root, _log)  # a supervisor restart is reported
        try:
            prepare(self.client, spec, workdir, self.path_prefix, _log)  # workdir digest, file_mounts
        except PrepareFailed as exc:
            _log(str(exc))
            self.client.exit(1, message=str(exc)[:2000])
            return 0
        self.sync = self._open_sync(spec, checkpoint_dir)
        restored = self.sync.restore() if self.sync else None
        env = self._job_env(spec, checkpoint_dir)
        if restored is not None:
            env["SPOTWISE_RESUMED"] = "1"
        pump = LogPump(self.client, prefix=f"(rank {self.rank}) " if int(spec.get("num_nodes") or 1) > 1 else "")
        pump.start()
        threading.Thread(target=self._heartbeats, args=(spec["heartbeat_interval_seconds"],), daemon=True).start()
        if self.notice:
            threading.Thread(target=self._watch_notice, daemon=True).start()
        self.client.heartbeat("starting", None)
        ips = self._meet(spec)  # a gang starts its job once every node is up
        if ips is not None:
            env.update(gang_env(self.rank, ips))
        if self.sync and self.rank == 0:
            self.sync.start()
        code, start_error = 0, ""
        for phase, command, phase_env in self._phases(spec, workdir, checkpoint_dir, env):  # container images
            if not command or self.stopped_by_daemon.is_set() or self.preempted.is_set() or \
                    self.checkpoint_stop.is_set():
                continue
            self.phase = "setup" if phase == "setup" else "running"
            try:
                self.job = JobProcess(command, cwd=str(workdir), env=phase_env, pump=pump)
            except (OSError, ValueError) as exc:  # the job's own spec cannot start: a user failure, not the agent's
                code, start_error = start_failure(f"{phase} command", exc)
                _log(start_error)
                pump.write("stderr", start_error + "\n")
                break
            record_job_group(self.work_root, self.job.proc.pid)
            code = self.job.wait()
            if code != 0:
                break
        self.done.set()
        if spec.get("image"):
            remove_container(self._container(spec))
        if self.sync and self.rank == 0:  # the job stopped: its last checkpoint goes up before we report or the VM goes
            self.sync.stop()
            self.sync.upload_now("preemption" if self.preempted.is_set() else "job stopped")
        if self.notice_seen is not None and self.notice is not None:
            try:
                self.notice.acknowledge(self.notice_seen)  # Azure: proceed now, the checkpoint is safe
            except Exception as exc:  # noqa: BLE001 - the cloud proceeds at NotBefore anyway
                _log(f"acknowledging the notice failed: {exc}")
        pump.close()
        if self.stopped_by_daemon.is_set():
            return 0
        message = start_error or ("" if code == 0 or self.phase != "setup" else "setup failed")
        try:
            self.client.exit(code, preempted=self.preempted.is_set(), message=message)
        except DaemonRefused as exc:
            _log(f"exit report refused: {exc}")
        return 0


def main() -> int:
    work_root = Path(os.environ.get("SPOTWISE_WORK_ROOT", "/var/lib/spotwise/work"))
    try:
        url = os.environ["SPOTWISE_URL"]
        attempt_id = os.environ["SPOTWISE_ATTEMPT_ID"]
        token = session_token(os.environ, work_root, _log)  # the bootstrap exchange
    except KeyError as missing:
        _log(f"missing environment variable {missing}; the start-up script sets it")
        return 2
    except (TimeoutError, DaemonRefused) as exc:
        _log(f"no agent token: {exc}")
        return 1
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
