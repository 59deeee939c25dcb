"""The chaos harness under pytest: a bounded run in `make test`, the full 200-job run behind --run-slow."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.__main__ import render
from tests.chaos.harness import ChaosConfig, ChaosRun

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("cfg", [
    pytest.param(ChaosConfig(seed=5, jobs=24, kills=5, error_rate=0.05, timeout_s=150), id="bounded"),
    pytest.param(ChaosConfig(seed=11, jobs=200, kills=20, concurrency=10, timeout_s=1500), id="long",
                 marks=pytest.mark.slow),
])
def test_chaos_run_keeps_every_invariant(cfg: ChaosConfig, tmp_path: Path) -> None:
    checks, faults, seconds = ChaosRun(cfg, tmp_path).run()
    table = render(cfg.seed, cfg.jobs, checks, faults, seconds)
    print(table)
    assert sum(n for k, n in faults.items() if k.startswith("sigkill")) >= cfg.kills, table
    assert all(c.ok for c in checks), table
