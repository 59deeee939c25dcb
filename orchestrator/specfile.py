"""Read a job spec file and turn every mistake into a message a new user can act on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from orchestrator.models import JobSpec


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


def describe_validation_error(exc: ValidationError, model: type[BaseModel] = JobSpec) -> list[str]:
    """One readable line per error, naming the field and the fix."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            owner = _submodel(model, loc[:-1])
            valid = ", ".join(owner.model_fields) if owner else ""
            parent = ".".join(str(p) for p in loc[:-1]) or "the top level"
            lines.append(f"unknown field '{loc[-1]}' in {parent}; valid fields are: {valid}")
        elif kind == "missing":
            lines.append(f"{where}: this field is required")
        else:
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {message}")
    return lines


def parse_spec(data: Any, source: str = "spec") -> JobSpec:
    if not isinstance(data, dict):
        raise SpecError(source, ["a job spec must be a mapping of fields (name, run, resources, ...)"])
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, describe_validation_error(exc)) from None


def load_spec_text(text: str, source: str = "spec") -> JobSpec:
    """YAML (a superset of JSON) text -> JobSpec."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(source, [f"not valid YAML{where}: {problem}"]) from None
    return parse_spec(data, source)


def load_spec_file(path: Path) -> JobSpec:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError(str(path), ["file not found"]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise SpecError(str(path), [f"cannot read the file: {getattr(exc, 'strerror', None) or exc}"]) from None
    if path.suffix == ".json":
        try:
            return parse_spec(json.loads(text), str(path))
        except json.JSONDecodeError as exc:
            raise SpecError(str(path), [f"not valid JSON at line {exc.lineno}: {exc.msg}"]) from None
    return load_spec_text(text, str(path))
