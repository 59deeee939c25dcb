"""Per-token rate limit: a token over its bucket gets 429 JSON with Retry-After; other tokens are unaffected."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from orchestrator.api import create_app
from orchestrator.api.ratelimit import TokenBuckets
from orchestrator.config import Settings
from orchestrator.runtime import build_runtime


def test_bucket_refills_at_the_configured_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=3.0, clock=lambda: now[0])
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k") == 0.5  # empty: one token comes back in 1/rate seconds
    assert buckets.take("other") == 0.0  # buckets are per key
    now[0] += 1.0
    assert buckets.take("k") == 0.0


def test_a_flooding_token_gets_429_json_and_others_do_not(tmp_path: Path) -> None:
    rt = build_runtime(Settings(home=tmp_path, api_rate_limit_per_second=0.5, api_rate_limit_burst=5),
                       with_providers=False)
    try:
        api = TestClient(create_app(rt))
        statuses = [api.get("/v1/jobs", headers={"Authorization": "Bearer sw_flood"}).status_code for _ in range(8)]
        assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 3
        limited = api.get("/v1/jobs", headers={"Authorization": "Bearer sw_flood"})
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert api.get("/v1/jobs", headers={"Authorization": "Bearer sw_other"}).status_code == 401
    finally:
        rt.close()


def test_zero_rate_turns_the_limit_off(tmp_path: Path) -> None:
    rt = build_runtime(Settings(home=tmp_path, api_rate_limit_per_second=0, api_rate_limit_burst=1),
                       with_providers=False)
    try:
        api = TestClient(create_app(rt))
        assert {api.get("/healthz").status_code for _ in range(20)} == {200}
    finally:
        rt.close()
