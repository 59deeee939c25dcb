"""Launch through the real compute_v1 client against the fake: request shape, idempotency, errors."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

import pytest

from providers.base import InstanceState
from providers.errors import CapacityError, ErrorScope, InvalidRequest, QuotaError
from providers.gcp.launch import instance_name, request_id
from tests.providers.gcp.fake_gce import FakeGCE
from tests.providers.gcp.helpers import pick, spec_for


def test_spot_request_carries_spot_scheduling_labels_script_and_request_id(provider: Any, gce: FakeGCE) -> None:
    spec = spec_for(pick(provider, instance_type="n1-standard-16+nvidia-tesla-t4:2"), cluster="c-req")
    info = provider.launch(spec)
    [body] = gce.inserts
    assert body["name"] == instance_name(spec.idempotency_key)
    assert body["scheduling"] == {"provisioningModel": "SPOT", "instanceTerminationAction": "DELETE",
                                  "onHostMaintenance": "TERMINATE", "automaticRestart": False}
    assert body["guestAccelerators"][0]["acceleratorType"].endswith("/zones/us-central1-a/acceleratorTypes/"
                                                                    "nvidia-tesla-t4")
    assert body["guestAccelerators"][0]["acceleratorCount"] == 2
    assert body["labels"] == {"spotwise-cluster": "c-req", "spotwise-job": spec.job_id,
                              "spotwise-attempt": spec.attempt_id}
    boot = body["disks"][0]
    assert boot["boot"] and boot["autoDelete"]
    assert boot["initializeParams"]["sourceImage"].startswith("projects/deeplearning-platform-release/global/"
                                                              "images/family/")
    metadata = {i["key"]: i["value"] for i in body["metadata"]["items"]}
    assert f"SPOTWISE_ATTEMPT_ID={spec.attempt_id}" in metadata["startup-script"]
    assert "SPOTWISE_NOTICE=gcp" in metadata["startup-script"]
    assert json.loads(metadata["spotwise-tags"]) == spec.tags
    assert info.instance_type == "n1-standard-16+nvidia-tesla-t4:2" and info.state is InstanceState.RUNNING
    assert info.spot and info.price_per_hour == spec.offer.price_per_hour
    assert gce.request_ids == {request_id(spec.idempotency_key): (spec.offer.zone, gce.request_ids[
        request_id(spec.idempotency_key)][1])}
    uuid.UUID(request_id(spec.idempotency_key))


def test_standard_request_has_no_termination_action(provider: Any, gce: FakeGCE) -> None:
    info = provider.launch(spec_for(pick(provider, instance_type="g2-standard-4", spot=False)))
    [body] = gce.inserts
    assert body["scheduling"]["provisioningModel"] == "STANDARD"
    assert "instanceTerminationAction" not in body["scheduling"]
    assert "guestAccelerators" not in body  # g2 carries its L4 built in
    assert not info.spot and info.instance_type == "g2-standard-4"


def test_same_key_twice_is_one_insert_and_one_instance(provider: Any, gce: FakeGCE) -> None:
    spec = spec_for(pick(provider, instance_type="g2-standard-4"))
    first, second = provider.launch(spec), provider.launch(spec)
    assert first.id == second.id
    assert len(gce.inserts) == 1 and gce.requests["instances.insert"] == 2
    assert len(gce.instances) == 1


def test_repeat_after_request_id_forgotten_finds_the_named_instance(provider: Any, gce: FakeGCE) -> None:
    """GCE keeps request ids for a limited time; the deterministic name still prevents a second VM."""
    spec = spec_for(pick(provider, instance_type="g2-standard-4"))
    first = provider.launch(spec)
    gce.request_ids.clear()
    assert provider.launch(spec).id == first.id
    assert len(gce.instances) == 1


def test_name_taken_by_another_attempt_is_refused(provider: Any) -> None:
    spec = spec_for(pick(provider, instance_type="g2-standard-4"), key="k-shared")
    provider.launch(spec)
    with pytest.raises(InvalidRequest):
        provider.launch(replace(spec, attempt_id="att-other"))


def test_capacity_as_http_503_is_a_pool_capacity_error_not_retried(provider: Any, gce: FakeGCE) -> None:
    spec = spec_for(pick(provider, instance_type="g2-standard-4"))
    gce.fail_next_insert("ZONE_RESOURCE_POOL_EXHAUSTED", status=503)
    with pytest.raises(CapacityError) as caught:
        provider.launch(spec)
    assert caught.value.scope is ErrorScope.POOL and caught.value.raw_code == "ZONE_RESOURCE_POOL_EXHAUSTED"
    assert gce.requests["instances.insert"] == 1 and not gce.instances


def test_capacity_inside_a_slow_failed_operation_is_a_pool_capacity_error(provider: Any, gce: FakeGCE) -> None:
    spec = spec_for(pick(provider, instance_type="g2-standard-4"))
    gce.operation_delay_s = 0.2
    gce.fail_next_insert("ZONE_RESOURCE_POOL_EXHAUSTED", as_operation=True)
    with pytest.raises(CapacityError) as caught:
        provider.launch(spec)
    assert caught.value.scope is ErrorScope.POOL and caught.value.raw_code == "ZONE_RESOURCE_POOL_EXHAUSTED"
    assert gce.requests["zoneOperations.wait"] >= 1 and not gce.instances


@pytest.mark.parametrize("as_operation", [False, True], ids=["http-403", "operation"])
def test_quota_exceeded_is_a_region_quota_error(provider: Any, gce: FakeGCE, as_operation: bool) -> None:
    spec = spec_for(pick(provider, instance_type="g2-standard-4"))
    gce.fail_next_insert("QUOTA_EXCEEDED", status=403, as_operation=as_operation)
    with pytest.raises(QuotaError) as caught:
        provider.launch(spec)
    assert caught.value.scope is ErrorScope.REGION


def test_backend_error_is_retried_with_the_same_request_id(provider: Any, gce: FakeGCE) -> None:
    spec = spec_for(pick(provider, instance_type="g2-standard-4"))
    gce.fail_next_insert("backendError", status=503)
    info = provider.launch(spec)
    assert info.state is InstanceState.RUNNING
    assert gce.requests["instances.insert"] == 2 and len(gce.instances) == 1


def test_accelerator_beyond_zone_limit_is_capacity(provider: Any, gce: FakeGCE) -> None:
    offer = replace(pick(provider, instance_type="n1-standard-32+nvidia-tesla-t4:4"),
                    instance_type="n1-standard-64+nvidia-tesla-t4:8", gpu_count=8)
    with pytest.raises(CapacityError) as caught:
        provider.launch(spec_for(offer))
    assert caught.value.raw_code == "UNSUPPORTED_OPERATION"


def test_slow_operation_returns_a_pending_instance(make_provider: Any, gce: FakeGCE) -> None:
    provider = make_provider(operation_timeout_s=0.2)
    gce.operation_delay_s = 30.0
    info = provider.launch(spec_for(pick(provider, instance_type="g2-standard-4")))
    assert info.state is InstanceState.PENDING
    gce.operation_delay_s = 0.0


def test_unsanitary_tags_become_valid_labels_and_come_back_intact(provider: Any, gce: FakeGCE) -> None:
    extra = {"Team": "Vision Research/α", "owner": "x" * 80}
    info = provider.launch(spec_for(pick(provider, instance_type="g2-standard-4"), extra_tags=extra))
    labels = gce.inserts[0]["labels"]
    assert all(len(v) <= 63 and v == v.lower() for v in labels.values())
    assert info.tags["Team"] == "Vision Research/α" and info.tags["owner"] == "x" * 80


def test_offer_of_another_cloud_is_refused(provider: Any) -> None:
    offer = replace(pick(provider, instance_type="g2-standard-4"), cloud="aws")
    with pytest.raises(InvalidRequest):
        provider.launch(spec_for(offer))
