"""The pure recovery rules of policies/retry.py."""

from __future__ import annotations

from policies.retry import Outcome, RetryInput, backoff, classify, decide


def _input(outcome: Outcome, **kw: object) -> RetryInput:
    base = dict(exit_code=None, restart_exit_codes=(), max_restarts=2, infra_failures=0, user_failures=0,
                consecutive_failures=1)
    base.update(kw)
    return RetryInput(outcome=outcome, **base)  # type: ignore[arg-type]


def test_classify() -> None:
    assert classify(preempted=True, exit_code=143) is Outcome.PREEMPTED
    assert classify(preempted=False, exit_code=1) is Outcome.USER
    assert classify(preempted=False, exit_code=None) is Outcome.INFRA


def test_preemption_retries_at_once_and_avoids_the_pool_without_counting() -> None:
    d = decide(_input(Outcome.PREEMPTED, infra_failures=99, consecutive_failures=9))
    assert d.retry and d.delay_seconds == 0 and d.avoid_pool_seconds > 0 and "not counted" in d.reason


def test_infra_failures_back_off_and_stop_at_max_restarts() -> None:
    first = decide(_input(Outcome.INFRA))
    assert first.retry and first.delay_seconds == 0 and first.avoid_pool_seconds > 0
    third = decide(_input(Outcome.INFRA, infra_failures=1, consecutive_failures=3))
    assert third.retry and third.delay_seconds == 10.0
    assert not decide(_input(Outcome.INFRA, infra_failures=2)).retry


def test_user_failures_restart_only_for_listed_codes_up_to_max_restarts() -> None:
    unlisted = decide(_input(Outcome.USER, exit_code=1, restart_exit_codes=(75,)))
    assert not unlisted.retry and "not listed" in unlisted.reason
    listed = decide(_input(Outcome.USER, exit_code=75, restart_exit_codes=(75,), consecutive_failures=2))
    assert listed.retry and listed.delay_seconds == 5.0 and listed.avoid_pool_seconds == 0
    spent = decide(_input(Outcome.USER, exit_code=75, restart_exit_codes=(75,), user_failures=2))
    assert not spent.retry and "max_restarts" in spent.reason


def test_backoff_is_capped() -> None:
    assert [backoff(n, 5, 60) for n in (1, 2, 3, 4, 10)] == [0, 5, 10, 20, 60]
