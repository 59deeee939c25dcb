"""The YAML the README and docs/ show is accepted by the parsers the daemon uses.

Each fenced `yaml` block is recognised by its top-level keys: a job spec (`name` and `run`) or a spec fragment
(`checkpoint`, `restart_exit_codes`) goes through the CLI's spec loader as a new submission; a policy file
(`budgets`, `caps`, `idle`) through the policy parser; `alert_sinks`/`alert_routes` through the daemon's
start-up check; each section under `providers:` through that adapter's own strict config parser. Why: a
newcomer copies these blocks; a renamed field should fail here, not at their first submit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.alerts.checks import alert_config_problems
from orchestrator.jobs.specfile import SpecError, load_spec_text
from orchestrator.spending.policyfile import parse_policy

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
YAML_BLOCK = re.compile(r"^```yaml[^\n]*\n(.*?)^```", re.S | re.M)
SPEC_FRAGMENT_KEYS = {"checkpoint", "restart_exit_codes", "resources"}


def yaml_blocks() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in YAML_BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{page.relative_to(ROOT)}:{line}", match.group(1)))
    return found


BLOCKS = yaml_blocks()


def _provider_problems(providers: dict[str, Any], home: Path) -> list[str]:
    from providers.aws.config import AWSConfig
    from providers.azure.config import AzureConfig
    from providers.gcp.settings import GCPSettings

    problems = []
    for name, raw in providers.items():
        try:
            if name == "aws":
                AWSConfig.parse(raw or {}, home=home)
            elif name == "gcp":
                GCPSettings.parse(raw or {})
            elif name == "azure":
                AzureConfig.from_dict(raw or {}, home=home)
            elif name != "local":
                problems.append(f"unknown provider {name!r}")
        except Exception as exc:  # each parser raises its own error type; the message is what matters
            problems.append(f"providers.{name}: {exc}")
    return problems


def problems_of(text: str, home: Path) -> tuple[str, list[str]]:
    """(what the block was recognised as, what the daemon's parsers say is wrong with it)."""
    data = yaml.safe_load(text)
    keys = set(data) if isinstance(data, dict) else set()
    if {"name", "run"} <= keys or (keys and keys <= SPEC_FRAGMENT_KEYS):
        spec = text if "run" in keys else "name: doc-fragment\nrun: 'true'\n" + text
        try:
            load_spec_text(spec, "doc")
        except SpecError as exc:
            return "job spec", exc.problems
        return "job spec", []
    if keys & {"budgets", "caps", "idle"}:
        try:
            parse_policy(text, "doc")
        except Exception as exc:  # the policy parser's error lists every problem
            return "policy", [str(exc)]
        return "policy", []
    problems: list[str] = []
    kinds = []
    if keys & {"alert_sinks", "alert_routes"}:
        kinds.append("alerts")
        problems += alert_config_problems(data.get("alert_sinks") or {}, data.get("alert_routes") or [])
    if "providers" in keys:
        kinds.append("providers")
        problems += _provider_problems(data["providers"] or {}, home)
    return "+".join(kinds) or "other", problems


@pytest.mark.parametrize(("where", "text"), BLOCKS, ids=[w for w, _ in BLOCKS])
def test_documented_yaml_is_accepted(where: str, text: str, tmp_path: Path) -> None:
    kind, problems = problems_of(text, tmp_path)
    assert not problems, f"{where} ({kind}):\n" + "\n".join(problems)


def test_the_blocks_are_recognised(tmp_path: Path) -> None:
    """Guards the recognition: a block no parser looks at would pass without being checked."""
    kinds = [problems_of(text, tmp_path)[0] for _, text in BLOCKS]
    assert kinds.count("job spec") >= 6 and kinds.count("policy") >= 1
    assert "alerts" in kinds and "providers" in kinds


def test_a_misspelt_field_fails(tmp_path: Path) -> None:
    assert problems_of("name: x\nrun: 'true'\nresources: {gpus: 'A100:8'}\n", tmp_path)[1]
    assert problems_of("budgets: [{name: b, limit: 10}]\n", tmp_path)[1]
    assert problems_of("alert_sinks: {x: {type: slak, url: 'https://h'}}\n", tmp_path)[1]
    assert problems_of("providers: {aws: {subnet_id: subnet-1}}\n", tmp_path)[1]
