"""The core names no cloud: every per-cloud fact and hook is declared by the cloud's own package (its `CloudPlugin`,
providers/plugin.py), so a cloud installed by entry point gets everything a built-in one gets.

Read from the source with `ast`: a string constant that is exactly a built-in cloud's name ("aws", "gcp", "azure")
in `orchestrator/`, `policies/` or `spotwise/` is a per-cloud branch or table in the making. Comments and
docstrings that mention a cloud in prose are not constants equal to its name, so only code is caught. The few that
remain are listed with why; an entry no longer needed fails too, so the list cannot rot.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ("orchestrator", "policies", "spotwise")
CLOUD_NAMES = frozenset({"aws", "gcp", "azure"})

#: (file, name) -> (how many, why it is not a per-cloud branch).
ALLOWED: dict[tuple[str, str], tuple[int, str]] = {
    ("orchestrator/catalog/vmscsv.py", "gcp"): (1, "a vms.csv *variant* (SkyPilot's GCP file format, GPUs as rows of "
                                               "their own), which a plugin names in `vms_csv`: a format, not a cloud"),
    ("orchestrator/catalog/vmscsv.py", "azure"): (1, "a vms.csv variant (SkyPilot's Azure file format, a variable "
                                                 "field count), named by a plugin's `vms_csv`"),
    ("orchestrator/sim/gravity.py", "aws"): (1, "the simulator's bundled trace sets are AWS spot traces (zones like "
                                            "us-east-1a): the data's origin, a default a caller may override"),
}


def cloud_literals(source: str) -> Counter[str]:
    """How often each cloud name occurs as a whole string constant in `source`."""
    return Counter(node.value for node in ast.walk(ast.parse(source))
                   if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in CLOUD_NAMES)


def core_literals() -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for package in CORE:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for name, count in cloud_literals(path.read_text(encoding="utf-8")).items():
                found[(rel, name)] = count
    return found


def test_the_scan_finds_a_cloud_branch_and_leaves_prose_alone() -> None:
    code = '"""Runs on aws, gcp or azure."""\nif cloud == "aws":\n    regions = {"gcp": 1, "azure:x": 2}  # "azure"\n'
    assert cloud_literals(code) == Counter({"aws": 1, "gcp": 1})


def test_the_core_names_no_cloud_outside_the_allow_list() -> None:
    found = core_literals()
    unexpected = {key: n for key, n in found.items() if n > ALLOWED.get(key, (0, ""))[0]}
    assert not unexpected, (
        f"per-cloud names in the core: {unexpected}; declare the fact or hook in the cloud's plugin "
        "(providers/plugin.py, docs/adding-a-provider.md) and look it up by name")
    stale = {key for key, (n, _) in ALLOWED.items() if found.get(key, 0) < n}
    assert not stale, f"allow-list entries no longer needed (remove them): {sorted(stale)}"
