"""describe / list_managed / terminate / preemption against the fake Compute Engine."""

from __future__ import annotations

from typing import Any

from providers.base import InstanceState
from providers.gcp.instances import parse_id
from tests.providers.gcp.fake_gce import FakeGCE
from tests.providers.gcp.helpers import pick, spec_for


def _launch(provider: Any, cluster: str = "c1", instance_type: str = "g2-standard-4") -> Any:
    return provider.launch(spec_for(pick(provider, instance_type=instance_type), cluster=cluster))


def test_preempted_instance_is_terminated_and_flagged(provider: Any, gce: FakeGCE) -> None:
    info = _launch(provider)
    zone, name = parse_id(info.id) or ("", "")
    gce.preempt(zone, name)
    [described] = provider.describe([info.id])
    assert described.state is InstanceState.TERMINATED
    assert described.preempted and described.state_reason == "compute.instances.preempted"
    assert provider.list_managed("c1") == []


def test_preempted_and_deleted_instance_is_still_flagged(provider: Any, gce: FakeGCE) -> None:
    info = _launch(provider)
    gce.preempt(*(parse_id(info.id) or ("", "")), delete=True)
    [described] = provider.describe([info.id])
    assert described.state is InstanceState.TERMINATED and described.preempted


def test_terminated_by_us_is_not_preempted(provider: Any) -> None:
    info = _launch(provider)
    provider.terminate([info.id])
    [described] = provider.describe([info.id])
    assert described.state is InstanceState.TERMINATED and not described.preempted


def test_interruption_events_report_each_preemption_once(provider: Any, gce: FakeGCE) -> None:
    first, second = _launch(provider), _launch(provider)
    assert provider.interruption_events() == []
    gce.preempt(*(parse_id(first.id) or ("", "")))
    events = provider.interruption_events()
    assert [(e.instance_id, e.kind) for e in events] == [(first.id, "preemption")]
    assert events[0].noticed_at.tzinfo is not None
    assert provider.interruption_events() == []
    gce.preempt(*(parse_id(second.id) or ("", "")))
    assert [e.instance_id for e in provider.interruption_events()] == [second.id]


def test_list_managed_pages_through_the_aggregated_list(make_provider: Any, gce: FakeGCE) -> None:
    provider = make_provider(page_size=2)
    mine = {_launch(provider, "paged").id for _ in range(4)}
    mine.add(_launch(provider, "paged", instance_type="n1-standard-8+nvidia-tesla-t4:1").id)
    _launch(provider, "someone-else")
    gce.requests.clear()
    listed = provider.list_managed("paged")
    assert {i.id for i in listed} == mine
    assert gce.requests["instances.aggregatedList"] == 3  # 5 instances, 2 per page
    assert all(i.tags["spotwise-cluster"] == "paged" for i in listed)


def test_list_managed_spans_zones(provider: Any) -> None:
    a = _launch(provider, "zones")
    b = provider.launch(spec_for(pick(provider, instance_type="g2-standard-4", zone="us-central1-b"), cluster="zones"))
    assert [i.zone for i in provider.list_managed("zones")] == sorted([a.zone, b.zone])


def test_terminate_waits_for_slow_deletes(provider: Any, gce: FakeGCE) -> None:
    info = _launch(provider)
    gce.operation_delay_s = 0.2
    provider.terminate([info.id])
    assert provider.list_managed("c1") == []
    assert gce.requests["zoneOperations.wait"] >= 1


def test_terminate_and_describe_tolerate_malformed_and_unknown_ids(provider: Any) -> None:
    provider.terminate(["not-an-id", "us-central1-a/sw-nothing", "nowhere-zone9-z/sw-x"])
    described = provider.describe(["not-an-id", "us-central1-a/sw-nothing", "nowhere-zone9-z/sw-x"])
    assert [d.state for d in described] == [InstanceState.TERMINATED] * 3
