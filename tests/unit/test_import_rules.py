"""The layering rules, read from the source with `ast` (tools/importgraph.py): which folder may import which.

Why parse rather than import: an import rule broken inside a function body or an optional branch only shows when that
code runs, and importing every module would need every SDK installed. The rules:

- `policies` imports neither `orchestrator` nor a cloud SDK nor a database driver (anywhere in a module: a function-
  level import is still a dependency), so placement stays pure data in, data out;
- `providers` never imports `orchestrator` (adapters are the daemon's tools, not its clients), and one cloud's package
  never imports another's (each cloud is a plugin that can be installed, or left out, alone);
- no import cycle among `policies` modules (module-level imports only, `if TYPE_CHECKING:` blocks left out, as the
  interpreter runs them), so each policy can be read and tested alone. A cycle fails with its path;
- between the folders of `orchestrator/` (and its top-level modules, and the packages beside it), every import,
  lazy ones included, is one that tools/layering.py's ALLOWED table allows, and the folder graph has no cycle but
  the recorded BACK_EDGES. docs/architecture.md draws the same graph.
"""

from __future__ import annotations

from pathlib import Path

from tools.importgraph import ROOT, Use, find_cycle, folder_graph, import_graph, imports, modules, node_of, nodes
from tools.layering import ALLOWED, BACK_EDGES, LAYERS

#: What `policies` must not import: the daemon, the cloud SDKs and the database drivers (it does no I/O).
POLICIES_BANNED = ("orchestrator", "boto3", "botocore", "s3transfer", "google", "azure", "psycopg", "psycopg2",
                   "sqlalchemy")


def _top(name: str) -> str:
    return name.partition(".")[0]


def banned_imports(package: str, banned: tuple[str, ...], root: Path = ROOT) -> list[str]:
    return sorted(f"{module} imports {name}" for module, path in modules(package, root).items()
                  for name in imports(path, module_level=False, root=root) if _top(name) in banned)


def forbidden(graph: dict[str, dict[str, list[Use]]], allowed: dict[str, frozenset[str]]) -> list[str]:
    """Each import the table does not allow, as `source -> target: module imports name [lazy]`."""
    return [f"{source} -> {target}: {use.module} imports {use.name}{' (lazy)' if use.lazy else ''}"
            for source, targets in sorted(graph.items()) if source in allowed
            for target, uses in sorted(targets.items()) if target not in allowed[source] for use in uses]


def folder_cycle(graph: dict[str, dict[str, list[Use]]], back_edges: dict[tuple[str, str], str]) -> list[str] | None:
    return find_cycle({source: {t for t in targets if (source, t) not in back_edges}
                       for source, targets in graph.items()})


def test_policies_import_neither_the_daemon_nor_an_sdk_nor_a_database_driver() -> None:
    assert banned_imports("policies", POLICIES_BANNED) == []


def test_providers_never_import_the_daemon() -> None:
    assert banned_imports("providers", ("orchestrator",)) == []


def test_a_cloud_package_never_imports_another_cloud() -> None:
    clouds = sorted(p.name for p in (ROOT / "providers").iterdir() if (p / "__init__.py").is_file())
    crossing = sorted(f"{module} imports {name}" for cloud in clouds
                      for module, path in modules(f"providers/{cloud}").items()
                      for name in imports(path, module_level=False)
                      if name.startswith("providers.") and name.split(".")[1] in clouds and name.split(".")[1] != cloud)
    assert len(clouds) >= 4 and crossing == []


def test_policies_modules_import_no_cycle() -> None:
    cycle = find_cycle(import_graph("policies"))
    assert cycle is None, f"import cycle among policies modules: {' -> '.join(cycle or [])}"


def test_every_folder_has_a_row_in_the_table_and_a_place_in_the_picture() -> None:
    """A new folder (or top-level module) is a decision: what may it import, and which layer is it drawn in."""
    drawn = {node for _, _, members in LAYERS for node in members}
    assert [n for n in nodes() if n not in ALLOWED] == [], "add a row to tools/layering.py ALLOWED"
    assert [n for n in nodes() if n not in drawn] == [], "add the node to a layer in tools/layering.py LAYERS"


def test_folders_import_only_what_the_table_allows() -> None:
    assert forbidden(folder_graph(), ALLOWED) == []


def test_the_folder_graph_has_no_cycle_but_the_recorded_ones() -> None:
    cycle = folder_cycle(folder_graph(), BACK_EDGES)
    assert cycle is None, f"import cycle between folders: {' -> '.join(cycle or [])}"
    for source, target in BACK_EDGES:  # an exception is an allowed edge, and one that still exists
        assert target in ALLOWED[source] and target in folder_graph()[source], (source, target)


def test_the_agent_never_reaches_the_store_or_a_loop() -> None:
    """The agent runs on the instance and talks to the daemon over HTTP: spelled out, beyond the table's row, so a
    widened row cannot quietly let it import the daemon's state."""
    assert ALLOWED["agent"].isdisjoint({"store", "jobs", "provisioning", "spending", "catalog", "api", "runtime.py"})
    assert set(folder_graph()["agent"]) <= ALLOWED["agent"]


# -- the checker itself: each rule can fail ---------------------------------------------------------------------------

def _write(tmp: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checker_finds_a_cycle_and_names_its_path(tmp_path: Path) -> None:
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import x\n",
        "pkg/b.py": "from . import c\n",
        "pkg/c.py": "import pkg.a\n",
        "pkg/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import y\n"
                    "def f():\n    from pkg.a import z\n",
    })
    graph = import_graph("pkg", tmp_path)
    assert graph["pkg.d"] == set()  # TYPE_CHECKING and function-level imports are not import-time edges
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    del graph["pkg.c"]
    assert find_cycle(graph) is None


def test_the_checker_finds_a_banned_import_in_a_function_body(tmp_path: Path) -> None:
    _write(tmp_path, {"pkg/__init__.py": "", "pkg/ok.py": "import json\n",
                      "pkg/bad.py": "def f():\n    import boto3.session\n",
                      "pkg/sub/__init__.py": "from orchestrator import models\n"})
    assert banned_imports("pkg", ("boto3", "orchestrator"), tmp_path) == [
        "pkg.bad imports boto3.session", "pkg.sub imports orchestrator", "pkg.sub imports orchestrator.models"]


def test_the_checker_builds_the_folder_graph_with_lazy_edges_and_refuses_one_off_the_table(tmp_path: Path) -> None:
    _write(tmp_path, {
        "orchestrator/__init__.py": "__version__ = '1'\n",
        "orchestrator/logs.py": "from orchestrator import __version__\n",
        "orchestrator/jobs/__init__.py": "",
        "orchestrator/jobs/queue.py": "from orchestrator import logs\nfrom orchestrator.store.tables import Job\n",
        "orchestrator/store/__init__.py": "", "orchestrator/store/tables.py": "Job = 1\n",
        "orchestrator/spending/__init__.py": "",
        "orchestrator/spending/idle.py": "def f():\n    from orchestrator.jobs import queue\n",
        "policies/__init__.py": "", "policies/idle.py": "import json\n",
    })
    assert nodes(tmp_path) == ["__init__.py", "jobs", "logs.py", "policies", "spending", "store"]
    assert node_of("orchestrator.jobs.queue", tmp_path) == "jobs" and node_of("orchestrator", tmp_path) == "__init__.py"
    graph = folder_graph(tmp_path)
    assert {source: set(targets) for source, targets in graph.items() if targets} == {
        "logs.py": {"__init__.py"}, "jobs": {"logs.py", "store"}, "spending": {"jobs"}}
    assert graph["spending"]["jobs"] == [Use("orchestrator.spending.idle", "orchestrator.jobs.queue", lazy=True)]
    table = {"__init__.py": frozenset(), "logs.py": frozenset({"__init__.py"}), "jobs": frozenset({"store"}),
             "spending": frozenset({"jobs"}), "store": frozenset(), "policies": frozenset()}
    assert forbidden(graph, table) == ["jobs -> logs.py: orchestrator.jobs.queue imports orchestrator.logs"]
    _write(tmp_path, {"orchestrator/store/meta.py": "def f():\n    import orchestrator.spending.idle\n"})
    cyclic = folder_graph(tmp_path)
    assert folder_cycle(cyclic, {}) == ["jobs", "store", "spending", "jobs"]
    assert folder_cycle(cyclic, {("store", "spending"): "recorded"}) is None
