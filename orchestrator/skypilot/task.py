"""A SkyPilot task (its YAML as plain data) as a Spotwise job spec (plain data). Pure: no file, no network.

What maps to what is in docs/skypilot.md; SkyPilot's reference is
https://docs.skypilot.co/en/latest/reference/yaml-spec.html. Every field is mapped or refused with a line naming it
and what to do: a task that silently lost its `file_mounts` or its `use_spot` would run, and be wrong.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any

from orchestrator.skypilot.resources import map_resources
from providers.plugin import storage_schemes


def copied_schemes() -> tuple[str, ...]:
    """Bucket URLs Spotwise copies: every cloud plugin's store schemes (the checkpoint backends:
    orchestrator/checkpoint/backends.py), and file://, a shared filesystem every instance sees (NFS), as for
    Spotwise's own file_mounts."""
    return (*storage_schemes(), "file")


OTHER_STORES = ("r2", "cos", "oci", "nebius", "https", "http", "hf")
SKY_HOME_WORKDIR = "~/sky_workdir"  # where SkyPilot puts the workdir; Spotwise runs in the unpacked workdir

REFUSED: dict[str, str] = {
    "service": "SkyServe services (replicas behind a load balancer) are not Spotwise jobs; serve with SkyPilot",
    "pool": "SkyPilot worker pools have no Spotwise equivalent; submit each job on its own",
    "event_callback": "Spotwise reports job events through its alerts (docs/alerts.md); remove the field",
    "outputs": "Spotwise counts the egress of the data a job reads (inputs), not of what it writes; remove the "
               "field",
    "volumes": "Spotwise attaches no volumes; copy the data with file_mounts from a bucket instead",
    "volume_mounts": "Spotwise attaches no volumes; copy the data with file_mounts from a bucket instead",
    "managed_secrets": "name the secrets under `secrets:` (NAME: null) and store them with `spotwise secrets set NAME`",
    "config": "per-task SkyPilot config overrides have no Spotwise equivalent; remove the field",
    "experimental": "per-task SkyPilot config overrides have no Spotwise equivalent; remove the field",
    "api_server_access": "Spotwise jobs do not reach a SkyPilot API server; remove the field",
    "file_mounts_mapping": "an internal SkyPilot field; remove it",
    "_metadata": "an internal SkyPilot field; remove it",
}
KNOWN = frozenset({"name", "workdir", "num_nodes", "resources", "envs", "secrets", "file_mounts", "setup", "run",
                   "inputs", *REFUSED})
_VAR_RE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def _fill(text: str, envs: dict[str, str]) -> str:
    """SkyPilot fills `${VAR}` / `$VAR` of `envs` into workdir and file_mounts; unknown names stay as written."""
    return _VAR_RE.sub(lambda m: envs.get(m.group(1) or m.group(2), m.group(0)), text)


def _envs(value: Any) -> tuple[dict[str, str], list[str]]:
    if value is None:
        return {}, []
    if not isinstance(value, dict):
        return {}, ["envs: must be a mapping of NAME: value"]
    out: dict[str, str] = {}
    problems: list[str] = []
    for name, raw in value.items():
        if raw is None:
            problems.append(f"envs.{name}: has no value (SkyPilot asks for it with --env); give it a value in the "
                            f"file, or keep it out of the file as a secret: `spotwise secrets set {name}` and list "
                            f"it under secrets ({name}: null)")
        elif isinstance(raw, bool):
            out[str(name)] = str(raw)  # 'True'/'False', as SkyPilot passes a YAML boolean
        elif isinstance(raw, str | int | float):
            out[str(name)] = str(raw)
        else:
            problems.append(f"envs.{name}: {raw!r} is not a text or number value")
    return out, problems


def _secrets(value: Any) -> tuple[list[str], list[str]]:
    """Names only: Spotwise keeps secret values in the daemon (`spotwise secrets set NAME`), never in a file."""
    if value is None:
        return [], []
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return list(value), []
        return [], ["secrets: list entries must be secret names"]
    if not isinstance(value, dict):
        return [], ["secrets: must be a mapping of NAME: null (or a list of names)"]
    problems = [f"secrets.{name}: an inline value would be stored in the job's spec; store it in the daemon with "
                f"`spotwise secrets set {name}` and write {name}: null"
                for name, raw in value.items() if raw is not None]
    return [str(n) for n in value], problems


def _remote(path: str, where: str) -> tuple[str | None, str | None]:
    """An instance path: absolute, or ~/... (the job's home). SkyPilot's relative remote paths are under ~."""
    if path.startswith("~/") or not path.startswith("/"):
        return None, (f"{where}: the instance path {path!r} is under the home directory, which Spotwise does not "
                      "fix per job; use an absolute path such as /data (see docs/skypilot.md)")
    if ".." in PurePosixPath(path).parts:
        return None, f"{where}: the instance path {path!r} must not contain '..'"
    return path, None


def _local_source(source: str, where: str, workdir: Path | None, cwd: Path) -> tuple[str | None, str | None]:
    """A local path is honoured when it lies inside the workdir: it travels in the workdir's archive (digest-checked)
    and is copied into place before `setup`. Anything else is on the submitting machine, which an instance cannot
    reach: refused with the two ways to ship it."""
    path = (cwd / os.path.expanduser(source)).resolve()
    if workdir is not None:
        try:
            rel = path.relative_to(workdir).as_posix() or "."
        except ValueError:
            pass
        else:
            if not path.exists():
                return None, f"{where}: the local path {source!r} ({path}) does not exist"
            return ("dir:" if path.is_dir() else "file:") + rel, None
    inside = f"inside the workdir ({workdir})" if workdir else "inside a `workdir:`"
    return None, (f"{where}: the local path {source!r} is on this machine, which the instance cannot reach; move it "
                  f"{inside} so it travels with the job, or upload it to a bucket (e.g. `aws s3 sync {source} "
                  "s3://BUCKET/PATH`) and name the URL")


def _mount(dest: str, spec: Any, envs: dict[str, str], workdir: Path | None,
           cwd: Path) -> tuple[dict[str, str], list[str], list[str]]:
    """({dest: bucket URL}, [workdir copies as 'dir:REL\0DEST' or 'file:REL\0DEST'], problems) for one entry."""
    where = f"file_mounts.{dest}"
    dest = _fill(str(dest), envs)
    target, problem = _remote(dest, where)
    if problem:
        return {}, [], [problem]
    assert target is not None
    if isinstance(spec, dict):
        mode = str(spec.get("mode") or "MOUNT").upper()  # SkyPilot's default storage mode is MOUNT
        extra = sorted(set(spec) - {"source", "mode", "store", "persistent", "name", "config"})
        if mode != "COPY":
            return {}, [], [f"{where}: mode {mode} keeps the bucket mounted while the job runs, which Spotwise "
                            "cannot do (it copies data before setup); write mode: COPY if a copy at start is "
                            "enough, or read the bucket from the job"]
        if spec.get("name") is not None:
            return {}, [], [f"{where}: name: {spec['name']!r} asks SkyPilot to create or fill a bucket; Spotwise "
                            "creates no buckets: upload the data yourself and write the URL as source"]
        if extra:
            return {}, [], [f"{where}: {', '.join(extra)} not supported in a Spotwise copy; give source and mode"]
        spec = spec.get("source")
        if isinstance(spec, list):
            return {}, [], [f"{where}: several sources into one path is not supported; give one source"]
    if not isinstance(spec, str) or not spec.strip():
        return {}, [], [f"{where}: the source must be a bucket URL or a local path"]
    source = _fill(spec.strip(), envs)
    scheme = source.split("://", 1)[0].lower() if "://" in source else ""
    copied = copied_schemes()
    if scheme in copied:
        return {target: source}, [], []
    if scheme:
        buckets = ", ".join(s + "://" for s in copied if s != "file")
        return {}, [], [f"{where}: {scheme}:// sources are not copied by Spotwise; it copies "
                        f"{buckets} (and file:// on a shared filesystem)"]
    rel, problem = _local_source(source, where, workdir, cwd)
    return ({}, [f"{rel}\0{target}"], []) if rel is not None else ({}, [], [problem or where])


def _copy_step(copies: list[str]) -> str:
    """Shell lines that put workdir files at their mount paths (before the task's own setup, every attempt); a copy
    that fails ends setup with its error, without `set -e` changing how the task's own setup runs."""
    lines = []
    for item in copies:
        source, dest = item.split("\0")
        kind, _, rel = source.partition(":")
        src, to = shlex.quote(rel), shlex.quote(dest)
        if kind == "dir":
            lines.append(f"mkdir -p {to} && cp -a {src}/. {to}/ || exit $?")
        else:
            lines.append(f"mkdir -p {shlex.quote(str(PurePosixPath(dest).parent))} && cp -a {src} {to} || exit $?")
    return "\n".join(lines)


def _inputs(value: Any, problems: list[str]) -> dict[str, str]:
    """SkyPilot's `inputs: {s3://bucket/path: GB}` (its egress estimate) -> Spotwise's `inputs` (URL -> size), which
    placement prices as egress and transfer time to each offer (docs/placement.md)."""
    if not isinstance(value, dict):
        problems.append("inputs: write {BUCKET_URL: SIZE_GB}, e.g. {s3://my-bucket/imagenet: 150}")
        return {}
    out: dict[str, str] = {}
    for url, size in value.items():
        if isinstance(size, bool) or not isinstance(size, int | float) or not size > 0:
            problems.append(f"inputs.{url}: {size!r} is not a size in GB (SkyPilot's unit), e.g. 150")
        else:
            out[str(url)] = f"{float(size):g}GB"
    return out


def _recovery(value: Any, problems: list[str]) -> dict[str, Any]:
    """job_recovery -> Spotwise restarts. A preemption is always recovered (Spotwise fails over to the next cheapest
    offer, uncounted); `max_restarts_on_errors: N` restarts a failed `run` (any non-zero exit) up to N times, and
    N also bounds infrastructure restarts (Spotwise's max_restarts counts each kind). Without it a failed `run`
    fails the job, as in SkyPilot, and infrastructure failures get Spotwise's default 3 restarts."""
    if isinstance(value, str):
        value = {"strategy": value}
    if not isinstance(value, dict):
        problems.append("resources.job_recovery: write a strategy (FAILOVER) or {max_restarts_on_errors: N}")
        return {}
    out: dict[str, Any] = {}
    strategy = value.get("strategy")
    if strategy is not None and str(strategy).upper() not in ("FAILOVER", "EAGER_NEXT_REGION", "NONE"):
        problems.append(f"resources.job_recovery.strategy: {strategy!r} is not FAILOVER or EAGER_NEXT_REGION")
    for key in sorted(set(value) - {"strategy", "max_restarts_on_errors"}):
        problems.append(f"resources.job_recovery.{key}: not supported; Spotwise restarts a failed run on any "
                        "non-zero exit up to max_restarts_on_errors times (restart_exit_codes in a Spotwise spec "
                        "picks codes)")
    restarts = value.get("max_restarts_on_errors")
    if restarts is not None:
        if isinstance(restarts, bool) or not isinstance(restarts, int) or not 0 <= restarts <= 1000:
            problems.append(f"resources.job_recovery.max_restarts_on_errors: {restarts!r} is not 0..1000")
        elif restarts:  # 0, like leaving it out: a failed run is not restarted (restart_exit_codes stays empty)
            out["max_restarts"] = restarts
            out["restart_exit_codes"] = list(range(1, 256))
    return out


def to_job_spec(task: Any, *, name: str, cwd: Path) -> tuple[dict[str, Any], list[str]]:
    """(Spotwise spec data, problems). `name`: used when the task has none (SkyPilot's is optional); `cwd`: what
    relative `workdir` and local file_mounts sources are relative to (SkyPilot's rule: where you run the command)."""
    if not isinstance(task, dict):
        return {}, ["a SkyPilot task must be a mapping of fields (resources, setup, run, ...)"]
    problems: list[str] = []
    for key in task:
        if key in REFUSED:
            problems.append(f"{key}: not supported: {REFUSED[key]}")
        elif key not in KNOWN:
            problems.append(f"{key}: not a SkyPilot task field; see "
                            "https://docs.skypilot.co/en/latest/reference/yaml-spec.html")
    envs, more = _envs(task.get("envs"))
    problems += more
    secrets, more = _secrets(task.get("secrets"))
    problems += more
    resources, more = map_resources(task.get("resources"))
    problems += more
    spec: dict[str, Any] = {"name": task.get("name") or name}
    if task.get("num_nodes") is not None:
        resources["num_nodes"] = task["num_nodes"]
    image = resources.pop("_image", None)
    cost = resources.pop("_max_hourly_cost", None)
    recovery = resources.pop("_job_recovery", None)
    if cost is not None:  # SkyPilot's is per instance; Spotwise's max_price_per_hour is for all nodes together
        count = task.get("num_nodes")
        nodes = count if isinstance(count, int) and count > 0 else 1
        if isinstance(cost, int | float) and not isinstance(cost, bool) and cost > 0:
            resources["max_price_per_hour"] = float(cost) * nodes
        else:
            problems.append(f"resources.max_hourly_cost: {cost!r} is not a positive number")
    if "spot" not in resources:
        resources["spot"] = False  # SkyPilot's default is on-demand; write use_spot: true for spot
    spec["resources"] = resources
    if image:
        spec["image"] = image
    if recovery is not None:
        spec.update(_recovery(recovery, problems))
    workdir: Path | None = None
    if isinstance(task.get("workdir"), dict):
        problems.append("workdir: a git repository workdir is not supported; clone it locally and give its path")
    elif task.get("workdir") is not None:
        workdir = (cwd / os.path.expanduser(_fill(str(task["workdir"]), envs))).resolve()
        spec["workdir"] = str(workdir)
    mounts: dict[str, str] = {}
    copies: list[str] = []
    file_mounts = task.get("file_mounts")
    if file_mounts is not None and not isinstance(file_mounts, dict):
        problems.append("file_mounts: must be a mapping of instance path: source")
    for dest, source in (file_mounts or {}).items():
        found, copied, more = _mount(str(dest), source, envs, workdir, cwd)
        mounts.update(found)
        copies += copied
        problems += more
    if mounts:
        spec["file_mounts"] = mounts
    setup = task.get("setup")
    if copies:
        setup = _copy_step(copies) + ("\n" + setup if isinstance(setup, str) and setup else "")
    if setup is not None:
        spec["setup"] = setup
    if task.get("run") is None:
        problems.append("run: a SkyPilot task without run only provisions a cluster; a Spotwise job needs the "
                        "command to run (e.g. run: python train.py)")
    else:
        spec["run"] = task["run"]
    if task.get("inputs") is not None:
        spec["inputs"] = _inputs(task["inputs"], problems)
    if envs:
        spec["env"] = envs
    if secrets:
        spec["secrets"] = secrets
    return spec, problems
