"""The boot disk type: pd-balanced by default (GCE's own default, pd-standard, is slow and G2/A3 refuse it), sent
as the zonal URL GCE wants, and the fake refuses what GCE refuses."""

from __future__ import annotations

from typing import Any

import pytest

from providers.errors import InvalidRequest
from providers.gcp.launch import build_instance
from providers.gcp.settings import GCPSettings
from tests.providers.gcp.fake_gce import FakeGCE
from tests.providers.gcp.helpers import pick, spec_for


def test_n1_gpu_vms_get_a_balanced_disk_by_default(provider: Any, gce: FakeGCE) -> None:
    provider.launch(spec_for(pick(provider, instance_type="n1-standard-8+nvidia-tesla-t4:1")))
    [body] = gce.inserts
    assert body["disks"][0]["initializeParams"]["diskType"] == "zones/us-central1-a/diskTypes/pd-balanced"
    assert gce.disk_types == ["pd-balanced"]


def test_the_configured_type_goes_to_the_vms_own_zone(make_provider: Any, gce: FakeGCE) -> None:
    provider = make_provider(disk_type="pd-ssd")
    provider.launch(spec_for(pick(provider, instance_type="g2-standard-4", zone="us-central1-b")))
    assert gce.inserts[0]["disks"][0]["initializeParams"]["diskType"] == "zones/us-central1-b/diskTypes/pd-ssd"


def test_g2_and_a3_refuse_pd_standard_as_gce_does(make_provider: Any, gce: FakeGCE) -> None:
    """What every G2 (L4) and A3 (H100) launch met before: no diskType is pd-standard, which they do not take."""
    provider = make_provider(disk_type="pd-standard")
    with pytest.raises(InvalidRequest, match=r"\[pd-standard\] disk type cannot be used by \[g2-standard-4\]"):
        provider.launch(spec_for(pick(provider, instance_type="g2-standard-4")))
    provider.launch(spec_for(pick(provider, instance_type="n1-standard-8+nvidia-tesla-t4:1")))  # N1 still may
    assert gce.disk_types == ["pd-standard", "pd-standard"] and len(gce.instances) == 1


@pytest.mark.parametrize("value", ["pd-balance", "zones/us-central1-a/diskTypes/pd-ssd", "", 5])
def test_a_disk_type_that_is_not_a_type_name_is_refused_at_config_time(value: Any) -> None:
    with pytest.raises(InvalidRequest, match="gcp disk_type must be one of pd-balanced, pd-ssd"):
        GCPSettings.parse({"disk_type": value})


@pytest.mark.parametrize(("disk_type", "message"), [
    ("zones/europe-west4-a/diskTypes/pd-ssd", "The disk type must be zones/us-central1-a/diskTypes/TYPE"),
    ("pd-ssd", "The disk type must be zones/us-central1-a/diskTypes/TYPE"),
    ("zones/us-central1-a/diskTypes/pd-fast", "The referenced diskType resource cannot be found"),
])
def test_the_fake_checks_the_disk_type_url(provider: Any, gce: FakeGCE, disk_type: str, message: str) -> None:
    """The fake must refuse a malformed or foreign disk type URL, or the adapter's shape would go unchecked."""
    from google.api_core.exceptions import BadRequest
    from google.cloud import compute_v1

    spec = spec_for(pick(provider, instance_type="n1-standard-8+nvidia-tesla-t4:1"))
    instance = build_instance(spec, provider.settings, provider.project)
    instance.disks[0].initialize_params.disk_type = disk_type
    request = compute_v1.InsertInstanceRequest(project=provider.project, zone=spec.offer.zone,
                                               instance_resource=instance)
    with pytest.raises(BadRequest, match=message):
        provider.clients.instances.insert_unary(request=request, retry=None, timeout=10)
    assert gce.instances == {}


def test_a_job_that_sizes_its_disk_gets_that_size_else_the_configured_one(provider: Any, gce: FakeGCE) -> None:
    """A SkyPilot task's `disk_size` (JobSpec resources.disk_gb) reaches the boot disk of the instance."""
    import dataclasses

    offer = pick(provider, instance_type="n1-standard-8+nvidia-tesla-t4:1")
    provider.launch(dataclasses.replace(spec_for(offer), disk_gb=512))
    provider.launch(spec_for(offer))
    sizes = [int(body["disks"][0]["initializeParams"]["diskSizeGb"]) for body in gce.inserts]
    assert sizes == [512, provider.settings.disk_size_gb]
