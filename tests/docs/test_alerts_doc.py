"""docs/alerts.md names every field of every sink type and of a route, so the reference cannot fall behind.

Why: the sink models are the truth (the daemon validates `alert_sinks` with them); a field added there and
not documented is a field a team lead never finds. The field tables are generated from the models by
`python -m orchestrator.alerts.sinkdoc --write` (as docs/policies.md is by orchestrator.spending.policydoc): a model
changed without regenerating the page, a field without a description, or a sink type without its marked table
fails here. The YAML examples themselves are checked by test_doc_yaml.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from orchestrator.alerts import sinkdoc
from orchestrator.alerts.routing import Route
from orchestrator.alerts.sinks import SINK_MODELS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text()


def test_every_sink_type_and_field_is_documented() -> None:
    missing = []
    for kind, model in SINK_MODELS.items():
        if f"### {kind}" not in DOC:
            missing.append(f"section ### {kind}")
        missing += [f"{kind}.{name}" for name in model.model_fields if f"`{name}`" not in DOC]
    missing += [f"route.{name}" for name in Route.model_fields if f"`{name}`" not in DOC]
    assert not missing, f"docs/alerts.md does not document: {', '.join(missing)}"


def test_every_sink_and_route_field_has_a_description() -> None:
    """The descriptions are what a validation error and a future generated table would show."""
    bare = [f"{kind}.{name}" for kind, model in SINK_MODELS.items() for name, field in model.model_fields.items()
            if name != "type" and not field.description]
    bare += [f"route.{name}" for name, field in Route.model_fields.items() if not field.description]
    assert not bare, f"fields without a description: {', '.join(bare)}"


def test_the_receiver_in_the_docs_is_the_example_file_the_tests_run() -> None:
    """tests/e2e/test_webhook_receiver.py runs examples/webhook_receiver.py against a real daemon; the page must
    show that same file, byte for byte, or the tested code and the copied code drift apart."""
    example = (Path(__file__).resolve().parents[2] / "examples" / "webhook_receiver.py").read_text()
    assert "```python\n" + example + "```\n" in DOC
    assert len(example.splitlines()) <= 25, "keep the example short enough to read at a glance"


def test_the_committed_tables_are_the_generated_ones() -> None:
    assert sinkdoc.missing_tables(DOC) == []
    assert sinkdoc.render(DOC) == DOC, (
        "docs/alerts.md's field tables are stale: run `python -m orchestrator.alerts.sinkdoc --write` and commit it")


def test_each_table_lists_each_field_with_its_type_default_and_description() -> None:
    assert sinkdoc.undocumented() == []
    assert "| `timeout_seconds` | number | `10` | one delivery attempt gives up after this" in DOC
    assert "| `urls` | list of secret text | required | Apprise URLs, one per service" in DOC
    assert "| `ca_file` | text | none | trust this CA file" in DOC
    for kind, model in SINK_MODELS.items():
        block = DOC.split(f"<!-- BEGIN fields {kind} ")[1].split(f"<!-- END fields {kind} -->")[0]
        for name in model.model_fields:
            if name not in sinkdoc.tables()["common"][1] and name != "type":
                assert f"| `{name}` |" in block, f"{kind}.{name}"


def test_the_generator_keeps_the_prose_and_rewrites_only_the_tables() -> None:
    edited = DOC.replace("| `port` | integer | `587` |", "| `port` | integer | `25` |")
    assert edited != DOC and sinkdoc.render(edited) == DOC
    assert sinkdoc.render("prose\n<!-- BEGIN fields nosuch -->\nkept\n<!-- END fields nosuch -->\n") == (
        "prose\n<!-- BEGIN fields nosuch -->\nkept\n<!-- END fields nosuch -->\n")
    assert sinkdoc.missing_tables(DOC.replace("<!-- BEGIN fields apprise", "<!-- gone")) == ["apprise"]


def test_the_generator_refuses_a_field_without_a_description() -> None:
    """The check cannot pass by accident: a sink type with a bare field is named, and the command exits 1."""
    code = ("from typing import Literal\nfrom orchestrator.alerts import sinkdoc, sinks\n"
            "from orchestrator.alerts.sinkbase import Sink\n"
            "class Extra(Sink):\n    type: Literal['extra']\n    bare: int = 1\n"
            "sinks.SINK_MODELS['extra'] = Extra\n"
            "raise SystemExit(sinkdoc.main([]))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "fields without a description: Extra.bare" in result.stderr
