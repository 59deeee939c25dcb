"""deploy/grafana/spotwise.json and deploy/prometheus/alerts.yaml against a real daemon's /metrics.

Why: a dashboard panel or an alert over a metric the daemon does not export shows "no data" or never fires,
silently; a renamed metric breaks both. The files are loaded (valid JSON; the Prometheus rule-file structure),
every PromQL expression is checked (promtool when installed, else balanced brackets and known functions), and
every metric name they read must have samples in the /metrics of a daemon started here, after a budget was
set and a spot job was preempted and resumed (so the preemption, budget, agent and latency series exist).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.promql import metric_names, problems
from tests.e2e.conftest import running_daemon

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "spotwise.json"
RULES = DEPLOY / "prometheus" / "alerts.yaml"
POLICY = """\
budgets:
  - name: monitoring
    scope: team:monitoring
    period: monthly
    limit_usd: 100
    thresholds:
      - {percent: 90, action: alert}
"""
SPOT = {"name": "monitored", "team": "monitoring", "resources": {"accelerators": "T4:1", "spot": True},
        "checkpoint": {"dir": "/ckpt", "interval": "1s"},
        "run": 'echo step > $SPOTWISE_CHECKPOINT_DIR/state; sleep 300 & wait'}


def _panel_exprs(panels: list[dict[str, Any]]) -> list[str]:
    exprs = []
    for panel in panels:
        exprs += [t["expr"] for t in panel.get("targets", []) if t.get("expr")]
        exprs += _panel_exprs(panel.get("panels", []))  # panels inside collapsed rows
    return exprs


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and dashboard["panels"]
    exprs = _panel_exprs(dashboard["panels"])
    assert exprs, "the dashboard has no queries"
    return exprs


def rule_exprs() -> list[str]:
    """The rules' expressions, after checking the rule-file structure Prometheus loads."""
    doc = yaml.safe_load(RULES.read_text())
    assert isinstance(doc, dict) and set(doc) == {"groups"} and doc["groups"], "a rule file is {groups: [...]}"
    exprs = []
    for group in doc["groups"]:
        assert isinstance(group["name"], str) and group["rules"], group
        for rule in group["rules"]:
            assert ("alert" in rule) != ("record" in rule), rule
            assert set(rule) <= {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}, rule
            assert isinstance(rule["expr"], str) and rule["expr"].strip(), rule
            if "for" in rule:
                assert re.fullmatch(r"(\d+(ms|s|m|h|d|w|y))+", rule["for"]), rule
            if "alert" in rule:
                assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"]), rule
                assert rule["labels"]["severity"] in ("info", "warning", "critical"), rule
                assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule
            exprs.append(rule["expr"])
    return exprs


def test_the_promql_reader_finds_names_and_mistakes() -> None:
    """The checker below cannot pass by accident: it names what it should and flags what it should."""
    expr = ('histogram_quantile(0.95, sum by (le) (rate(a_seconds_bucket{job="x"}[$__rate_interval]))) '
            '/ on(instance) group_left max without (zone) (b_total offset 5m) > 1e3')
    assert metric_names(expr) == {"a_seconds_bucket", "b_total"}
    assert problems(expr) == []
    assert problems("sum(rate(x[5m])") == ["unclosed '('"]
    assert problems("histogram_quantil(0.5, x)") == ["unknown function 'histogram_quantil'"]


def test_the_files_are_valid_and_their_promql_sane(tmp_path: Path) -> None:
    exprs = dashboard_exprs() + rule_exprs()
    assert {e: problems(e) for e in exprs if problems(e)} == {}
    promtool = shutil.which("promtool")
    if promtool is not None:  # the full parser where it is installed
        result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


def _exported(text: str) -> set[str]:
    """Sample names with at least one sample in a Prometheus text exposition."""
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_every_metric_the_dashboard_and_alerts_read_is_exported(tmp_path: Path) -> None:
    wanted = set().union(*(metric_names(e) for e in dashboard_exprs() + rule_exprs()))
    assert {"spotwise_jobs", "spotwise_placement_latency_seconds_bucket", "spotwise_preemptions_total",
            "spotwise_loop_leader", "spotwise_price_age_seconds", "spotwise_agent_last_seen_age_seconds",
            "spotwise_budget_utilisation_ratio"} <= wanted
    fast = {"SPOTWISE_LEDGER_INTERVAL_SECONDS": "1", "SPOTWISE_BUDGET_INTERVAL_SECONDS": "1",
            "SPOTWISE_IDLE_INTERVAL_SECONDS": "1"}  # every loop has had its first tick (and so a leader) by now
    with running_daemon(tmp_path / "home", fast) as daemon:
        daemon.api("POST", "/v1/policies", json={"text": POLICY, "source": "test"})
        job = daemon.api("POST", "/v1/jobs", json=SPOT)
        try:
            first = daemon.wait_for(job["id"], {"RUNNING"}, timeout=90)["attempt_list"]
            daemon.api("POST", f"/v1/chaos/instances/{first[0]['instance_id']}/preempt", json={"grace_seconds": 1})
            deadline = time.monotonic() + 90
            while True:  # attempt 2 running: a preemption, two launches observed, an agent reporting
                now = daemon.api("GET", f"/v1/jobs/{job['id']}")
                if now["state"] == "RUNNING" and now["attempts"] == 2:
                    break
                assert time.monotonic() < deadline and now["state"] not in ("FAILED", "SUCCEEDED"), now
                time.sleep(0.3)
            deadline = time.monotonic() + 60
            while True:  # energy and budget gauges follow the ledger's and the budget loop's next passes,
                text = httpx.get(daemon.url + "/metrics", timeout=30).text  # and each loop's first lease
                missing = wanted - _exported(text)
                unled = [line for line in text.splitlines() if line.startswith("spotwise_loop_leader{")
                         and float(line.rsplit(" ", 1)[1]) != 1.0]
                if (not missing and not unled) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        finally:
            daemon.api("POST", f"/v1/jobs/{job['id']}/cancel")
    assert missing == set(), f"read by deploy/ but not exported by /metrics: {sorted(missing)}"
    samples = {line.split(" ")[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line and not line.startswith("#")}
    preempted = [v for k, v in samples.items() if k.startswith("spotwise_preemptions_total{")]
    assert preempted == [1.0], preempted
    assert samples["spotwise_placement_latency_seconds_count"] == 2.0  # both attempts' launches
    agents = {k: v for k, v in samples.items() if k.startswith("spotwise_agent_last_seen_age_seconds{")}
    assert any('reporting="true"' in k for k in agents), agents
    # A healthy daemon trips none of the rules' thresholds: every loop led, budget under 90%, live prices fresh,
    # the running agent heard from within the rule's 120 s.
    leaders = {k: v for k, v in samples.items() if k.startswith("spotwise_loop_leader{")}
    assert leaders and set(leaders.values()) == {1.0}, leaders
    assert [v for k, v in samples.items() if k.startswith("spotwise_budget_utilisation_ratio{")][0] < 0.9
    live_ages = [v for k, v in samples.items() if k.startswith("spotwise_price_age_seconds{") and '"live' in k]
    assert live_ages and max(live_ages) < 7200, live_ages
    assert max(v for k, v in agents.items() if 'reporting="true"' in k) < 120


@pytest.mark.parametrize("name", ["spotwise_placement_latency_seconds", "spotwise_preemptions_total",
                                  "spotwise_price_age_seconds", "spotwise_agent_last_seen_age_seconds"])
def test_new_metrics_follow_the_naming_conventions(name: str) -> None:
    """Base units in the name (_seconds), counters end in _total (https://prometheus.io/docs/practices/naming/)."""
    assert re.fullmatch(r"spotwise_[a-z_]+_(seconds|total)", name)
