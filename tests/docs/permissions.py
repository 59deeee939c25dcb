"""The minimal permission lists of docs/clouds/*.md, read out of the block that follows the marker
`<!-- minimal-permissions -->`: an IAM policy (AWS, JSON), a custom role file (GCP, YAML) or a custom role
definition (Azure, JSON). The adapters' tests record the calls a whole cycle makes and check each against it,
so the documented policy cannot drift from the code (tests/providers/*/test_*permissions*.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

DOCS = Path(__file__).resolve().parents[2] / "docs" / "clouds"
MARKER = "<!-- minimal-permissions -->"
_BLOCK = re.compile(r"```(?:json|yaml)\n(.*?)\n```", re.S)


def permission_block(page: str) -> str:
    text = (DOCS / page).read_text()
    at = text.index(MARKER)  # ValueError: the page lost its marked permission block
    match = _BLOCK.search(text, at)
    assert match is not None, f"no ```json or ```yaml block after {MARKER} in docs/clouds/{page}"
    return match.group(1)


def aws_actions() -> set[str]:
    policy = json.loads(permission_block("aws.md"))
    actions: set[str] = set()
    for statement in policy["Statement"]:
        value = statement["Action"]
        actions.update([value] if isinstance(value, str) else value)
    return actions


def gcp_permissions() -> set[str]:
    return set(yaml.safe_load(permission_block("gcp.md"))["includedPermissions"])


def azure_actions() -> set[str]:
    return set(json.loads(permission_block("azure.md"))["Actions"])
