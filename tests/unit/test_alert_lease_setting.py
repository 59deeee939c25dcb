"""`alert_lease_seconds`: how long a delivery claimed by a dispatcher that then died waits before the daemon's
dispatcher claims it again. The chaos runs set it short, so a SIGKILL mid-delivery no longer holds the settle
for the 60 s default; this checks the setting reaches the dispatcher the daemon builds."""

from __future__ import annotations

import time
from pathlib import Path

from orchestrator.alerts.outbox import emit
from orchestrator.config import Settings
from orchestrator.runtime import build_runtime
from orchestrator.spending.loops import build_dispatcher
from orchestrator.store.db import transaction


def test_a_delivery_claimed_by_a_dead_dispatcher_is_claimed_again_after_the_configured_lease(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", alert_lease_seconds=1.0,
                        alert_sinks={"log": {"type": "log"}})
    rt = build_runtime(settings, with_providers=False)
    try:
        with transaction(rt.sessions) as s:
            emit(s, "test", "lease check")
        crashed = build_dispatcher(rt)
        crashed.route_new()
        assert len(crashed._claim_due(None)) == 1  # claimed, then the process "died" before sending
        survivor = build_dispatcher(rt)
        assert survivor.run_once() == 0  # still leased to the dead one
        time.sleep(1.2)
        assert survivor.run_once() == 1  # the lease ran out: delivered by the survivor
        assert Settings(home=tmp_path).alert_lease_seconds == 60.0  # the default is unchanged
    finally:
        rt.close()
