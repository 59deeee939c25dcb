"""`image: docker:<ref>`: the command line that runs a job's setup and run inside its image.

One container per attempt runs `setup` then `run` (so what setup installs is there for run), with:
- `--init`, so PID 1 (tini) forwards signals, and the docker client's signal proxy (on by default without a TTY):
  the agent's stop signal on a preemption notice reaches the job exactly as it does on the host;
- `--stop-signal`/`--stop-timeout` set to the job's checkpoint signal and grace, so `docker stop` (or a host
  shutdown) follows the same contract;
- `--gpus all` when the host has NVIDIA GPUs (the NVIDIA container runtime);
- `--network host` on a multi-node (gang) job: its nodes meet over the host addresses the agent exports
  (SPOTWISE_NODE_IPS / SPOTWISE_HEAD_IP, orchestrator/agent/gang.py), and on docker's default bridge network
  a container neither answers on its host's address nor shows NCCL/Gloo the host's interfaces. One-node jobs
  keep the bridge: they talk to no peer, and the bridge keeps their ports off the host;
- the workdir at /workdir (the working directory), the checkpoint directory at the path the spec names, and
  file_mounts read-only at theirs;
- environment passed by NAME only (`-e NAME`): docker reads the values from its own environment, so secrets
  never appear in the process list.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path

_SECRET = ("SPOTWISE_AGENT_TOKEN", "SPOTWISE_BOOTSTRAP_TOKEN", "SPOTWISE_CLAIM_FILE")  # never into a container

CONTAINER_WORKDIR = "/workdir"
# Prefer bash like host jobs do, fall back to sh for minimal images; the commands come in as variables.
_SCRIPT = ('if command -v bash >/dev/null 2>&1; then s=bash; else s=sh; fi; '
           'if [ -n "${SPOTWISE_SETUP:-}" ]; then "$s" -c "$SPOTWISE_SETUP" || exit $?; fi; '
           'exec "$s" -c "$SPOTWISE_RUN"')


def container_name(attempt_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in attempt_id)
    return f"spotwise-{safe}"[:128]


def docker_argv(image: str, *, name: str, workdir: Path, checkpoint_dir: Path, container_checkpoint_dir: str,
                env_names: Iterable[str], stop_signal: str = "SIGTERM", grace_seconds: float = 30.0,
                gpus: bool = False, mounts: dict[Path, str] | None = None, num_nodes: int = 1) -> list[str]:
    """argv for `docker run`; the caller puts SPOTWISE_SETUP/SPOTWISE_RUN and every named variable in its env.
    `num_nodes`: the job's node count; above 1 the container shares the host's network (see the module doc)."""
    argv = ["docker", "run", "--rm", "--init", "--name", name, "--stop-signal", stop_signal,
            "--stop-timeout", str(max(1, int(grace_seconds)))]
    if gpus:
        argv += ["--gpus", "all"]
    if num_nodes > 1:
        argv += ["--network", "host"]
    argv += ["-v", f"{workdir}:{CONTAINER_WORKDIR}", "-w", CONTAINER_WORKDIR,
             "-v", f"{checkpoint_dir}:{container_checkpoint_dir}"]
    for host, inside in sorted((mounts or {}).items()):
        argv += ["-v", f"{host}:{inside}:ro"]
    for env_name in sorted(set(env_names) | {"SPOTWISE_SETUP", "SPOTWISE_RUN"}):
        argv += ["-e", env_name]
    argv += ["--entrypoint", "/bin/sh", image, "-c", _SCRIPT, "spotwise-job"]
    return argv


def container_env(job_env: dict[str, str], setup: str | None, run: str, container_checkpoint_dir: str,
                  passed: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """(env for the docker client, names passed into the container): the job's variables, secrets, SPOTWISE_* and
    SKYPILOT_*, with paths as the container sees them -- never the host's PATH or HOME."""
    env = dict(job_env)
    env.update({"SPOTWISE_SETUP": setup or "", "SPOTWISE_RUN": run,
                "SPOTWISE_CHECKPOINT_DIR": container_checkpoint_dir})
    names = sorted(set(passed) | {k for k in env if k.startswith(("SPOTWISE_", "SKYPILOT_")) and k not in _SECRET})
    return env, names


def shell_command(argv: list[str]) -> str:
    """For JobProcess (`bash -c`): exec, so the signals the agent sends reach the docker client itself."""
    return "exec " + shlex.join(argv)


def remove_container(name: str) -> None:
    """Best effort after the job: a docker client killed after the grace leaves its container behind."""
    import contextlib
    import shutil
    import subprocess

    if shutil.which("docker") is None:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=30)
