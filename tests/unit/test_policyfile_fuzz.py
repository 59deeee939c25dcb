"""Hypothesis over policy files: any text, and any policy-shaped document, is a PolicyFile or a PolicyError --
never another exception (which would surface as a 500 from `POST /v1/policies` or a traceback from the CLI)."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.spending.policyfile import PolicyError, PolicyFile, parse_policy

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=30),
                    st.sampled_from(["10m", "2h", "-1s", "1e400d", "global", "team:a", "label:k=v", "UTC",
                                     "Europe/Berlin", "Mars/Olympus", "alert", "stop"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner,
                                                                                        max_size=3), max_leaves=8)
threshold = st.fixed_dictionaries({}, optional={"percent": values | st.integers(-5, 500), "action": values})
budget = st.fixed_dictionaries({}, optional={
    "name": values, "scope": values, "period": st.sampled_from(["daily", "weekly", "monthly", "yearly"]) | values,
    "timezone": values, "limit_usd": values | st.floats(), "thresholds": st.lists(threshold, max_size=3)})
cap = st.fixed_dictionaries({}, optional={"scope": values, "max_price_per_hour": values, "max_runtime": values,
                                          "max_cost_per_job": values})
idle = st.fixed_dictionaries({}, optional={"scope": values, "gpu_utilization_below": values, "window": values,
                                           "grace": values, "action": values})
policy_like = st.fixed_dictionaries({}, optional={
    "budgets": st.lists(budget, max_size=3) | values, "caps": st.lists(cap, max_size=2) | values,
    "idle": st.lists(idle, max_size=2) | values, "dry_run": values, "max_actions_per_sweep": values,
    "extra": values})


def _parse(text: str) -> None:
    try:
        assert isinstance(parse_policy(text, "fuzz"), PolicyFile)
    except PolicyError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)


@settings(max_examples=300, deadline=None)
@given(policy_like)
def test_any_policy_shaped_document_is_a_policy_or_a_policy_error(doc: dict[str, object]) -> None:
    _parse(yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_a_policy_or_a_policy_error(text: str) -> None:
    _parse(text)
