"""The launcher places by expected total cost: through the real Reconciler on a real SQLite file with two fake
clouds, a job whose 1 TB data set sits in aws us-east-1 launches there although gcp is cheaper per hour, and a
job with nothing to move takes the cheaper offer; the placement event says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from orchestrator.config import Settings
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit
from orchestrator.provisioning.reconcile import Reconciler
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, JobEvent
from tests.fakes.provider import FakeProvider, make_offer


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(home=tmp_path, providers={}, checkpoint_store="s3://ckpt/runs",
                        transfer={"bucket_regions": {"s3://ckpt": "us-east-1"}})  # no S3 lookup needed
    runtime = build_runtime(settings, with_providers=False)
    runtime.providers = {  # type: ignore[dict-item]
        "aws": FakeProvider("aws", [make_offer("aws", "us-east-1a", 3.0, region="us-east-1")]),
        "gcp": FakeProvider("gcp", [make_offer("gcp", "us-central1-a", 2.0, region="us-central1")]),
    }
    yield runtime
    runtime.close()


def _placed(rt: Runtime, **extra: object) -> tuple[str, str]:
    spec = JobSpec.model_validate({"name": "t", "run": "true", "estimated_runtime": "10h",
                                   "resources": {"accelerators": "T4:1", "spot": True}, **extra})
    with transaction(rt.sessions) as s:
        job_id = submit(s, spec).id
    Reconciler(rt).run_once()
    with transaction(rt.sessions) as s:
        attempt = s.scalars(select(Attempt).where(Attempt.job_id == job_id)).one()
        reasons = " | ".join(s.scalars(select(JobEvent.reason).where(JobEvent.job_id == job_id)))
        return attempt.provider, reasons


def test_a_job_stays_beside_its_data_when_moving_it_costs_more(rt: Runtime) -> None:
    provider, reasons = _placed(rt, inputs={"s3://ckpt/imagenet": "1TB"})
    assert provider == "aws"
    assert "beats the cheaper $2.0000/h gcp" in reasons and "$90.00 egress" in reasons


def test_a_job_with_nothing_to_move_takes_the_cheaper_offer(rt: Runtime) -> None:
    provider, _ = _placed(rt)
    assert provider == "gcp"
