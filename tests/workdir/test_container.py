"""`image: docker:<ref>`: the docker command line the agent builds (no docker engine on CI; see README)."""

from __future__ import annotations

import shlex
from pathlib import Path

from orchestrator.agent.container import container_env, container_name, docker_argv, shell_command


def test_gpu_mounts_env_by_name_and_signals() -> None:
    env, names = container_env({"PATH": "/usr/bin", "HOME": "/root", "WANDB_API_KEY": "v", "LR": "0.1",
                                "SPOTWISE_JOB_ID": "j-1", "SPOTWISE_AGENT_TOKEN": "swa.x"},
                               "pip install -r req.txt", "python train.py", "/ckpt", ["WANDB_API_KEY", "LR"])
    argv = docker_argv("nvcr.io/nvidia/pytorch:24.01-py3", name=container_name("a-1/x"), workdir=Path("/w/job"),
                       checkpoint_dir=Path("/w/ckpt"), container_checkpoint_dir="/ckpt", env_names=names,
                       stop_signal="SIGUSR1", grace_seconds=45, gpus=True, mounts={Path("/p/data"): "/data"})
    line = " ".join(argv)
    assert argv[:4] == ["docker", "run", "--rm", "--init"]
    assert "--gpus all" in line and "--stop-signal SIGUSR1" in line and "--stop-timeout 45" in line
    assert "-v /w/job:/workdir -w /workdir" in line and "-v /w/ckpt:/ckpt" in line and "-v /p/data:/data:ro" in line
    assert "--name spotwise-a-1-x" in line
    passed = {argv[i + 1] for i, a in enumerate(argv) if a == "-e"}
    assert passed == {"WANDB_API_KEY", "LR", "SPOTWISE_JOB_ID", "SPOTWISE_CHECKPOINT_DIR", "SPOTWISE_SETUP",
                      "SPOTWISE_RUN"}  # never PATH, HOME or the agent token
    assert "v" not in argv and "python train.py" not in argv  # values travel in the client's env, not argv
    assert env["SPOTWISE_CHECKPOINT_DIR"] == "/ckpt" and env["SPOTWISE_RUN"] == "python train.py"
    image_at = argv.index("nvcr.io/nvidia/pytorch:24.01-py3")
    assert argv[image_at - 2:image_at] == ["--entrypoint", "/bin/sh"] and argv[image_at + 1] == "-c"
    assert shlex.split(shell_command(argv)) == ["exec", *argv]  # exec: the agent's signals hit the docker client


def test_no_gpu_flag_without_gpus_and_setup_then_run_script() -> None:
    argv = docker_argv("ubuntu:22.04", name="n", workdir=Path("/w"), checkpoint_dir=Path("/c"),
                       container_checkpoint_dir="/c", env_names=[], gpus=False)
    assert "--gpus" not in argv
    script = argv[argv.index("-c") + 1]
    assert '"$SPOTWISE_SETUP" || exit $?' in script and 'exec "$s" -c "$SPOTWISE_RUN"' in script


def test_in_container_script_runs_setup_then_run_and_stops_on_setup_failure(tmp_path: Path) -> None:
    import subprocess

    argv = docker_argv("img", name="n", workdir=tmp_path, checkpoint_dir=tmp_path, container_checkpoint_dir="/c",
                       env_names=[])
    script = argv[argv.index("-c") + 1]

    def sh(setup: str, run: str) -> subprocess.CompletedProcess[str]:  # what /bin/sh in the image does
        return subprocess.run(["sh", "-c", script, "spotwise-job"], capture_output=True, text=True, cwd=tmp_path,
                              env={"PATH": "/usr/bin:/bin", "SPOTWISE_SETUP": setup, "SPOTWISE_RUN": run})

    ok = sh("echo setup > s.txt", "cat s.txt; echo 'quote\"s $HOME'")
    assert ok.returncode == 0 and ok.stdout == "setup\nquote\"s $HOME\n"  # quoted as written
    failed = sh("exit 7", "echo never")
    assert failed.returncode == 7 and "never" not in failed.stdout
