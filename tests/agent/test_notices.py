"""Each notice watcher against a fake metadata server over real HTTP."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from orchestrator.agent.notices import HINTS, HOST_MAINTENANCE, HOST_MIGRATION, REBALANCE, Notice, watcher_for
from tests.agent.fake_metadata import fake_metadata_server


def _wait_in_thread(watcher: object, stop: threading.Event) -> tuple[threading.Thread, list[Notice | None]]:
    out: list[Notice | None] = []
    thread = threading.Thread(target=lambda: out.append(watcher.wait(stop)), daemon=True)  # type: ignore[attr-defined]
    thread.start()
    return thread, out


def test_aws_imdsv2_token_flow_rebalance_then_instance_action() -> None:
    with fake_metadata_server() as (url, state):
        watcher = watcher_for(f"aws:{url}")
        watcher.poll_seconds = 0.05  # type: ignore[union-attr]
        stop = threading.Event()
        thread, out = _wait_in_thread(watcher, stop)
        time.sleep(0.3)
        assert thread.is_alive()  # 404 on both documents: no notice yet
        state.rebalance = {"noticeTime": datetime.now(UTC).isoformat()}
        thread.join(5)
        assert out[0] is not None and out[0].action == REBALANCE
        when = datetime.now(UTC) + timedelta(seconds=120)
        state.instance_action = {"action": "terminate", "time": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
        notice = watcher.wait(stop)  # the agent waits again after a rebalance hint
        assert notice is not None and notice.action == "terminate" and 100 < notice.seconds_left() <= 120
        puts = [r for r in state.requests if r[0] == "PUT"]
        gets = [r for r in state.requests if r[0] == "GET"]
        assert puts and all(r[2]["X-aws-ec2-metadata-token-ttl-seconds"] == "21600" for r in puts)
        assert gets and all(r[2].get("X-aws-ec2-metadata-token") in state.tokens for r in gets)
        # A token the service forgot (expired) is refreshed on the 401.
        state.tokens.clear()
        assert watcher.poll() is not None  # type: ignore[union-attr]


def test_gcp_preempted_long_poll_with_metadata_flavor() -> None:
    with fake_metadata_server() as (url, state):
        watcher = watcher_for(f"gcp:{url}")
        watcher.hang_seconds = 2  # type: ignore[union-attr]
        stop = threading.Event()
        thread, out = _wait_in_thread(watcher, stop)
        time.sleep(0.5)
        assert thread.is_alive()
        started = time.monotonic()
        state.gcp_preempted.set()
        thread.join(5)
        assert time.monotonic() - started < 1.0  # the hanging request answered at once: no polling delay
        assert out[0] is not None and out[0].action == "preempt" and 25 < out[0].seconds_left() <= 30
        gets = [r for r in state.requests if r[0] == "GET"]
        assert all(r[2]["Metadata-Flavor"] == "Google" for r in gets)
        assert any("wait_for_change=true" in r[1] for r in gets)


def test_gcp_host_maintenance_that_stops_the_vm_is_a_notice_like_preemption() -> None:
    """An on-demand GPU VM cannot live-migrate: GCE stops it for host maintenance about 60 s after
    maintenance-event turns TERMINATE_ON_HOST_MAINTENANCE. Only instance/preempted was watched: the job was killed
    without a checkpoint and the attempt looked like a crash."""
    with fake_metadata_server() as (url, state):
        watcher = watcher_for(f"gcp:{url}")
        watcher.hang_seconds = 2  # type: ignore[union-attr]
        stop = threading.Event()
        thread, out = _wait_in_thread(watcher, stop)
        time.sleep(0.5)
        assert thread.is_alive()  # NONE: no notice
        started = time.monotonic()
        state.set_gcp_maintenance("TERMINATE_ON_HOST_MAINTENANCE")
        thread.join(5)
        assert time.monotonic() - started < 1.0  # its own long poll answered at once
        notice = out[0]
        assert notice is not None and notice.action == HOST_MAINTENANCE and notice.action not in HINTS
        assert 55 < notice.seconds_left() <= 60
        gets = [r for r in state.requests if r[0] == "GET" and "maintenance-event" in r[1]]
        assert gets and all(r[2]["Metadata-Flavor"] == "Google" for r in gets)
        assert any("wait_for_change=true" in r[1] and "last_etag=none" in r[1] for r in gets)
        stop.set()


def test_gcp_live_migration_is_a_hint_then_a_later_stop_is_still_seen() -> None:
    with fake_metadata_server() as (url, state):
        watcher = watcher_for(f"gcp:{url}")
        watcher.hang_seconds = 2  # type: ignore[union-attr]
        stop = threading.Event()
        state.set_gcp_maintenance("MIGRATE_ON_HOST_MAINTENANCE")
        hint = watcher.wait(stop)
        assert hint is not None and hint.action == HOST_MIGRATION and hint.action in HINTS
        thread, out = _wait_in_thread(watcher, stop)  # the agent waits again after a hint
        state.set_gcp_maintenance("NONE")  # migrated: back to normal, no notice
        time.sleep(0.5)
        assert thread.is_alive()
        state.set_gcp_maintenance("TERMINATE_ON_HOST_MAINTENANCE")
        thread.join(5)
        assert out[0] is not None and out[0].action == HOST_MAINTENANCE
        stop.set()


def test_azure_scheduled_events_preempt_and_start_requests() -> None:
    with fake_metadata_server() as (url, state):
        watcher = watcher_for(f"azure:{url}")
        watcher.poll_seconds = 0.05  # type: ignore[union-attr]
        stop = threading.Event()
        thread, out = _wait_in_thread(watcher, stop)
        state.azure_events.append({"EventId": "A1", "EventType": "Freeze", "Resources": ["vm"],
                                   "EventStatus": "Scheduled", "NotBefore": ""})
        time.sleep(0.3)
        assert thread.is_alive()  # a Freeze is not a preemption
        not_before = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        state.azure_events.append({"EventId": "P7", "EventType": "Preempt", "ResourceType": "VirtualMachine",
                                   "Resources": ["vm"], "EventStatus": "Scheduled", "NotBefore": not_before})
        thread.join(5)
        notice = out[0]
        assert notice is not None and notice.event_id == "P7" and 20 < notice.seconds_left() <= 30
        watcher.acknowledge(notice)
        assert state.azure_acks == [{"StartRequests": [{"EventId": "P7"}]}]
        assert all(r[2]["Metadata"] == "true" and "api-version=2020-07-01" in r[1] for r in state.requests)


def test_watchers_stop_when_asked() -> None:
    with fake_metadata_server() as (url, _state):
        for source in (f"aws:{url}", f"azure:{url}", f"gcp:{url}"):
            stop = threading.Event()
            thread, out = _wait_in_thread(watcher_for(source), stop)
            stop.set()
            thread.join(6)
            assert out == [None]
    assert watcher_for("nonsense") is None
