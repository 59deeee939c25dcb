"""The sign-in page offers no "Sign out" (nobody is signed in yet), and every page has a favicon that loads."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import Daemon
from tests.ui.test_dashboard import sign_in


def test_the_sign_in_page_has_no_sign_out_and_pages_have_a_favicon(ui_daemon: Daemon, browser: Any) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(ui_daemon.url + "/ui/jobs")
    expect(page.get_by_label("API token", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon
    answer = httpx.get(ui_daemon.url + icon, timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    sign_in(page, ui_daemon.url + "/ui/jobs", ui_daemon.token)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    ctx.close()
