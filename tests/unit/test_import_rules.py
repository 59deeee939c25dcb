"""The layering rules, read from the source with `ast`: `policies` stays pure, `providers` stays below the daemon.

Why parse rather than import: an import rule broken inside a function body or an optional branch only shows when that
code runs, and importing every module would need every SDK installed. The rules:

- `policies` imports neither `orchestrator` nor a cloud SDK nor a database driver (anywhere in a module: a function-
  level import is still a dependency), so placement stays pure data in, data out;
- `providers` never imports `orchestrator` (adapters are the daemon's tools, not its clients);
- no import cycle among `policies` modules (module-level imports only, `if TYPE_CHECKING:` blocks left out, as the
  interpreter runs them), so each policy can be read and tested alone. A cycle fails with its path.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: What `policies` must not import: the daemon, the cloud SDKs and the database drivers (it does no I/O).
POLICIES_BANNED = ("orchestrator", "boto3", "botocore", "s3transfer", "google", "azure", "psycopg", "psycopg2",
                   "sqlalchemy")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterator[str]:
    """Absolute names one import statement loads: `from a import b` loads `a` and, where b is a module, `a.b`."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:  # relative: resolve against the importing module's package
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[:len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    yield base
    for alias in node.names:
        yield f"{base}.{alias.name}"


def imports(path: Path, *, module_level: bool) -> set[str]:
    """Every name imported by the file; `module_level`: only what runs at import (no function bodies, no
    `if TYPE_CHECKING:` blocks)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module, is_package = module_name(path), path.name == "__init__.py"
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.update(_imported(node, module, is_package))
            elif module_level and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            elif module_level and isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.orelse)
            else:
                visit([child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)])

    visit(tree.body)
    return found


def _top(name: str) -> str:
    return name.partition(".")[0]


def banned_imports(package: str, banned: tuple[str, ...]) -> list[str]:
    return sorted(f"{module} imports {name}" for module, path in modules(package).items()
                  for name in imports(path, module_level=False) if _top(name) in banned)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as its path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                found = walk(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = walk(start)
            if found:
                return found
    return None


def import_graph(package: str) -> dict[str, set[str]]:
    """Module -> the package's own modules it imports at module level."""
    own = modules(package)
    return {module: {name for name in imports(path, module_level=True) if name in own and name != module}
            for module, path in own.items()}


def test_policies_import_neither_the_daemon_nor_an_sdk_nor_a_database_driver() -> None:
    assert banned_imports("policies", POLICIES_BANNED) == []


def test_providers_never_import_the_daemon() -> None:
    assert banned_imports("providers", ("orchestrator",)) == []


def test_policies_modules_import_no_cycle() -> None:
    cycle = find_cycle(import_graph("policies"))
    assert cycle is None, f"import cycle among policies modules: {' -> '.join(cycle or [])}"


# -- the checker itself: each rule can fail ---------------------------------------------------------------------------

def _write(tmp: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checker_finds_a_cycle_and_names_its_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import x\n",
        "pkg/b.py": "from . import c\n",
        "pkg/c.py": "import pkg.a\n",
        "pkg/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import y\n"
                    "def f():\n    from pkg.a import z\n",
    })
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    graph = import_graph("pkg")
    assert graph["pkg.d"] == set()  # TYPE_CHECKING and function-level imports are not import-time edges
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    del graph["pkg.c"]
    assert find_cycle(graph) is None


def test_the_checker_finds_a_banned_import_in_a_function_body(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, {"pkg/__init__.py": "", "pkg/ok.py": "import json\n",
                      "pkg/bad.py": "def f():\n    import boto3.session\n",
                      "pkg/sub/__init__.py": "from orchestrator import models\n"})
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert banned_imports("pkg", ("boto3", "orchestrator")) == [
        "pkg.bad imports boto3.session", "pkg.sub imports orchestrator", "pkg.sub imports orchestrator.models"]
