"""What the generated config references share: field tables from pydantic models, and the generator's command.

Why one helper: docs/policies.md (orchestrator/spending/policydoc.py) and the field tables of docs/alerts.md
(orchestrator/alerts/sinkdoc.py) are both generated from the models the daemon validates with, refuse a field
without a description, and are printed or rewritten by the same `--write` command; written twice, each fix to
the check or the table format had to be made twice. What each page says stays in its generator.
It lives at the top of `orchestrator` because neither spending nor alerts is the other's home, and it imports
nothing of the project, so either may use it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

#: A reader's name for each scalar field type.
SCALAR_NAMES: dict[Any, str] = {float: "number", int: "integer", bool: "`true` or `false`", str: "text"}


def default_text(field: FieldInfo, show: Callable[[Any], str]) -> str:
    """`required`, `none`, or `show(value)` for the field's default (a default factory's value where it has one)."""
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]  # our models use no-argument factories
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    return "none" if value is None else show(value)


def table(first_column: str, rows: Iterable[tuple[str, str, str, str | None]]) -> list[str]:
    """A markdown field table's lines: one row per (name, type, default, description); `|` in a description is
    escaped so it cannot split the row."""
    lines = [f"| {first_column} | type | default | meaning |", "|---|---|---|---|"]
    for name, kind, default, description in rows:
        meaning = (description or "").replace("|", "\\|")
        lines.append(f"| `{name}` | {kind} | {default} | {meaning} |")
    return lines


def undocumented(tables: Iterable[tuple[type[BaseModel], Iterable[str]]]) -> list[str]:
    """"Model.field" for every listed field without a description: the page would have a blank where a reader
    needs an answer."""
    return [f"{model.__name__}.{name}" for model, names in tables for name in names
            if not model.model_fields[name].description]


def command(argv: list[str], *, module: str, page: Path, render: Callable[[], str],
            problems: Callable[[], list[str]]) -> int:
    """A generator's command line: exit 1 naming each of `problems()`; else print the page, or rewrite `page`
    with `--write` (exit 2 on other arguments)."""
    found = problems()
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        return 1
    if argv == ["--write"]:
        page.write_text(render())
        print(f"wrote {page}")
    elif not argv:
        sys.stdout.write(render())
    else:
        print(f"usage: python -m {module} [--write]", file=sys.stderr)
        return 2
    return 0
