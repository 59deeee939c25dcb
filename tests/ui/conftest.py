"""Browser fixtures: a real daemon (local provider, fast spending loops) and Debian's Chromium via Playwright.

Outside CI the browser tests skip, saying why, when Chromium or Playwright is missing; with CI=true
they fail instead, so a CI run can never pass without having driven the dashboard.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from providers.local import processes
from tests.e2e.conftest import Daemon

CHROMIUM = os.environ.get("SPOTWISE_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "ui"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
         "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    why = _missing()
    if why:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"browser tests must run in CI: {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def ui_daemon(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Daemon]:
    """One daemon for the module: the ledger, budget and alert loops run every second or faster."""
    from orchestrator.cli.demo import free_port

    home = tmp_path_factory.mktemp("ui") / "home"
    home.mkdir()
    d = Daemon(home=home, port=free_port(), extra_env={
        "SPOTWISE_LEDGER_INTERVAL_SECONDS": "1", "SPOTWISE_BUDGET_INTERVAL_SECONDS": "1",
        "SPOTWISE_ALERT_INTERVAL_SECONDS": "0.5"})
    d.start()
    cluster = d.cluster_id()
    yield d
    d.stop()
    for pid in processes.cluster_pids(cluster):  # never leave a process behind, even on failure
        os.kill(pid, 9)


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
