"""Job specs: durations, accelerators, clear errors, and no crash on any input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.jobs.models import Accelerators, JobSpec, parse_duration
from orchestrator.jobs.specfile import SpecError, load_spec_file, load_spec_text, parse_spec


@pytest.mark.parametrize(("text", "expected"), [
    ("52h", timedelta(hours=52)), ("10m", timedelta(minutes=10)), ("1h30m", timedelta(minutes=90)),
    ("2d", timedelta(days=2)), ("45s", timedelta(seconds=45)), (90, timedelta(seconds=90)),
])
def test_durations(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["", "h", "52", "-1h", "ten minutes", 0, -5, True])
def test_bad_durations_explain_the_format(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_accelerators_parse_and_canonicalise() -> None:
    assert Accelerators.parse("a100:8") == Accelerators(model="A100", count=8)
    assert Accelerators.parse("L4") == Accelerators(model="L4", count=1)
    for bad, fragment in [("A100:-1", "at least 1"), ("A100:x", "whole number"), (":2", "GPU model")]:
        with pytest.raises(ValueError, match=fragment):
            Accelerators.parse(bad)


def test_spec_round_trips_through_json() -> None:
    spec = load_spec_text("name: t\nrun: echo\ndeadline: 52h\nestimated_runtime: 48h\n"
                          "resources: {accelerators: 'H100:8', spot: auto, max_price_per_hour: 40}\n"
                          "checkpoint: {dir: /ckpt, interval: 10m}\n")
    assert JobSpec.model_validate(spec.model_dump(mode="json")) == spec


def test_errors_name_the_field_and_the_choices(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        load_spec_text("name: t\nrun: echo\nresources: {accelerator: A100}\npriority: 5000\n")
    problems = err.value.problems
    assert any("unknown field 'accelerator' in resources; valid fields are: accelerators" in p for p in problems)
    assert any(p.startswith("priority:") for p in problems)
    path = tmp_path / "job.json"
    path.write_text("{not json")
    with pytest.raises(SpecError, match="not valid JSON at line 1"):
        load_spec_file(path)
    with pytest.raises(SpecError, match="must be a mapping"):
        load_spec_text("- a\n- b\n")
    with pytest.raises(SpecError, match="env name"):
        parse_spec({"name": "t", "run": "x", "env": {"1BAD": "v"}})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
spec_like = st.fixed_dictionaries(
    {}, optional={k: json_values for k in ("name", "run", "team", "resources", "env", "deadline", "priority",
                                           "checkpoint", "max_restarts", "setup", "labels")})


@settings(max_examples=300, deadline=None)
@given(spec_like)
def test_any_input_is_a_spec_or_a_spec_error(data: dict[str, object]) -> None:
    try:
        parse_spec(data)
    except SpecError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_a_spec_or_a_spec_error(text: str) -> None:
    try:
        load_spec_text(text)
    except SpecError:
        pass
    except yaml.YAMLError as exc:  # pragma: no cover - would be a bug
        raise AssertionError(f"YAML error escaped: {exc}") from exc
