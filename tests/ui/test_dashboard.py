"""The dashboard in a real browser against a real daemon (local provider): jobs appear and finish without a
reload, the job page shows attempts, events and logs, the spend chart draws a budget line, alerts show
their delivery, and a team token sees only its team. Screenshots of every page go to artifacts/ui/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Daemon

pytestmark = pytest.mark.e2e

POLICY = """
budgets:
  - name: all-daily
    scope: global
    period: daily
    limit_usd: 0.0004
    thresholds: [{percent: 50, action: alert}]
  - name: vision-daily
    scope: team:vision
    period: daily
    limit_usd: 0.002
"""
TRAIN = ('for i in 1 2 3 4 5 6; do echo "step $i loss 0.$((90 - i * 11))"; sleep 1; done; '
         'echo "done: 6 steps, checkpoint saved"')


def job(name: str, team: str, run: str = TRAIN) -> dict[str, Any]:
    return {"name": name, "team": team, "resources": {"accelerators": "T4:1", "spot": True}, "run": run,
            "deadline": "2h", "estimated_runtime": "10m"}


def sign_in(page: Any, url: str, token: str) -> None:
    page.goto(url)
    page.get_by_label("API token", exact=True).fill(token)
    page.get_by_label("API token", exact=True).press("Enter")
    page.locator("#who").wait_for(state="visible")


@pytest.fixture(scope="module")
def jobs(ui_daemon: Daemon) -> dict[str, str]:
    ui_daemon.api("POST", "/v1/policies", json={"text": POLICY, "source": "test"})
    return {}


def test_admin_sees_jobs_run_spend_and_alerts(ui_daemon: Daemon, browser: Any, artifacts: Path,
                                              jobs: dict[str, str]) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1360, "height": 860})
    page = ctx.new_page()
    sign_in(page, ui_daemon.url + "/ui/jobs", ui_daemon.token)
    expect(page.locator("#who-text")).to_have_text("admin")
    page.reload()  # the token is kept for the tab's session: no second sign-in
    expect(page.locator("#who-text")).to_have_text("admin")
    page.keyboard.press("Tab")  # keyboard users land on the skip link first, and it leads to the content
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_label("State", exact=True)).to_be_focused()

    jobs["demo"] = ui_daemon.api("POST", "/v1/jobs", json=job("numpy-train", "demo"))["id"]
    jobs["vision"] = ui_daemon.api("POST", "/v1/jobs", json=job("resnet-eval", "vision"))["id"]
    row = page.locator("#jobs-table tr", has=page.get_by_role("link", name=jobs["demo"]))
    expect(row).to_be_visible(timeout=10_000)  # appeared by polling, no reload
    expect(row.locator("td[data-label=State]")).to_have_text(re.compile("PROVISIONING|RUNNING"), timeout=20_000)
    expect(row.locator("td[data-label='Cloud / zone']")).to_contain_text("local /", timeout=20_000)

    page.get_by_role("link", name="Instances").click()
    inst = page.locator("#instances-table tr", has_text="numpy-train")
    expect(inst).to_be_visible(timeout=15_000)
    expect(inst.locator("td[data-label=Market]")).to_have_text("spot")
    page.screenshot(path=str(artifacts / "instances.png"), full_page=True)

    page.get_by_role("link", name="Jobs", exact=True).click()
    row = page.locator("#jobs-table tr", has=page.get_by_role("link", name=jobs["demo"]))
    expect(row.locator("td[data-label=State]")).to_have_text("SUCCEEDED", timeout=60_000)
    other = page.locator("#jobs-table tr", has=page.get_by_role("link", name=jobs["vision"]))
    expect(other.locator("td[data-label=State]")).to_have_text("SUCCEEDED", timeout=30_000)
    expect(row.locator("td[data-label='Cost so far']")).to_have_text(re.compile(r"\$0\.0\d*[1-9]"))
    page.get_by_label("State", exact=True).select_option("SUCCEEDED")
    expect(page.locator("#jobs-table caption")).to_have_text("2 jobs, newest first")
    page.screenshot(path=str(artifacts / "jobs.png"), full_page=True)

    row.get_by_role("link", name=jobs["demo"]).click()
    expect(page).to_have_url(re.compile(f"/ui/jobs/{jobs['demo']}$"))
    expect(page.locator("#job-attempts td[data-label=State]").first).to_have_text("SUCCEEDED")
    expect(page.locator("#job-logs")).to_contain_text("done: 6 steps", timeout=10_000)
    expect(page.locator("#job-events")).to_contain_text("SUCCEEDED")
    expect(page.locator("svg.timeline rect.bar.ok")).to_have_count(1)
    expect(page.locator("#job-checkpoints")).not_to_be_empty()
    page.screenshot(path=str(artifacts / "job.png"), full_page=True)

    page.get_by_role("link", name="Spend").click()
    page.get_by_label("Window", exact=True).select_option("600:10")
    expect(page.locator("svg.chart[data-window='600'] line.budget")).to_have_count(2, timeout=15_000)
    expect(page.locator("svg.chart polygon.area")).to_have_count(2)  # demo and vision, stacked
    expect(page.locator("svg.chart .budget-label").first).to_contain_text("all-daily (daily)")
    expect(page.locator("#spend-budgets")).to_contain_text("all-daily")
    page.screenshot(path=str(artifacts / "spend.png"), full_page=True)

    page.get_by_role("link", name="Alerts").click()
    alert = page.locator("#alerts-table tr", has_text="budget all-daily crossed 50%")
    expect(alert).to_be_visible(timeout=20_000)
    expect(alert.locator("td[data-label=Delivery]")).to_contain_text("log: delivered", timeout=10_000)
    page.screenshot(path=str(artifacts / "alerts.png"), full_page=True)

    page.get_by_role("link", name="Offers").click()
    t4 = page.locator("#offers-table tr", has_text="T4")
    expect(t4).to_be_visible(timeout=10_000)
    expect(t4.locator("td[data-label='Cheapest spot']")).to_contain_text("local")
    page.screenshot(path=str(artifacts / "offers.png"), full_page=True)
    ctx.close()


def test_team_token_sees_only_its_team(ui_daemon: Daemon, browser: Any, artifacts: Path,
                                       jobs: dict[str, str]) -> None:
    from playwright.sync_api import expect

    if "demo" not in jobs:  # run alone (or after a failed admin test): submit the two teams' jobs here
        jobs["demo"] = ui_daemon.api("POST", "/v1/jobs", json=job("numpy-train", "demo"))["id"]
        jobs["vision"] = ui_daemon.api("POST", "/v1/jobs", json=job("resnet-eval", "vision"))["id"]
    vision = ui_daemon.api("POST", "/v1/tokens", json={"team": "vision", "name": "ui test"})["token"]
    ctx = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = ctx.new_page()
    sign_in(page, ui_daemon.url + "/ui/jobs", vision)
    expect(page.locator("#who-text")).to_have_text("team vision")
    expect(page.get_by_role("link", name=jobs["vision"])).to_be_visible(timeout=10_000)
    expect(page.get_by_role("link", name=jobs["demo"])).to_have_count(0)
    expect(page.get_by_label("Team", exact=True)).to_have_value("vision")
    page.screenshot(path=str(artifacts / "jobs-team-phone.png"), full_page=True)

    page.goto(f"{ui_daemon.url}/ui/jobs/{jobs['demo']}")  # the token survives navigation (sessionStorage)
    expect(page.locator("#job-summary")).to_contain_text("not found", timeout=10_000)

    page.goto(f"{ui_daemon.url}/ui/spend?window=600:10")
    expect(page.locator("svg.chart[data-window='600'] polygon.area")).to_have_count(1, timeout=10_000)
    expect(page.locator("svg.chart line.budget")).to_have_count(1)  # its own budget, not the global one
    expect(page.locator("#spend-totals")).not_to_contain_text("demo")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token", exact=True)).to_be_focused()
    ctx.close()

    # the pages only show what the API gives; the API itself refuses the other team's data
    headers = {"Authorization": f"Bearer {vision}"}
    listed = httpx.get(f"{ui_daemon.url}/v1/dashboard/jobs", headers=headers, timeout=10).json()["items"]
    assert {j["id"] for j in listed} == {jobs["vision"]}
    assert httpx.get(f"{ui_daemon.url}/v1/dashboard/jobs?team=demo", headers=headers, timeout=10).status_code == 403
    spend = httpx.get(f"{ui_daemon.url}/v1/dashboard/spend", headers=headers, timeout=10).json()
    assert spend["keys"] == ["vision"]
    assert httpx.get(f"{ui_daemon.url}/v1/dashboard/me", timeout=10).status_code == 401
