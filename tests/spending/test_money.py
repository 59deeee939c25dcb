"""Amounts are printed by one function, `policies.money.usd`, and never read `$0.00` when they are not zero.

Why: budgets and caps on test or small workloads are fractions of a cent; "$0.00 spent of $0.00 (700%)" told a
team lead nothing. Budget reasons, cap messages and threshold alert subjects are checked through the code that
makes them.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

import pytest

from policies.budget import evaluate, threshold_subject
from policies.caps import JobLimits, breach
from policies.money import rate, usd


@pytest.mark.parametrize(("amount", "text"), [
    (0, "$0.00"), (0.0035, "$0.0035"), (0.0005, "$0.0005"), (0.00025, "$0.00025"), (0.5, "$0.50"),
    (0.05, "$0.05"), (0.0123, "$0.012"), (0.099999, "$0.10"), (1, "$1.00"), (1234.567, "$1234.57"),
    (-0.0035, "-$0.0035"), (1e-10, "<$0.00000001")])
def test_usd(amount: float, text: str) -> None:
    assert usd(amount) == text


def test_a_nonzero_amount_is_never_zero_and_keeps_two_significant_digits() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        amount = 10 ** rng.uniform(-6.9, 4)  # two significant digits fit in 8 decimals
        text = usd(amount)
        assert text != "$0.00"
        shown = float(text.removeprefix("$"))
        assert abs(shown - amount) <= max(0.005, amount * 0.05), (amount, text)


def test_budget_reason_shows_fractions_of_a_cent() -> None:
    v = evaluate(limit=0.0005, thresholds=[(50, "alert"), (100, "alert")], spent=0.0035, burn_per_hour=0.0,
                 now=datetime(2026, 1, 1, tzinfo=UTC), period_end=None, sweep_interval_s=30)
    assert v.reason.startswith("$0.0035 spent, $0.0035 committed of $0.0005 (700%)")


def test_cap_message_shows_fractions_of_a_cent() -> None:
    hit = breach(JobLimits(max_cost_usd=0.001), runtime_s=10, spent_usd=0.0012, price_per_hour=0.36, horizon_s=0)
    assert hit is not None
    assert hit.reason == "max_cost_per_job cap of $0.001 reached ($0.0012 spent, $0.0012 committed at $0.36/h)"
    assert not re.search(r"\$0\.00\b(?!\d)", hit.reason)
    assert rate(0.0012) == "$0.0012/h"


def test_the_thresholds_of_one_crossing_say_which_each_is() -> None:
    thresholds = [(100, "stop"), (50, "alert"), (80, "block_new")]
    subjects = [threshold_subject("b", p, a, thresholds) for p, a in sorted(thresholds)]
    assert subjects == ["budget b crossed 50% (alert), threshold 1 of 3",
                        "budget b crossed 80% (block_new), threshold 2 of 3",
                        "budget b crossed 100% (stop), threshold 3 of 3"]
    assert threshold_subject("b", 100, "alert", [(100, "alert")]) == "budget b crossed 100% (alert)"
