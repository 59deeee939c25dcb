"""End to end for spending: `spotwise costs|policy|alerts` and a runtime cap, against a real daemon.

One daemon serves the module (starting one costs seconds); the tests run in file order and each
reads only what it made.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Daemon, running_daemon, write

FAST = {"SPOTWISE_LEDGER_INTERVAL_SECONDS": "1", "SPOTWISE_BUDGET_INTERVAL_SECONDS": "1",
        "SPOTWISE_ALERT_INTERVAL_SECONDS": "0.5", "SPOTWISE_STOP_GRACE_SECONDS": "2"}
GOOD = """budgets:
  - name: e2e
    scope: team:e2e
    period: monthly
    timezone: Europe/Berlin
    limit_usd: 100
caps:
  - scope: label:capped=yes
    max_runtime: 3s
"""
BAD = """budgets:
  - name: e2e
    period: monthly
    timezone: Mars/Olympus
    limit_usd: 100
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("spending-e2e")
    with running_daemon(root / "home", FAST) as d:
        yield d


def test_policy_apply_show_diff_and_a_bad_file_changes_nothing(daemon: Daemon, tmp_path: Path) -> None:
    bad = daemon.cli("policy", "apply", str(write(tmp_path / "bad.yaml", BAD)))
    assert bad.returncode != 0
    assert "line 4: budgets.0.timezone: unknown timezone 'Mars/Olympus'" in bad.stderr + bad.stdout
    assert "nothing changed" in bad.stderr + bad.stdout
    assert "no policy applied yet" in daemon.cli("policy", "show", check=True).stdout
    good = write(tmp_path / "good.yaml", GOOD)
    assert "policy version 1 applied" in daemon.cli("policy", "apply", str(good), check=True).stdout
    assert daemon.cli("policy", "show", check=True).stdout.endswith(GOOD)
    changed = write(tmp_path / "changed.yaml", GOOD.replace("limit_usd: 100", "limit_usd: 250"))
    diff = daemon.cli("policy", "diff", str(changed), check=True).stdout
    assert "-    limit_usd: 100" in diff and "+    limit_usd: 250" in diff
    refused = daemon.cli("policy", "diff", str(write(tmp_path / "bad2.yaml", BAD)))
    assert refused.returncode != 0 and "line 4" in refused.stderr + refused.stdout
    assert json.loads(daemon.cli("policy", "show", "-o", "json", check=True).stdout)["version"] == 1


def test_runtime_cap_stops_a_job_with_an_alert_and_a_clear_reason(daemon: Daemon) -> None:
    job = daemon.api("POST", "/v1/jobs", json={"name": "forever", "run": "sleep 300", "team": "e2e",
                                                 "labels": {"capped": "yes"},
                                                 "resources": {"accelerators": "T4:1", "spot": True}})
    done = daemon.wait_for(job["id"], {"FAILED", "SUCCEEDED", "CANCELLED"}, timeout=40)
    assert done["state"] == "FAILED" and "max_runtime cap of 3s reached" in done["reason"]
    alerts = json.loads(daemon.cli("alerts", "list", "--kind", "shutdown.cap", "-o", "json", check=True).stdout)
    assert [a["subject"].split(": ")[0] for a in alerts["items"]] == [f"job {job['id']} stopping"]
    assert "max_runtime cap of 3s reached" in alerts["items"][0]["subject"]


def test_costs_as_json_and_csv_agree(daemon: Daemon) -> None:
    data = json.loads(daemon.cli("costs", "--by", "team", "--output", "json", check=True).stdout)
    row = next(r for r in data["items"] if r["team"] == "e2e")  # the capped job ran a few seconds
    assert row["cost_usd"] > 0 and row["instance_hours"] > 0
    rows = list(csv.DictReader(io.StringIO(daemon.cli("costs", "--by", "job", "--output", "csv",
                                                      check=True).stdout)))
    assert rows and set(rows[0]) == {"job", "name", "team", "cost_usd", "instance_hours"}
    assert sum(float(r["cost_usd"]) for r in rows) >= row["cost_usd"]
    assert {(r["name"], r["team"]) for r in rows} >= {("forever", "e2e")}  # beside the id: what and whose
    table = daemon.cli("costs", "--by", "job", check=True).stdout
    assert "NAME" in table and "TEAM" in table and "forever" in table and "$0.00 " not in table
    assert daemon.cli("costs", "--output", "xml").returncode == 2


def test_alerts_test_and_list(daemon: Daemon) -> None:
    sent = daemon.cli("alerts", "test", "log", check=True).stdout
    assert "delivered to log" in sent
    items = json.loads(daemon.cli("alerts", "list", "--kind", "test", "-o", "json", check=True).stdout)["items"]
    assert [d["state"] for d in items[0]["deliveries"]] == ["delivered"]
    table = daemon.cli("alerts", "list", check=True).stdout
    assert "shutdown.cap" in table and "log:delivered" in table
    unknown = daemon.cli("alerts", "test", "pager")
    assert unknown.returncode != 0 and "pager" in unknown.stderr + unknown.stdout
