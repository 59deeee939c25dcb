"""docs/policies.md is what `python -m orchestrator.spending.policydoc` generates from the policy models, and every
policy field has a description. Why: the page is the reference a team lead reads before writing a budget; it must say
exactly what the parser accepts, so a field added without a description, or a model changed without
regenerating the page, fails here."""

from __future__ import annotations

import subprocess
import sys

from orchestrator.spending import policydoc


def test_every_policy_field_has_a_description() -> None:
    assert policydoc.undocumented() == []


def test_the_committed_page_is_the_generated_one() -> None:
    assert policydoc.PAGE.read_text() == policydoc.render(), (
        "docs/policies.md is stale: run `python -m orchestrator.spending.policydoc --write` and commit it")


def test_the_page_names_every_key_of_every_model() -> None:
    page = policydoc.PAGE.read_text()
    for _, _, model in policydoc.SECTIONS:
        for name in model.model_fields:
            assert f"| `{name}` |" in page, name


def test_the_generator_refuses_a_field_without_a_description() -> None:
    """The check cannot pass by accident: a model with a bare field is named, and the command exits 1."""
    code = ("from pydantic import BaseModel\nfrom orchestrator.spending import policydoc\n"
            "class Extra(BaseModel):\n    bare: int = 1\n"
            "policydoc.SECTIONS.append(('extra', 'extra:', Extra))\n"
            "raise SystemExit(policydoc.main([]))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "fields without a description: Extra.bare" in result.stderr
