"""Read a job spec file and turn every mistake into a message a new user can act on."""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from orchestrator.formats.strictyaml import load_strict
from orchestrator.jobs.models import MAX_GPUS_PER_NODE, CheckpointSpec, JobSpec, Resources, store_url_problem
from orchestrator.jobs.speclimits import limit_problems

# Beyond the largest machines sold (AWS u7in-32tb: 1,920 vCPUs, 32 TiB): such a job could never be placed.
MAX_CPUS = 4096.0
MAX_MEMORY_GB = 32768.0
TOO_DEEP = "nested too deeply; a job spec is a few levels of fields, lists and mappings"


class SpecError(ValueError):
    """A spec that cannot be used; `problems` holds one line per mistake."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _submodel(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the field at `loc` (to list its valid fields)."""
    current: type[BaseModel] = model
    for part in loc:
        field = current.model_fields.get(str(part))
        if field is None:
            return current
        annotation = field.annotation
        candidates = getattr(annotation, "__args__", (annotation,))
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return current
        current = nested[0]
    return current


SET_BY_THE_DAEMON = frozenset({"submitted_by"})  # in the stored spec, never the user's to write: not offered


def describe_validation_error(exc: ValidationError, model: type[BaseModel] = JobSpec) -> list[str]:
    """One readable line per error, naming the field and the fix."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            owner = _submodel(model, loc[:-1])
            valid = ", ".join(name for name in owner.model_fields if name not in SET_BY_THE_DAEMON) if owner else ""
            parent = ".".join(str(p) for p in loc[:-1]) or "the top level"
            lines.append(f"unknown field '{loc[-1]}' in {parent}; valid fields are: {valid}")
        elif kind == "missing":
            lines.append(f"{where}: this field is required")
        else:
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {message}")
    return lines


def parse_spec(data: Any, source: str = "spec", *, submitted_at: datetime | None = None,
               clouds: Collection[str] | None = None) -> JobSpec:
    """A spec from plain data. With `submitted_at` it is a new submission and must also pass `submit_problems`;
    without it (a stored job's spec) only the model's own rules apply, so stored jobs always read back."""
    if not isinstance(data, dict):
        raise SpecError(source, ["a job spec must be a mapping of fields (name, run, resources, ...)"])
    try:
        spec = JobSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, describe_validation_error(exc)) from None
    except RecursionError:
        raise SpecError(source, [TOO_DEEP]) from None
    problems = [] if submitted_at is None else submit_problems(spec, submitted_at, clouds)
    if problems:
        raise SpecError(source, problems)
    return spec


def submit_problems(spec: JobSpec, now: datetime, clouds: Collection[str] | None = None) -> list[str]:
    """Rules for a NEW submission only, one line per mistake. Why not model validators: the daemon re-validates
    every stored spec with JobSpec on each pass, and a rule added later (or a deadline that has since passed) must
    never make an accepted job unreadable. `clouds`: the provider names the daemon knows (None: not checked, as
    on the CLI, whose machine may lack the daemon's provider plugins)."""
    return [*_non_finite(spec, ()), *_name_problems(spec), *_resource_problems(spec.resources, clouds),
            *_checkpoint_problems(spec.checkpoint), *_exit_code_problems(spec.restart_exit_codes),
            *_deadline_problems(spec, now), *limit_problems(spec)]


def _non_finite(model: BaseModel, loc: tuple[str, ...]) -> Iterator[str]:
    """inf/nan in any float field: JSON cannot carry them, and a price cap of inf is no cap. (Fields, not a walk of
    model_dump(): this runs on the submit hot path, where that walk cost 20 us.)"""
    for name, value in model.__dict__.items():  # the field values
        if type(value) is float and not math.isfinite(value):
            yield f"{'.'.join((*loc, name))}: must be a finite number, not {value}"
        elif isinstance(value, BaseModel):
            yield from _non_finite(value, (*loc, name))


def _name_problems(spec: JobSpec) -> Iterator[str]:
    for field, value in (("name", spec.name), ("project", spec.project)):
        bad = next((c for c in value or "" if unicodedata.category(c) == "Cc"), None)
        if bad is not None:
            yield f"{field}: contains the control character U+{ord(bad):04X}; use printable characters only"


def _resource_problems(res: Resources, clouds: Collection[str] | None) -> Iterator[str]:
    for acc in res.gpu_options():
        if acc.count > MAX_GPUS_PER_NODE:
            field = "accelerators" if acc == res.accelerators else "accelerator_candidates"
            yield (f"resources.{field}: {acc.count} GPUs per node is more than any instance has; "
                   f"ask for at most {MAX_GPUS_PER_NODE} per node (more nodes: resources.num_nodes)")
    if clouds is not None:  # the providers the daemon has configured: any other could never place the job
        for name in res.clouds:
            if name not in clouds:
                yield (f"resources.clouds: {name!r} is not a provider this daemon has configured; configured: "
                       f"{', '.join(sorted(clouds)) or 'none'} ('spotwise providers list')")
    for field, value, most in (("cpus", res.cpus, MAX_CPUS), ("memory_gb", res.memory_gb, MAX_MEMORY_GB)):
        if value is not None and math.isfinite(value) and value > most:
            yield (f"resources.{field}: {value:g} is more than any machine has; ask for at most {most:g} "
                   "per node")


def _checkpoint_problems(ckpt: CheckpointSpec | None) -> Iterator[str]:
    if ckpt is None:
        return
    if not ckpt.dir.startswith("/") or ".." in ckpt.dir.split("/"):
        yield f"checkpoint.dir: {ckpt.dir!r} must be an absolute path without '..', e.g. /ckpt"
    if ckpt.store is not None:
        problem = store_url_problem(ckpt.store)
        if problem:
            yield f"checkpoint.store: {problem}"


def _exit_code_problems(codes: list[int]) -> Iterator[str]:
    for code in codes:
        if not 0 <= code <= 255:
            yield f"restart_exit_codes: {code} is not an exit code; exit codes are 0 to 255"


def _deadline_problems(spec: JobSpec, now: datetime) -> Iterator[str]:
    at = spec.deadline_at(now)
    if at is not None and at <= now:
        yield (f"deadline: {at.isoformat()} is already past (now {now.isoformat(timespec='seconds')}); give a "
               "later time or a duration like '52h'")


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads hook: a spec with a field given twice is refused like a YAML one (last-wins silently dropped
    one). Checks the count only (a few microseconds a submission); the loop runs only to name the key."""
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise SpecError("spec", [f"duplicate key {key!r}; give each field once"])
            seen.add(key)
    return data


def _yaml_data(text: str, source: str) -> Any:
    """YAML (a superset of JSON) text as plain data; every YAML mistake a SpecError naming line and column."""
    try:
        return load_strict(text)
    except RecursionError:
        raise SpecError(source, [TOO_DEEP]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(source, [f"not valid YAML{where}: {problem}"]) from None


def load_spec_text(text: str, source: str = "spec") -> JobSpec:
    """YAML (a superset of JSON) text -> JobSpec, checked as a new submission (a file is always about to be one)."""
    return parse_spec(_yaml_data(text, source), source, submitted_at=datetime.now(UTC))


def read_spec_data(path: Path) -> Any:
    """A spec file's plain data (JSON for *.json, else YAML), before any model: what `spotwise submit` reads to
    tell a Spotwise spec from a SkyPilot task (orchestrator/skypilot/detect.py)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError(str(path), ["file not found"]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise SpecError(str(path), [f"cannot read the file: {getattr(exc, 'strerror', None) or exc}"]) from None
    if path.suffix != ".json":
        return _yaml_data(text, str(path))
    try:
        return json.loads(text, object_pairs_hook=unique_keys)
    except SpecError as exc:
        raise SpecError(str(path), exc.problems) from None
    except json.JSONDecodeError as exc:
        raise SpecError(str(path), [f"not valid JSON at line {exc.lineno}: {exc.msg}"]) from None
    except RecursionError:
        raise SpecError(str(path), [TOO_DEEP]) from None


def load_spec_file(path: Path) -> JobSpec:
    return parse_spec(read_spec_data(path), str(path), submitted_at=datetime.now(UTC))
