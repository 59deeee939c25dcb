"""A job's own broken command is that job's user failure (exit 126/127 with the reason), never a pool block.

Submit refuses what the kernel could never start (a NUL byte, an oversized run/setup/env) with a 422 naming the
limit; what still cannot start on the instance (`env: {PATH: /nope}`, or an old stored row over the limits) fails
that job alone, and the other team's job is placed on the same pools and succeeds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import insert_submissions, submit_values
from orchestrator.jobs.speclimits import MAX_COMMAND_BYTES, MAX_ENV_TOTAL_BYTES, MAX_ENV_VALUE_BYTES
from orchestrator.store.types import utcnow
from tests.adversarial.containment_support import Tenants, shared_daemon

KIB = 1024


@pytest.fixture
def tenants(tmp_path: Path) -> Iterator[Tenants]:
    with shared_daemon(tmp_path / "home") as t:
        yield t


REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"run": "printf 'a\x00b'"}, "NUL"),
    ({"run": "true", "env": {"X": "a\x00b"}}, "NUL"),
    ({"run": "true", "labels": {"k": "v\x00"}}, "NUL"),
    ({"run": "true", "setup": "x" * (MAX_COMMAND_BYTES + 1)}, f"{MAX_COMMAND_BYTES // KIB} KiB"),
    ({"run": "echo " + "x" * (128 * KIB)}, f"{MAX_COMMAND_BYTES // KIB} KiB"),
    ({"run": "true", "env": {"BIG": "x" * (MAX_ENV_VALUE_BYTES + 1)}}, f"{MAX_ENV_VALUE_BYTES // KIB} KiB"),
    ({"run": "true", "env": {f"V{i}": "x" * (30 * KIB) for i in range(4)}}, f"{MAX_ENV_TOTAL_BYTES // KIB} KiB"),
]


def test_submit_refuses_nul_bytes_and_oversized_fields_naming_the_limit(tenants: Tenants) -> None:
    for extra, words in REFUSED:
        response = tenants.submit("b", {"name": "hostile", **extra})
        assert response.status_code == 422, (list(extra), response.text[:300])
        message = response.json()["error"]["message"]
        assert words in message, (list(extra), message[:300])
    at_limit = {"name": "ok", "run": "true", "env": {"V": "x" * MAX_ENV_VALUE_BYTES}}
    assert tenants.submit("b", at_limit).status_code == 201


def _insert(t: Tenants, name: str, **fields: Any) -> str:
    """A team-b job stored as an old row or a bug would leave it (bypassing the submit limits)."""
    values = submit_values(JobSpec.model_validate({"name": name, "team": "b", "run": "true"}), utcnow())
    values["spec"].update(fields)
    engine = t.engine()
    try:
        with engine.begin() as conn:
            insert_submissions(conn, [values])
    finally:
        engine.dispose()
    return str(values["id"])


def test_a_command_that_cannot_start_fails_its_job_and_blocks_no_pool(tenants: Tenants) -> None:
    no_path = tenants.submit_ok("b", {"name": "no-path", "run": "echo hi", "env": {"PATH": "/nope"}})
    nul = _insert(tenants, "nul-run", run="echo a\x00b")  # the kernel takes no NUL: ValueError in the agent
    too_long = _insert(tenants, "e2big", run="echo " + "x" * (200 * KIB))  # over MAX_ARG_STRLEN: E2BIG
    bad_dir = tenants.submit_ok("b", {"name": "bad-dir", "run": "true", "checkpoint": {"dir": "/" + "d" * 300}})

    for job_id, code, words in ((no_path, 127, "not found"), (nul, 126, "could not start"),
                                (too_long, 126, "E2BIG"), (bad_dir, 126, "checkpoint.dir")):
        job = tenants.wait_final("b", job_id, timeout=60)
        assert job["state"] == "FAILED", job
        assert job["exit_code"] == code, job
        assert words in job["reason"] and "user failure" in job["reason"], job["reason"]
        assert job["attempts"] == 1, job  # not retried as an infrastructure failure
    assert tenants.pool_blocks() == []  # no pool is held back for anyone

    good = tenants.submit_ok("a", {"name": "good", "run": "echo fine"})
    job = tenants.wait_final("a", good, timeout=60)
    assert job["state"] == "SUCCEEDED", job
    assert "fine" in tenants.logs("a", good)
    assert "could not start" in tenants.logs("b", no_path)  # the owner reads why in its own log
