"""docs/alerts.md names every field of every sink type and of a route, so the reference cannot fall behind.

Why: the sink models are the truth (the daemon validates `alert_sinks` with them); a field added there and
not documented is a field a team lead never finds. The YAML examples themselves are checked by
test_doc_yaml.py.
"""

from __future__ import annotations

from pathlib import Path

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
