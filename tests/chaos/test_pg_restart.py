"""A real daemon on a throwaway PostgreSQL that is stopped and started under it: while the database is down
the API answers 503 in its JSON error shape (Retry-After), /healthz says why, and once it is back the same
daemon process serves and works again (pooled connections re-validated, leases re-taken), no restart needed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.chaos.pgcluster import ThrowawayPostgres, unavailable_reason
from tests.e2e.conftest import Daemon, running_daemon

NO_PG = unavailable_reason()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(NO_PG is not None, reason=f"no throwaway PostgreSQL: {NO_PG}")]


@pytest.fixture
def pg() -> Iterator[ThrowawayPostgres]:
    with ThrowawayPostgres() as cluster:
        yield cluster


@pytest.fixture
def daemon(pg: ThrowawayPostgres, tmp_path: Path) -> Iterator[Daemon]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(f"database_url: {json.dumps(pg.url)}\n")
    with running_daemon(home, {"SPOTWISE_RECONCILE_INTERVAL_SECONDS": "0.5"}) as d:
        yield d


def _get(daemon: Daemon, path: str) -> httpx.Response:
    return httpx.get(daemon.url + path, headers={"Authorization": f"Bearer {daemon.token}"}, timeout=10)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_api_answers_503_json_while_postgres_is_down_and_recovers(daemon: Daemon, pg: ThrowawayPostgres,
                                                                  mode: str) -> None:
    assert _get(daemon, "/v1/jobs").status_code == 200
    pg.stop(mode)
    try:
        down = _get(daemon, "/v1/jobs")
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] == "database_unavailable"
        assert down.headers["Retry-After"] == "1"
        assert "Traceback" not in down.text and "psycopg" not in down.text
        health = _get(daemon, "/healthz")
        assert health.status_code == 503 and health.json()["error"]["code"] == "unhealthy"
    finally:
        pg.start()
    job = daemon.api("POST", "/v1/jobs", json={"name": "after-restart", "run": "true",
                                               "resources": {"accelerators": "T4:1"}})
    assert _get(daemon, f"/v1/jobs/{job['id']}").status_code == 200
    # the loops took their leases again and reconcile works on the new job: it gets an attempt
    deadline = time.monotonic() + 30
    while not daemon.api("GET", f"/v1/jobs/{job['id']}").get("attempt_list"):
        assert time.monotonic() < deadline, "reconcile never placed the job after the restart"
        time.sleep(0.3)
    assert daemon.proc is not None and daemon.proc.poll() is None  # the same daemon rode it out
    log = (daemon.home / "daemon.log").read_text()
    assert "unhandled_api_error" not in log
