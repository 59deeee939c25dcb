"""The start-up script's bootstrap token: exchanged once, by the attempt's own instance, while the attempt lives.

A real daemon API (in-process uvicorn over HTTP, as in tests/unit/test_bootstrap_wheel.py) and a real SQLite file;
the agent's own exchange code (orchestrator/agent/session.py) with identity proofs read from the fake metadata
servers over HTTP. A stolen token is played by a second caller with its own claim.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from orchestrator.agent.client import DaemonRefused
from orchestrator.agent.identity import identity_proof
from orchestrator.agent.session import exchange
from orchestrator.config import Settings
from orchestrator.jobs.attempts import AttemptState, end_attempt
from orchestrator.runtime import Runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Alert, Instance, JobEvent
from orchestrator.tokens import agent_token, bootstrap_token
from tests.agent.fake_metadata import MetadataState, fake_metadata_server
from tests.unit.test_bootstrap_wheel import INSTANCE, _attempt, serve


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, str]]:
    """The in-process daemon API, on a real SQLite file and on the real PostgreSQL (the once-only row's insert
    differs by dialect)."""
    with serve(Settings(home=tmp_path / "home", database_url=db_url)) as running:
        yield running


@pytest.fixture
def imds() -> Iterator[tuple[str, MetadataState]]:
    with fake_metadata_server() as (url, state):
        state.set_identity("aws", INSTANCE, region="us-east-1", zone="us-east-1a")
        yield url, state


def _post(url: str, token: str, claim: str, identity: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{url}/v1/agent/bootstrap", json={"bootstrap_token": token, "claim": claim,
                                                         "identity": identity}, timeout=10)


def _proof(imds_url: str, url: str, claim: str) -> dict[str, object]:
    return identity_proof(f"aws:{imds_url}", audience=url, claim=claim)


def _alerts(rt: Runtime) -> list[str]:
    with transaction(rt.sessions) as s:
        return list(s.scalars(select(Alert.kind)))


def test_a_bootstrap_token_is_exchanged_once_and_a_second_claimant_is_refused_and_alerted(
        served: tuple[Runtime, str], imds: tuple[str, MetadataState]) -> None:
    rt, url = served
    job_id, attempt_id = _attempt(rt, "true")
    token = bootstrap_token(rt.agent_secret, attempt_id)
    claim = secrets.token_urlsafe(32)

    got = exchange(url, token, claim, f"aws:{imds[0]}", give_up_after=20)
    assert got == agent_token(rt.agent_secret, attempt_id)
    beat = httpx.post(f"{url}/v1/agent/attempts/{attempt_id}/heartbeat", json={"phase": "running"},
                      headers={"Authorization": f"Bearer {got}"}, timeout=10)
    assert beat.status_code == 200, beat.text

    again = _post(url, token, claim, _proof(imds[0], url, claim))  # the same agent, its answer lost: same token
    assert again.status_code == 200 and again.json()["agent_token"] == got and again.json()["repeat"] is True

    thief = secrets.token_urlsafe(32)  # the token read from metadata, with the right identity even
    stolen = _post(url, token, thief, _proof(imds[0], url, thief))
    assert stolen.status_code == 409, stolen.text
    assert stolen.json()["error"]["code"] == "conflict" and "agent_token" not in stolen.text
    with pytest.raises(DaemonRefused) as refused:
        exchange(url, token, secrets.token_urlsafe(32), f"aws:{imds[0]}", give_up_after=20)
    assert refused.value.status == 409
    assert _alerts(rt).count("agent.bootstrap_refused") == 2  # both refusals were committed with their alert
    with transaction(rt.sessions) as s:
        kinds = [e.kind for e in s.scalars(select(JobEvent).where(JobEvent.job_id == job_id))]
    assert kinds.count("agent_bootstrap") == 1 and kinds.count("security") == 2


def test_an_exchange_with_another_instances_identity_is_refused(
        served: tuple[Runtime, str], imds: tuple[str, MetadataState]) -> None:
    rt, url = served
    _, attempt_id = _attempt(rt, "true")
    token = bootstrap_token(rt.agent_secret, attempt_id)
    imds_url, state = imds
    for wrong in ({"instance": "i-0ffffffffffffffff"}, {"zone": "us-east-1b"}, {"region": "us-west-2"}):
        state.set_identity("aws", wrong.get("instance", INSTANCE), region=wrong.get("region", "us-east-1"),
                           zone=wrong.get("zone", "us-east-1a"))
        claim = secrets.token_urlsafe(32)
        answer = _post(url, token, claim, _proof(imds_url, url, claim))
        assert answer.status_code == 403, (wrong, answer.text)
        assert "agent_token" not in answer.text
    for proof in ({}, {"kind": "gcp", "jwt": "a.b.c"}, {"kind": "local", "instance_id": INSTANCE},
                  {"kind": "aws", "document": "not json"}):
        answer = _post(url, token, secrets.token_urlsafe(32), proof)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden", (proof, answer.text)
    state.set_identity("aws", INSTANCE, region="us-east-1", zone="us-east-1a")  # the real instance still can
    assert exchange(url, token, secrets.token_urlsafe(32), f"aws:{imds_url}", give_up_after=20).startswith("swa.")


def test_an_expired_token_an_ended_attempt_and_a_forged_token_are_refused(
        served: tuple[Runtime, str], imds: tuple[str, MetadataState]) -> None:
    rt, url = served
    claim = secrets.token_urlsafe(32)
    _, old = _attempt(rt, "true")
    with transaction(rt.sessions) as s:  # launched longer ago than bootstrap_token_ttl_seconds
        row = s.scalar(select(Instance).where(Instance.attempt_id == old))
        assert row is not None
        row.launched_at -= timedelta(seconds=rt.settings.bootstrap_token_ttl_seconds + 5)
    expired = _post(url, bootstrap_token(rt.agent_secret, old), claim, _proof(imds[0], url, claim))
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]

    _, ended = _attempt(rt, "true")
    with transaction(rt.sessions) as s:
        assert end_attempt(s, ended, AttemptState.CANCELLED, "test")
    gone = _post(url, bootstrap_token(rt.agent_secret, ended), claim, _proof(imds[0], url, claim))
    assert gone.status_code == 401 and "CANCELLED" in gone.json()["error"]["message"]

    _, live = _attempt(rt, "true")
    for forged in (bootstrap_token(b"k" * 32, live), agent_token(rt.agent_secret, live), "swb.x", "sw_admin"):
        answer = _post(url, forged, claim, _proof(imds[0], url, claim))
        assert answer.status_code == 401, (forged, answer.text)
    boot = bootstrap_token(rt.agent_secret, live)  # nor does a bootstrap token speak for the agent
    beat = httpx.post(f"{url}/v1/agent/attempts/{live}/heartbeat", json={"phase": "running"},
                      headers={"Authorization": f"Bearer {boot}"}, timeout=10)
    assert beat.status_code == 403, beat.text
    bad = httpx.post(f"{url}/v1/agent/bootstrap", json={"bootstrap_token": boot}, timeout=10)
    assert bad.status_code == 422 and "claim" in bad.text  # no claim: a clear 4xx, not a traceback


def test_the_agent_keeps_its_claim_private_and_hides_both_tokens_from_the_job(tmp_path: Path) -> None:
    from orchestrator.agent.session import read_claim, session_token

    claim_file = tmp_path / "boot" / "agent-claim"
    claim_file.parent.mkdir()
    first = read_claim(claim_file)
    assert read_claim(claim_file) == first and len(first) >= 32  # a restarted agent claims with the same nonce
    assert claim_file.stat().st_mode & 0o777 == 0o600
    env = {"SPOTWISE_URL": "http://127.0.0.1:9", "SPOTWISE_AGENT_TOKEN": "swa.legacy", "SPOTWISE_BOOTSTRAP_TOKEN": "x"}
    assert session_token(env, tmp_path / "work", lambda _m: None) == "swa.legacy"
    assert "SPOTWISE_AGENT_TOKEN" not in env and "SPOTWISE_BOOTSTRAP_TOKEN" not in env
