"""SkyPilot's own parser against Spotwise's mapping: `sky.Task.from_yaml` on the corpus and the examples reads the
same accelerators (and whether they are ordered), node count, envs, market and commands as `spotwise submit` does.

SkyPilot is heavy and pins its own dependencies, so it is installed in a venv of its own (`make skypilot-check`
creates `.venv-sky` and runs this) and run here in a subprocess (tests/skypilot/sky_parse.py). Skipped, saying so,
when neither SPOTWISE_SKYPILOT_PYTHON nor a `.venv-sky` at the repository root exists.

What may differ, deliberately: a file SkyPilot accepts that Spotwise refuses must be a corpus file that expects the
refusal (a field Spotwise cannot honour, named in the error); the reverse -- Spotwise mapping a file SkyPilot
refuses -- fails the test. Files SkyPilot can only read with its online catalog (an `instance_type`) are left out
where the machine is offline, and listed.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.specfile import SpecError
from orchestrator.skypilot import load_job_file
from providers.gpus import canonical_gpu
from tests.skypilot.corpus import ROOT, TaskFile, corpus_files, example_files

PARSER = Path(__file__).resolve().parent / "sky_parse.py"
MARKER = "SKY-PARSE-RESULT "
OFFLINE = ("ConnectionError", "NameResolutionError", "Max retries exceeded")


def sky_python() -> str | None:
    configured = os.environ.get("SPOTWISE_SKYPILOT_PYTHON", "").strip()
    if configured:
        return configured
    local = ROOT / ".venv-sky" / "bin" / "python"
    return str(local) if local.exists() else None


@pytest.fixture(scope="module")
def sky_results() -> dict[str, dict[str, Any]]:
    python = sky_python()
    if python is None:
        pytest.skip("SkyPilot is not installed: `make skypilot-check` creates .venv-sky (pip install skypilot) and "
                    "runs this, or set SPOTWISE_SKYPILOT_PYTHON to a Python that has it")
    files = corpus_files() + example_files()
    args = [f"{f.cwd}:{f.path.name}" for f in files]
    result = subprocess.run([python, str(PARSER), *args], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "SKYPILOT_DISABLE_USAGE_COLLECTION": "1"})
    lines = [line for line in result.stdout.splitlines() if line.startswith(MARKER)]
    assert result.returncode == 0 and lines, result.stderr[-3000:] + result.stdout[-2000:]
    by_arg = json.loads(lines[-1][len(MARKER):])
    return {str(f.path): by_arg[arg] for f, arg in zip(files, args, strict=True)}


def _ours(task: TaskFile) -> JobSpec | list[str]:
    try:
        return load_job_file(task.path, "skypilot", cwd=task.cwd)
    except SpecError as exc:
        return exc.problems


def _gpus(options: list[str]) -> list[str]:
    out = []
    for option in options:
        name, _, count = option.rpartition(":")
        out.append(f"{canonical_gpu(name)}:{count}")
    return sorted(out)


def _compare(task: TaskFile, spec: JobSpec, sky: dict[str, Any]) -> list[str]:
    res = spec.resources
    ours = {
        "accelerators": sorted(str(a) for a in res.gpu_options()),
        "ordered": res.candidate_order == "listed",
        "num_nodes": res.num_nodes,
        "envs": spec.env,
        "run": spec.run,
        "use_spot": [res.spot],
    }
    theirs = {**{k: sky[k] for k in ("ordered", "num_nodes", "envs", "run", "use_spot")},
              "accelerators": _gpus(sky["accelerators"])}
    diffs = [f"{k}: spotwise {ours[k]!r} != skypilot {theirs[k]!r}" for k in ours if ours[k] != theirs[k]]
    setup = sky["setup"]
    if setup is None and spec.setup is not None and not spec.file_mounts and "cp -a" not in spec.setup:
        diffs.append(f"setup: spotwise {spec.setup!r}, skypilot none")
    if setup is not None and (spec.setup is None or not (spec.setup == setup or spec.setup.endswith("\n" + setup))):
        diffs.append(f"setup: spotwise {spec.setup!r} != skypilot {setup!r}")
    for dest in sky["file_mounts"]:  # a bucket copy, or a workdir file copied into place before setup
        if dest not in spec.file_mounts and dest not in (spec.setup or ""):
            diffs.append(f"file_mounts: {dest} is not copied")
    return diffs


def test_skypilot_and_spotwise_read_the_same_tasks(sky_results: dict[str, dict[str, Any]]) -> None:
    compared, refused_on_purpose, offline = [], [], []
    problems: list[str] = []
    for task in corpus_files() + example_files():
        sky = sky_results[str(task.path)]
        ours = _ours(task)
        name = task.path.name
        if "error" in sky:
            if any(word in sky["error"] for word in OFFLINE):
                offline.append(name)
            elif isinstance(ours, JobSpec):
                problems.append(f"{name}: SkyPilot refuses it ({sky['error'][:200]}) but Spotwise maps it")
            continue
        if isinstance(ours, list):
            if task.error is None or not any(task.error in p for p in ours):
                problems.append(f"{name}: SkyPilot reads it, Spotwise refuses it unexpectedly: {ours}")
            else:
                refused_on_purpose.append(name)
            continue
        problems += [f"{name}: {d}" for d in _compare(task, ours, sky)]
        compared.append(name)
    print(f"compared {len(compared)} files field by field; {len(refused_on_purpose)} refused by Spotwise on "
          f"purpose ({', '.join(refused_on_purpose)}); offline, not checked: {', '.join(offline) or 'none'}")
    assert not problems, "\n".join(problems)
    assert len(compared) >= 20, compared
