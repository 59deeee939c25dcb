"""`submit` into a budget that blocks new launches says at once that the job will wait, and why; a submit
outside that budget's scope says nothing of the kind. Against a real daemon whose budget really blocked."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.conftest import running_daemon, write

FAST = {"SPOTWISE_LEDGER_INTERVAL_SECONDS": "1", "SPOTWISE_BUDGET_INTERVAL_SECONDS": "1"}
POLICY = ("budgets:\n  - name: tiny\n    scope: team:sandbox\n    period: total\n    limit_usd: 0.000001\n"
          "    thresholds: [{percent: 100, action: block_new}]\n")


def test_submit_into_a_blocked_budget_says_the_job_will_wait(tmp_path: Path) -> None:
    with running_daemon(tmp_path / "home", FAST) as d:
        d.cli("policy", "apply", str(write(tmp_path / "policy.yaml", POLICY)), check=True)
        spec = "name: {name}\nteam: {team}\nrun: sleep 300\nresources: {{accelerators: 'T4:1'}}\n"
        d.cli("submit", str(write(tmp_path / "a.yaml", spec.format(name="first", team="sandbox"))), check=True)
        deadline = time.monotonic() + 60
        while not d.api("GET", "/v1/alerts", params={"kind": "cost.threshold"})["items"]:
            assert time.monotonic() < deadline, "the budget never crossed its block_new threshold"
            time.sleep(0.5)
        blocked = d.cli("submit", str(write(tmp_path / "b.yaml", spec.format(name="second", team="sandbox"))),
                        check=True).stdout
        assert ("it will wait: budget 'tiny' (team:sandbox) is over its block_new threshold; new launches wait; "
                "it starts when the budget allows") in blocked, blocked
        free = d.cli("submit", str(write(tmp_path / "c.yaml", spec.format(name="third", team="other"))),
                     check=True).stdout
        assert "it will wait" not in free and "submitted job" in free
