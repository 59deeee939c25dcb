"""docs/architecture.md's picture of the folders is what `python -m tools.archgraph` draws from the source, and
every package folder says what lives there and what may import it.

Why: the page is where a newcomer learns the layout; a folder added, moved or given a new import without the page
regenerated fails here, and so does a package whose docstring leaves a reader guessing what it is for.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tools import archgraph
from tools.importgraph import ROOT, nodes

#: Folders whose docstring (or README.md) must also say who may import them: the product's packages and tools/.
PACKAGE_ROOTS = ("orchestrator", "policies", "providers", "spotwise", "tools")


def generated(text: str) -> str:
    return text[text.index(archgraph.BEGIN):text.index(archgraph.END)]


def test_the_committed_picture_is_the_generated_one() -> None:
    page = archgraph.PAGE.read_text(encoding="utf-8")
    assert page == archgraph.render(page), (
        "docs/architecture.md is stale: run `python -m tools.archgraph --write` and commit it")


def test_the_picture_names_every_folder_and_module() -> None:
    section = generated(archgraph.PAGE.read_text(encoding="utf-8"))
    picture = section.split("```")[1]
    wiring = next(line for line in picture.splitlines() if '"orchestrator/*.py: ' in line)
    in_wiring_box = wiring.split(": ", 1)[1].rstrip('"]').split(", ")
    for node in nodes():
        assert f"| `{archgraph.label(node)}` |" in section, node
        assert f'"{archgraph.label(node)}' in picture or node.removesuffix(".py") in in_wiring_box, node


def test_the_generator_draws_a_new_folder_and_its_lazy_import(tmp_path: Path) -> None:
    """The picture follows the source: a folder that appears is drawn, with a dotted arrow for a lazy import."""
    for name, text in {"orchestrator/__init__.py": '"""The daemon."""\n',
                       "orchestrator/jobs/__init__.py": '"""Jobs: what a user asked for. More."""\n',
                       "orchestrator/provisioning/__init__.py": '"""Provisioning."""\n',
                       "orchestrator/provisioning/launcher.py": "def f():\n    from orchestrator.jobs import x\n",
                       "orchestrator/newfolder/__init__.py": "", "policies/__init__.py": "",
                       "providers/__init__.py": "", "spotwise/__init__.py": ""}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    section = archgraph.render_section(tmp_path)
    assert "n_provisioning -.-> n_jobs" in section
    assert "| `orchestrator/jobs/` | Jobs: what a user asked for. | nothing |" in section
    assert "| `orchestrator/newfolder/` | (no docstring) | nothing | - |" in section
    assert "subgraph L_unplaced" in section and "n_newfolder[" in section


def _packages() -> list[Path]:
    found = []
    for root in PACKAGE_ROOTS:
        for init in sorted((ROOT / root).rglob("__init__.py")):
            if "migrations" not in init.parts or init.parent.name == "migrations":
                found.append(init.parent)
    return found


def _says(folder: Path) -> str:
    init = folder / "__init__.py"
    text = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) if init.is_file() else None
    readme = folder / "README.md"
    return text or (readme.read_text(encoding="utf-8") if readme.is_file() else "")


def test_every_package_folder_says_what_lives_there_and_what_may_import_it() -> None:
    packages = _packages()
    assert len(packages) >= 25
    silent = [str(p.relative_to(ROOT)) for p in packages if len(_says(p)) < 60]
    assert silent == [], f"package folders without a docstring (or README.md) saying what they hold: {silent}"
    # a folder of a folder (store/migrations) is described by its parent's rules: it needs only to say what it holds
    unclear = [str(p.relative_to(ROOT)) for p in packages
               if len(p.relative_to(ROOT).parts) <= 2 and not re.search(r"\bimport", _says(p))]
    assert unclear == [], f"package docstrings that do not say what imports them or what they import: {unclear}"


def test_every_test_folder_says_what_it_tests() -> None:
    folders = sorted(p for p in (ROOT / "tests").iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    silent = [p.name for p in folders if len(_says(p)) < 30]
    assert silent == [], f"tests/ folders without a docstring or README.md: {silent}"
