"""The submit-path throughput changes keep their promises: the token cache's revocation bound, and many concurrent
submissions through the one-connection SQLite pool finish (no request thread waits on a held connection)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.api import create_app
from orchestrator.config import Settings
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import ApiToken
from orchestrator.store.types import utcnow
from orchestrator.tokens import TokenCache, TokenRejected, create_api_token

SPEC = {"name": "t", "run": "true", "resources": {"accelerators": "A100:1"}}


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path, providers={}))
    yield runtime
    runtime.close()


def test_a_token_revoked_elsewhere_is_refused_within_the_cache_ttl(rt: Runtime) -> None:
    cache = TokenCache(ttl=0.3)
    with transaction(rt.sessions) as s:
        row, token = create_api_token(s, role="team", team="a")
    assert cache.authenticate(rt.sessions, token).team == "a"
    with transaction(rt.sessions) as s:  # another replica revokes it: this cache is not told
        s.get(ApiToken, row.id).revoked_at = utcnow()  # type: ignore[union-attr]
    assert cache.authenticate(rt.sessions, token).team == "a"  # still cached, for at most ttl
    time.sleep(0.35)
    with pytest.raises(TokenRejected, match="revoked"):
        cache.authenticate(rt.sessions, token)


def test_a_cached_token_that_expires_is_refused_at_once(rt: Runtime) -> None:
    from datetime import timedelta

    cache = TokenCache(ttl=60)
    with transaction(rt.sessions) as s:
        _, token = create_api_token(s, role="team", team="a", expires_at=utcnow() + timedelta(seconds=0.3))
    assert cache.authenticate(rt.sessions, token).team == "a"
    time.sleep(0.35)
    with pytest.raises(TokenRejected, match="expired"):
        cache.authenticate(rt.sessions, token)


def test_many_concurrent_requests_all_finish(rt: Runtime) -> None:
    """More requests in progress than threads, on one SQLite connection: list requests hold it across a thread
    hop (response validation), so without the in-flight bound this stalled for the 30 s pool timeout."""
    with transaction(rt.sessions) as s:
        _, token = create_api_token(s, role="admin", team=None)
    headers = {"Authorization": f"Bearer {token}"}

    def call(i: int) -> int:
        if i % 2:
            return api.get("/v1/jobs", params={"limit": 5}, headers=headers).status_code
        return api.post("/v1/jobs", json={**SPEC, "team": f"t{i % 3}"}, headers=headers).status_code

    with TestClient(create_app(rt)) as api, ThreadPoolExecutor(64) as pool:
        started = time.monotonic()
        codes = list(pool.map(call, range(600)))
        assert sorted(set(codes)) == [200, 201] and codes.count(201) == 300
        assert time.monotonic() - started < 25
        assert len(api.get("/v1/jobs", params={"limit": 500}, headers=headers).json()["items"]) == 300
