"""Which format a job file is in, and reading it as a Spotwise JobSpec either way.

Why detect instead of always asking: a SkyPilot task should run as it is (`spotwise submit task.yaml`). The two formats
share `name`, `setup`, `run`, `workdir`, `file_mounts`, `secrets` and `resources.accelerators`, so the decision rests
on fields only one of them has; a file with fields of both is ambiguous and the error asks for `--format`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.specfile import SpecError, load_spec_file, parse_spec, read_spec_data

FORMATS = ("auto", "spotwise", "skypilot")

SKYPILOT_TOP = frozenset({"envs", "num_nodes", "service", "pool", "event_callback", "outputs", "volumes",
                          "volume_mounts", "managed_secrets", "config", "experimental"})
SKYPILOT_RESOURCES = frozenset({"use_spot", "cloud", "region", "zone", "infra", "image_id", "any_of", "ordered",
                                "disk_size", "disk_tier", "memory", "job_recovery", "spot_recovery", "ports",
                                "max_hourly_cost", "accelerator_args", "network_tier", "autostop", "labels"})
SPOTWISE_TOP = frozenset({"team", "project", "labels", "env", "checkpoint", "deadline", "estimated_runtime",
                          "priority", "max_restarts", "restart_exit_codes", "workdir_ref", "image"})
# Both formats have `inputs` (bucket URL -> size): a sign of neither.
SPOTWISE_RESOURCES = frozenset({"spot", "clouds", "regions", "zones", "memory_gb", "max_price_per_hour",
                                "carbon_price", "num_nodes", "accelerator_candidates", "candidate_order", "disk_gb"})


def _signs(data: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(fields only SkyPilot has, fields only Spotwise has) in `data`."""
    raw = data.get("resources")
    res: dict[str, Any] = raw if isinstance(raw, dict) else {}
    sky = sorted(SKYPILOT_TOP & set(data)) + [f"resources.{k}" for k in sorted(SKYPILOT_RESOURCES & set(res))]
    own = sorted(SPOTWISE_TOP & set(data)) + [f"resources.{k}" for k in sorted(SPOTWISE_RESOURCES & set(res))]
    acc = res.get("accelerators")
    if isinstance(acc, list) or (isinstance(acc, dict) and set(acc) - {"model", "count"}):
        sky.append("resources.accelerators (a set, list or {MODEL: COUNT})")
    if isinstance(res.get("cpus"), str):
        sky.append("resources.cpus (as text, e.g. '4+')")
    if isinstance(data.get("secrets"), dict):
        sky.append("secrets (a mapping)")
    if "name" not in data and not own:
        sky.append("no name (SkyPilot's is optional)")
    return sky, own


def detect_format(data: Any, source: str = "spec") -> str:
    """'spotwise' or 'skypilot'; SpecError when the file has fields of both."""
    if not isinstance(data, dict):
        return "spotwise"  # parse_spec says what a spec must be
    sky, own = _signs(data)
    if sky and own:
        raise SpecError(source, [f"this file mixes SkyPilot fields ({', '.join(sky[:3])}) and Spotwise fields "
                                 f"({', '.join(own[:3])}); pass --format skypilot or --format spotwise "
                                 "(docs/skypilot.md)"])
    return "skypilot" if sky else "spotwise"


def skypilot_spec(data: Any, source: str, *, name: str, cwd: Path) -> JobSpec:
    """A SkyPilot task (plain data) as a checked new submission; every mapping problem at once."""
    from orchestrator.skypilot.task import to_job_spec

    spec, problems = to_job_spec(data, name=name, cwd=cwd)
    if problems:
        raise SpecError(source, [f"SkyPilot task: {p}" for p in problems])
    return parse_spec(spec, source, submitted_at=datetime.now(UTC))


def job_name(path: Path) -> str:
    """A SkyPilot task without `name:` is named after its file ('train.yaml' -> 'train')."""
    return path.stem[:128] or "skypilot-task"


def load_job_file(path: Path, fmt: str = "auto", cwd: Path | None = None) -> JobSpec:
    """The file as a checked JobSpec: a Spotwise spec as ever, or a SkyPilot task mapped (relative paths in it are
    relative to `cwd`, the current directory, as `sky launch` reads them)."""
    if fmt not in FORMATS:
        raise SpecError(str(path), [f"--format {fmt!r}: use one of {', '.join(FORMATS)}"])
    if fmt == "spotwise":
        return load_spec_file(path)
    data = read_spec_data(path)
    if fmt == "auto" and detect_format(data, str(path)) == "spotwise":
        return parse_spec(data, str(path), submitted_at=datetime.now(UTC))
    return skypilot_spec(data, str(path), name=job_name(path), cwd=cwd or Path.cwd())
