"""The chaos harness under pytest: bounded runs in `make test` (SQLite; a throwaway PostgreSQL restarted
mid-run; AWS-on-moto), the full 200-job runs behind --run-slow."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.__main__ import render
from tests.chaos.aws import AwsChaosConfig, AwsChaosRun
from tests.chaos.harness import ChaosConfig, ChaosRun
from tests.chaos.pgcluster import unavailable_reason

pytestmark = pytest.mark.e2e

NO_PG = unavailable_reason()
needs_pg = pytest.mark.skipif(NO_PG is not None, reason=f"no throwaway PostgreSQL: {NO_PG}")


@pytest.mark.parametrize("cfg", [
    # capped limit low enough that 20 jobs (two of the capped team) cross it: block_new, stop, budget-edge outage
    pytest.param(ChaosConfig(seed=5, jobs=20, kills=4, error_rate=0.05, timeout_s=150, capped_limit=0.0008),
                 id="bounded-sqlite"),
    pytest.param(ChaosConfig(seed=7, jobs=6, kills=1, error_rate=0.05, timeout_s=150, postgres=True, pg_restarts=2,
                             budget_edge=False, sink_outages=False), id="bounded-postgres-restarts", marks=needs_pg),
    pytest.param(ChaosConfig(seed=11, jobs=200, kills=20, concurrency=10, timeout_s=1500, postgres=NO_PG is None,
                             pg_restarts=3 if NO_PG is None else 0), id="long", marks=pytest.mark.slow),
])
def test_chaos_run_keeps_every_invariant(cfg: ChaosConfig, tmp_path: Path) -> None:
    checks, faults, seconds = ChaosRun(cfg, tmp_path).run()
    table = render(cfg.seed, cfg.jobs, checks, faults, seconds)
    print(table)
    assert sum(n for k, n in faults.items() if k.startswith("sigkill")) >= cfg.kills, table
    restarts = {k: n for k, n in faults.items() if k.startswith("postgres restart")}
    assert sum(restarts.values()) >= cfg.pg_restarts, table
    if cfg.pg_restarts:
        assert any("immediate" in k for k in restarts), table
        assert cfg.pg_restarts < 2 or any("fast" in k for k in restarts), table
        assert any(c.name.startswith("API answered 503") for c in checks), table
    assert all(c.ok for c in checks), table


@pytest.mark.parametrize("cfg", [
    pytest.param(AwsChaosConfig(seed=3, jobs=8, kills=2, preemptions=2, error_rate=0.1, timeout_s=150),
                 id="bounded"),
    pytest.param(AwsChaosConfig(seed=11, jobs=24, kills=6, preemptions=4, timeout_s=600), id="long",
                 marks=pytest.mark.slow),
])
def test_aws_on_moto_chaos_run_keeps_every_invariant(cfg: AwsChaosConfig, tmp_path: Path) -> None:
    checks, faults, seconds = AwsChaosRun(cfg, tmp_path).run()
    table = render(cfg.seed, cfg.jobs, checks, faults, seconds)
    print(table)
    assert sum(n for k, n in faults.items() if k.startswith("sigkill")) >= cfg.kills, table
    assert sum(n for k, n in faults.items() if k.startswith(("preemption", "instance vanished"))) >= cfg.preemptions
    assert all(c.ok for c in checks), table
