"""Shared helpers: synthetic trace sets and the location of the real traces (tests skip when they are absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from orchestrator.sim.traces import TraceSet

SPOT_TRACES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "spot-traces"
TRACES = SPOT_TRACES / "availability" / "1-node"


def synthetic(capacity: list[list[int]], tick_hours: float = 0.25) -> TraceSet:
    zones = tuple(f"zone-{chr(97 + i)}" for i in range(len(capacity)))
    return TraceSet("synthetic", zones, tick_hours, np.array(capacity, dtype=np.int32))


@pytest.fixture
def real_traces() -> Path:
    if not TRACES.is_dir():
        pytest.skip(f"real spot traces not found at {TRACES} (../shared/data relative to the repository)")
    return TRACES


@pytest.fixture
def probe_logs() -> Path:
    folder = SPOT_TRACES / "raw-probe-logs-2022"
    if not folder.is_dir():
        pytest.skip(f"raw probe logs not found at {folder} (../shared/data relative to the repository)")
    return folder
