"""Who imports whom in Spotwise, read from the source with `ast`: per module, and per folder of `orchestrator/`.

Why parse rather than import: an import inside a function body or an optional branch only shows when that code
runs, and importing every module would need every SDK installed. The import-rule tests
(tests/unit/test_import_rules.py) and the architecture page's generator (tools/archgraph.py) both read the graph
here, so the rules and the picture are of the same edges.

A *node* of the folder graph is one folder of `orchestrator/` (`jobs`, `provisioning`, ...), one top-level module of
`orchestrator/` (`runtime.py`, `config.py`, ...: the daemon's wiring, each its own node because they sit at
different heights: `logs.py` is under everything, `daemon.py` over everything), or one of the other product
packages (`policies`, `providers`, `spotwise`). Nodes come from the files on disk, so a folder that appears or
disappears changes the graph without an edit here.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The product's packages: `orchestrator` is split into nodes by folder, the others are one node each.
PACKAGES = ("orchestrator", "policies", "providers", "spotwise")
SPLIT = "orchestrator"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: str, root: Path = ROOT) -> dict[str, Path]:
    """Every module of a package (dotted name -> file), subpackages included."""
    return {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}


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


def imports(path: Path, *, module_level: bool, root: Path = ROOT) -> set[str]:
    """Every name imported by the file; `module_level`: only what runs at import (no function bodies, no
    `if TYPE_CHECKING:` blocks)."""
    stat = path.stat()
    return set(_imports(path, stat.st_mtime_ns, stat.st_size, root)[module_level])


@functools.lru_cache(maxsize=4096)
def _imports(path: Path, _mtime_ns: int, _size: int, root: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(every import, the module-level ones) of one file, parsed once per version of it: the rule tests and the
    page generator ask for the same files many times (the version in the key keeps an edited file fresh)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module, is_package = module_name(path, root), path.name == "__init__.py"

    def collect(module_level: bool) -> frozenset[str]:
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
        return frozenset(found)

    return collect(False), collect(True)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as its path (first node repeated at the end), or None."""
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


def import_graph(package: str, root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the package's own modules it imports at module level."""
    own = modules(package, root)
    return {module: {name for name in imports(path, module_level=True, root=root) if name in own and name != module}
            for module, path in own.items()}


# -- the folder graph -------------------------------------------------------------------------------------------------

def node_of(module: str, root: Path = ROOT) -> str:
    """The folder-graph node a module belongs to: `orchestrator.jobs.queue` -> `jobs`, `orchestrator.runtime` ->
    `runtime.py`, the `orchestrator` package itself -> `__init__.py`, `providers.aws.offers` -> `providers`."""
    parts = module.split(".")
    if parts[0] != SPLIT:
        return parts[0]
    if len(parts) == 1:
        return "__init__.py"
    return parts[1] if (root / SPLIT / parts[1]).is_dir() else f"{parts[1]}.py"


def nodes(root: Path = ROOT) -> list[str]:
    """Every node, from the files on disk: the folders and top-level modules of `orchestrator/`, then the other
    packages."""
    found = {node_of(name, root) for package in PACKAGES if (root / package).is_dir()
             for name in modules(package, root)}
    return sorted(found)


@dataclass(frozen=True, order=True)
class Use:
    """One import that crosses nodes: `module` imports `name`; `lazy` when not at import time (a function body or
    an `if TYPE_CHECKING:` block): still a dependency of the design, only not of start-up."""

    module: str
    name: str
    lazy: bool


def folder_graph(root: Path = ROOT) -> dict[str, dict[str, list[Use]]]:
    """Node -> node it imports -> the imports that make the edge, lazy ones included.

    Only the product's own modules count. A name that is not a module (`from orchestrator.jobs.models import
    JobSpec` also yields `...models.JobSpec`) counts as its module; the bare `orchestrator` package that every
    `from orchestrator import x` names is left out, so `from orchestrator import __version__` is an edge to
    `__init__.py` and `from orchestrator import config` one to `config.py` only.
    """
    own: dict[str, Path] = {}
    for package in PACKAGES:
        if (root / package).is_dir():
            own.update(modules(package, root))
    graph: dict[str, dict[str, list[Use]]] = {node: {} for node in nodes(root)}
    for module, path in own.items():
        source = node_of(module, root)
        eager = _deepest({_owner(name, own) for name in imports(path, module_level=True, root=root)})
        for owner in sorted(_deepest({_owner(name, own) for name in imports(path, module_level=False, root=root)})):
            target = node_of(owner, root)
            if target != source:
                graph[source].setdefault(target, []).append(Use(module, owner, owner not in eager))
    return graph


def _owner(name: str, own: dict[str, Path]) -> str | None:
    """The product module an imported name is, or is an attribute of; None for anything else and for the bare
    `orchestrator` package."""
    if name == SPLIT:
        return None
    if name in own:
        return name
    parent = name.rpartition(".")[0]
    return parent if parent in own else None


def _deepest(owners: set[str | None]) -> set[str]:
    """Leave out a package a module names only on the way to its submodule (`from orchestrator.jobs import queue`
    names `orchestrator.jobs` too): the evidence is the submodule."""
    named = {owner for owner in owners if owner is not None}
    return {owner for owner in named if not any(other.startswith(f"{owner}.") for other in named)}

