"""`spotwise demo`: the whole system on one laptop, no cloud account, in well under two minutes.

Starts a real daemon (SQLite + the local provider) in a temporary home as a subprocess, submits
the example training job from `examples/`, shows its progress and ends with state, runtime and
cost. The daemon is stopped with SIGTERM at the end, as an operator would.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from orchestrator.cli import demo_spending
from orchestrator.cli.client import Client, CliError
from orchestrator.cli.console import make_console
from orchestrator.client import SpotwiseError
from orchestrator.config import Settings
from orchestrator.jobs.specfile import load_spec_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LOG_TAIL_LINES = 20  # of the daemon's log, shown when it does not start
JOB_TIMEOUT_S = 300.0  # the example job takes ~15 s; one not done in 5 minutes will not finish on its own


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_daemon(home: Path, port: int, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SPOTWISE_HOME": str(home), "SPOTWISE_PORT": str(port), "SPOTWISE_LOG_FORMAT": "json",
           "SPOTWISE_RECONCILE_INTERVAL_SECONDS": "0.5", "SPOTWISE_HEARTBEAT_INTERVAL_SECONDS": "1",
           **(extra_env or {})}
    for key in ("SPOTWISE_URL", "SPOTWISE_TOKEN", "SPOTWISE_DATABASE_URL", "SPOTWISE_CONFIG"):
        env.pop(key, None)
    log = open(home / "daemon.log", "ab")  # noqa: SIM115 - handed to the child, closed when it exits
    return subprocess.Popen([sys.executable, "-m", "orchestrator", "serve"], env=env, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CliError(f"the daemon exited with code {proc.returncode} while starting")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise CliError(f"the daemon did not become healthy within {timeout:g}s")


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last `lines` lines of a log file ([] when there is none yet)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


def show_log_tail(path: Path) -> None:
    """The end of the daemon's log on stderr, as written (it names what stopped the daemon)."""
    err = make_console(stderr=True)
    tail = log_tail(path)
    err.print(f"the daemon's log ({path}), last {len(tail)} lines:" if tail else f"the daemon wrote no log ({path})",
              highlight=False, soft_wrap=True)
    for line in tail:
        err.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)


def _interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # the demo's `finally` stops its daemon; then click reports 'aborted'


def _stop_on_sigterm() -> signal.Handlers | Callable[..., Any] | int | None:
    """SIGTERM (a CI timeout, `kill`) ends the demo as Ctrl-C does, so its daemon is stopped rather than left
    running with no parent; returns the handler to restore (None off the main thread, where none can be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupted)


def stop_daemon(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def preempt_once(api: Client, job_id: str, console: Console, after_seconds: float = 4.0) -> None:
    """Let the job train a little, then reclaim its spot instance with a 3 s notice, as `spotwise chaos preempt`."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and api.get(f"/v1/jobs/{job_id}")["state"] != "RUNNING":
        time.sleep(0.3)
    time.sleep(after_seconds)
    live = [i for i in api.get("/v1/instances")["items"] if i["job_id"] == job_id]
    if not live:
        return
    api.post(f"/v1/chaos/instances/{live[0]['id']}/preempt", {"grace_seconds": 3})
    console.print(f"[yellow]preempting[/] spot instance {live[0]['id']} (3 s notice): the job checkpoints, "
                  "the agent uploads it, and the job resumes on another instance")


def run_demo(console: Console, keep: bool = False) -> int:
    from orchestrator.cli import attach_workdir, watch

    spec_path = EXAMPLES / "train-numpy.yaml"
    if not spec_path.exists():
        raise CliError(f"the example job is missing ({spec_path}); run the demo from a checkout of Spotwise")
    home = Path(tempfile.mkdtemp(prefix="spotwise-demo-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    from rich.rule import Rule

    # as wide as the terminal, but not 1000 columns of dashes in a pipe or a CI log (console.PIPE_WIDTH)
    console.print(Rule("[bold]Spotwise demo[/]: SQLite + the local provider, no cloud account"),
                  width=min(console.width, 100))
    console.print(f"home {home}\ndaemon {url} (log: {home / 'daemon.log'})")
    receiver = demo_spending.WebhookReceiver()  # spending alerts go to the log and to this receiver
    proc = start_daemon(home, port, demo_spending.daemon_env(receiver))
    previous = _stop_on_sigterm()
    try:
        try:
            wait_healthy(url, proc)
        except CliError as exc:  # say why: the log is the only place that does, so it and the home are kept
            keep = True
            show_log_tail(home / "daemon.log")
            raise CliError(f"{exc}; the end of its log is above (all of it: {home / 'daemon.log'})") from None
        token = (home / "admin-token").read_text().strip()
        api = Client(url, token)
        console.print(f"dashboard [bold]{url}/ui[/], sign in with the admin token [bold]{token}[/] "
                      "while the demo runs", highlight=False, soft_wrap=True)
        # the example's `workdir: .` is packed and uploaded to the demo daemon, as `spotwise submit` does
        # (defaults, not the user's config: the demo's daemon is the store whatever SPOTWISE_WORKDIR_STORE says)
        spec = attach_workdir(api, Settings.model_construct(), load_spec_file(spec_path), EXAMPLES, console)
        job = api.post("/v1/jobs", spec.model_dump(mode="json"))
        console.print(f"submitted [bold]{job['id']}[/]: {spec.name} ({spec.resources.accelerators}, spot)")
        idle_job = demo_spending.start(api, console, spec.model_dump(mode="json"))
        preempt_once(api, job["id"], console)  # recovery: a spot reclaim mid-training, then the resume
        try:
            final = watch(api, job["id"], poll=0.5, out=console, timeout=JOB_TIMEOUT_S)
        except (CliError, SpotwiseError) as exc:  # a job that cannot finish (its agent keeps failing): say so
            keep = True
            show_log_tail(home / "daemon.log")
            raise CliError(f"{exc}; the end of the daemon's log is above; the instances' logs are under "
                           f"{home / 'local-provider' / 'instances'}") from None
        for a in final.get("attempt_list") or []:
            resumed = f", resumed from checkpoint {a['resumed_from']}" if a.get("resumed_from") else ""
            console.print(f"attempt {a['number']}: {a['state']} on {a['zone']}{resumed}: {a['end_reason']}")
        attempt = final["attempt_list"][-1] if final.get("attempt_list") else None
        if attempt:
            console.print(f"ran on {attempt['provider']} {attempt['instance_type']} in {attempt['zone']} "
                          f"({'spot' if attempt['spot'] else 'on-demand'} at ${attempt['price_per_hour']:.4f}/h)")
        console.print(f"[bold]{final['state']}[/] in {final['runtime_seconds'] or 0:.1f}s of runtime; "
                      f"cost ${final['cost_usd']:.6f}; demo took {time.monotonic() - started:.1f}s")
        if final.get("energy"):  # energy and carbon next to cost
            from orchestrator.cli.render import carbon_text, energy_text

            console.print(f"energy {energy_text(final['energy'])}; carbon {carbon_text(final['energy'])} "
                          f"(grid of {attempt['region'] if attempt else '-'}; see docs/energy.md)",
                          highlight=False)
        spending_ok = demo_spending.finish(api, console, receiver, idle_job)
        console.print(f"demo took {time.monotonic() - started:.1f}s")
        return 0 if final["state"] == "SUCCEEDED" and spending_ok else 1
    finally:
        stop_daemon(proc)
        receiver.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if keep:
            console.print(f"kept the demo's home {home} (remove it when done)", highlight=False, soft_wrap=True)
        else:
            shutil.rmtree(home, ignore_errors=True)
