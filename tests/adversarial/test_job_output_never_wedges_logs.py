"""Whatever bytes a job prints, its log uploads are stored (escaped where a database cannot hold them) on SQLite
and PostgreSQL alike: a NUL used to make every upload a 500 on PostgreSQL until the attempt was lost and relaunched.

Through a real daemon and its real agent: NUL, invalid UTF-8, ANSI escapes and a 10 MB line; the job succeeds on
its first attempt and the other team's job succeeds beside it. Through the real app and store: what a hostile or
old agent could send (lone surrogates, NUL) is stored escaped, and a value the database refuses is a 4xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from orchestrator.api import create_app
from orchestrator.config import Settings
from orchestrator.jobs.attempts import create_attempt
from orchestrator.jobs.logtext import NUL_SYMBOL
from orchestrator.jobs.queue import job_by_id
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import LogChunk
from orchestrator.tokens import agent_token, create_api_token
from providers.base import Offer
from tests.adversarial.containment_support import Tenants, shared_daemon

ANSI = "\x1b[31mred\x1b[0m"
HOSTILE_RUN = (  # the long line first: the agent keeps the newest 8 MiB when the job prints faster than it ships
    "head -c 10000000 /dev/zero | tr '\\000' x; echo; echo after-the-long-line; "
    "printf 'a\\000b\\n'; printf '\\377\\376 invalid utf-8\\n'; printf '\\033[31mred\\033[0m\\n'"
)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def tenants(database: str | None, tmp_path: Path) -> Iterator[Tenants]:
    with shared_daemon(tmp_path / "home", database) as t:
        yield t


def test_any_job_output_is_stored_and_the_job_is_not_relaunched(tenants: Tenants) -> None:
    hostile = tenants.submit_ok("b", {"name": "noisy", "run": HOSTILE_RUN, "max_restarts": 0})
    good = tenants.submit_ok("a", {"name": "good", "run": "echo fine"})

    job = tenants.wait_final("b", hostile, timeout=120)
    assert job["state"] == "SUCCEEDED" and job["attempts"] == 1, job
    text = tenants.logs("b", hostile)
    assert f"a{NUL_SYMBOL}b\n" in text  # NUL stored as U+2400, its place visible
    assert "\ufffd\ufffd invalid utf-8\n" in text  # invalid UTF-8 bytes as U+FFFD
    assert ANSI + "\n" in text  # ANSI escapes kept as printed
    assert "after-the-long-line" in text  # the 10 MB line did not stop the log
    assert text.count("x") >= 1_000_000, text.count("x")  # it was shipped in chunks (the agent buffers 8 MiB)
    assert "\x00" not in text

    other = tenants.wait_final("a", good, timeout=60)
    assert other["state"] == "SUCCEEDED", other
    assert tenants.logs("a", good) == "fine\n"


@pytest.fixture
def app_and_attempt(database: str | None, tmp_path: Path) -> Iterator[tuple[TestClient, str, str, Runtime]]:
    """The real app on the real store, a team-b job with one attempt, and that attempt's agent token."""
    rt = build_runtime(Settings(home=tmp_path, database_url=database or ""), with_providers=False)
    try:
        with transaction(rt.sessions) as s:
            team = create_api_token(s, role="team", team="b")[1]
        api = TestClient(create_app(rt))
        job_id = api.post("/v1/jobs", json={"name": "x", "run": "true"},
                          headers={"Authorization": f"Bearer {team}"}).json()["id"]
        offer = Offer(cloud="local", region="local", zone="local-a", instance_type="cpu", gpu_model="", gpu_count=0,
                      vcpus=1, memory_gb=1, spot=False, price_per_hour=0.0, price_fetched_at=datetime.now(UTC))
        with transaction(rt.sessions) as s:
            attempt = create_attempt(s, job_by_id(s, job_id), offer).id
        yield api, attempt, agent_token(rt.agent_secret, attempt), rt
    finally:
        rt.close()


def test_an_agent_upload_of_any_text_is_stored_or_refused_with_a_4xx(
        app_and_attempt: tuple[TestClient, str, str, Runtime]) -> None:
    api, attempt, token, rt = app_and_attempt
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    url = f"/v1/agent/attempts/{attempt}/logs"
    body = ('{"chunks": [{"stream": "stdout", "seq": 0, "data": "a\\u0000b"},'
            ' {"stream": "stderr", "seq": 0, "data": "\\u001b[31mred\\u001b[0m"}]}')
    for _ in range(2):  # a re-sent batch is stored once
        response = api.post(url, content=body, headers=headers)
        assert response.status_code == 200, response.text
    # a lone surrogate (JSON can write one, UTF-8 cannot): a 4xx the agent drops, never a 500 it retries forever
    lone = '{"chunks": [{"stream": "stdout", "seq": 1, "data": "lone \\udcff surrogate"}]}'
    response = api.post(url, content=lone, headers=headers)
    assert response.status_code == 422 and response.json()["error"]["message"], response.text
    after = api.post(url, json={"chunks": [{"stream": "stdout", "seq": 2, "data": "still logging\n"}]},
                     headers=headers)
    assert after.status_code == 200, after.text
    with transaction(rt.sessions) as s:
        stored = [c.data for c in s.scalars(select(LogChunk).order_by(LogChunk.stream, LogChunk.seq))]
    assert stored == [ANSI, f"a{NUL_SYMBOL}b", "still logging\n"]


def test_a_value_the_database_refuses_is_a_4xx_not_a_500(database: str | None, tmp_path: Path) -> None:
    """A NUL in a text column nothing else checks (a token's name): PostgreSQL refuses it (DataError); the
    answer is a 422 naming the refusal, never a 500 a client retries. SQLite stores it."""
    rt = build_runtime(Settings(home=tmp_path, database_url=database or ""), with_providers=False)
    try:
        with transaction(rt.sessions) as s:
            admin = create_api_token(s, role="admin", team=None)[1]
        api = TestClient(create_app(rt))
        response = api.post("/v1/tokens", json={"team": "c", "name": "a\x00b"},
                            headers={"Authorization": f"Bearer {admin}"})
        if database is None:
            assert response.status_code == 201, response.text
        else:
            assert response.status_code == 422, response.text
            assert response.json()["error"]["code"] == "invalid_data", response.text
    finally:
        rt.close()
