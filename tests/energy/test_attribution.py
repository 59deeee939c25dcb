"""Energy from heartbeats: integration into per-attempt, per-day entries; measured vs estimated; attribution."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.jobs.queue import job_by_id
from orchestrator.spending import energy
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt
from policies.energy import carbon_facts, host_watts, kg_co2e
from tests.spending.conftest import T0, running_job, sessions  # noqa: F401 - the fixture

T4_OFFER = {"gpu_model": "T4", "gpu_count": 1, "vcpus": 4, "memory_gb": 16}
HOST = host_watts(4, 16)  # 15.752 W


def _start(sessions: sessionmaker[Session], team: str = "a", cloud: str = "gcp", region: str = "us-central1",  # noqa: F811
           offer: dict[str, object] | None = None) -> str:
    with transaction(sessions) as s:
        _, attempt_id, _ = running_job(s, team=team, cloud=cloud, region=region, launched_at=T0)
        s.get(Attempt, attempt_id).offer = dict(offer or T4_OFFER)  # type: ignore[union-attr]
    return attempt_id


def _beat(sessions: sessionmaker[Session], attempt_id: str, seconds: float, *, util: float | None = None,  # noqa: F811
          power: float | None = None, phase: str = "running") -> None:
    with transaction(sessions) as s:
        attempt = s.get(Attempt, attempt_id)
        assert attempt is not None
        energy.record_power(s, attempt, job_by_id(s, attempt.job_id), T0 + timedelta(seconds=seconds), phase,
                            util, power)


def _job(sessions: sessionmaker[Session], attempt_id: str) -> dict[str, object]:  # noqa: F811
    with transaction(sessions) as s:
        return energy.job_energy(s, s.get(Attempt, attempt_id).job_id)  # type: ignore[union-attr]


def test_measured_power_is_integrated_by_trapezoid(sessions: sessionmaker[Session]) -> None:  # noqa: F811
    a = _start(sessions)
    for t, p in [(0, 100.0), (60, 300.0), (120, 300.0), (180, 100.0)]:
        _beat(sessions, a, t, util=90.0, power=p)
    e = _job(sessions, a)
    gpu_wh = (60 * 200 + 60 * 300 + 60 * 200) / 3600.0
    assert e["method"] == "measured"
    assert e["measured_kwh"] == pytest.approx(gpu_wh / 1000, abs=1e-6)
    assert e["host_kwh"] == pytest.approx(HOST * 180 / 3600 / 1000, abs=1e-6)
    assert e["energy_kwh"] == pytest.approx(e["measured_kwh"] + e["estimated_kwh"], abs=2e-6)  # type: ignore[operator]
    expected_kg = kg_co2e(float(e["energy_kwh"]), carbon_facts().intensity("gcp", "us-central1"))  # type: ignore[arg-type]
    assert e["kg_co2e"] == pytest.approx(expected_kg, abs=1e-6)
    assert e["attempts"][a]["energy_kwh"] == e["energy_kwh"]  # type: ignore[index]


def test_without_power_the_estimate_uses_board_power_and_utilisation(sessions: sessionmaker[Session]) -> None:  # noqa: F811
    a = _start(sessions)
    _beat(sessions, a, 0, util=50.0)
    _beat(sessions, a, 3600, util=50.0)  # a one-hour gap counts as 300 s
    _beat(sessions, a, 3900, util=50.0)
    e = _job(sessions, a)
    assert e["method"] == "estimated" and e["measured_kwh"] == 0.0
    assert e["gpu_kwh"] == pytest.approx(70 * 0.56 * 600 / 3600 / 1000, abs=1e-6)


def test_simulated_gpu_without_utilisation_counts_full_load_while_running_and_idle_before(
        sessions: sessionmaker[Session]) -> None:  # noqa: F811
    a = _start(sessions, cloud="local", region="local-east")
    _beat(sessions, a, 0, phase="starting")  # idle: 12% of 70 W
    _beat(sessions, a, 100, phase="setup")
    _beat(sessions, a, 200, phase="running")  # full load: 70 W
    _beat(sessions, a, 300, phase="running")
    e = _job(sessions, a)
    idle = 70 * 0.12
    gpu_wh = (100 * idle + 100 * (idle + 70) / 2 + 100 * 70) / 3600
    assert e["method"] == "estimated" and e["gpu_kwh"] == pytest.approx(gpu_wh / 1000, abs=1e-6)
    assert float(e["kg_co2e"]) > 0  # type: ignore[arg-type]


def test_an_interval_is_measured_only_when_both_ends_are(sessions: sessionmaker[Session]) -> None:  # noqa: F811
    a = _start(sessions)
    _beat(sessions, a, 0, power=200.0)
    _beat(sessions, a, 60, power=200.0)  # measured: 200 W x 60 s
    _beat(sessions, a, 120, util=100.0)  # NVML lost its power reading: estimated from here
    e = _job(sessions, a)
    assert e["method"] == "mixed"
    assert e["measured_kwh"] == pytest.approx(200 * 60 / 3600 / 1000, abs=1e-6)
    assert e["gpu_kwh"] == pytest.approx((200 * 60 + 60 * (200 + 70) / 2) / 3600 / 1000, abs=1e-6)


def test_attribution_to_teams_regions_and_days(sessions: sessionmaker[Session]) -> None:  # noqa: F811
    clean = _start(sessions, team="vision", cloud="gcp", region="europe-north2")
    dirty = _start(sessions, team="nlp", cloud="aws", region="ap-southeast-2")
    for t in (0, 60):
        _beat(sessions, clean, t, power=70.0)
        _beat(sessions, dirty, t, power=70.0)
    midnight = (T0 + timedelta(days=1)).replace(hour=0) - T0
    for t in (midnight.total_seconds() - 30, midnight.total_seconds() + 30):  # crosses UTC midnight
        _beat(sessions, dirty, t, power=70.0)
    with transaction(sessions) as s:
        teams = {r["team"]: r for r in energy.report(s, "team")}
        days = {r["day"]: r for r in energy.report(s, "day", team="nlp")}
        regions = {r["region"] for r in energy.report(s, "region")}
    assert set(teams) == {"vision", "nlp"} and regions == {"europe-north2", "ap-southeast-2"}
    assert teams["nlp"]["kg_co2e"] > 100 * teams["vision"]["kg_co2e"] > 0  # 760 vs 2.73 g/kWh
    assert set(days) == {"2026-03-01", "2026-03-02"}
    # day 1: 60 s plus the silence until 23:59:30 capped at 300 s; the 60 s across midnight count once,
    # on the day of the later heartbeat
    assert days["2026-03-01"]["seconds"] == 360 and days["2026-03-02"]["seconds"] == 60


def test_report_rejects_unknown_grouping(sessions: sessionmaker[Session]) -> None:  # noqa: F811
    with transaction(sessions) as s, pytest.raises(ValueError, match="team"):
        energy.report(s, "instance")
    with transaction(sessions) as s:
        assert list(s.scalars(select(Attempt))) == []
