"""Every Compute Engine call of a whole cycle (offers, prices, launch, preemption, describe, listing, terminate,
credentials, launch preflight) maps to permissions of the custom role in docs/clouds/gcp.md, and the role asks for
nothing the cycle does not use (beyond what only a config option needs): recorded by the fake GCE's request log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from providers.base import OfferQuery
from tests.docs.permissions import gcp_permissions
from tests.providers.gcp.fake_gce import FakeGCE
from tests.providers.gcp.helpers import spec_for

# REST method -> the IAM permissions it requires, as each method's reference page lists them
# (https://cloud.google.com/compute/docs/reference/rest/v1, "Authorization scopes" / IAM permissions, and
# https://cloud.google.com/compute/docs/access/iam-permissions). instances.insert needs one per thing the
# instance resource names: its boot disk (made from an image), metadata, labels, the subnetwork and an external IP.
PERMISSIONS: dict[str, set[str]] = {
    "zones.list": {"compute.zones.list"},
    "regions.get": {"compute.regions.get"},
    "machineTypes.list": {"compute.machineTypes.list"},
    "acceleratorTypes.list": {"compute.acceleratorTypes.list"},
    "instances.insert": {"compute.instances.create", "compute.disks.create", "compute.instances.setMetadata",
                         "compute.instances.setLabels", "compute.disks.setLabels", "compute.subnetworks.use",
                         "compute.subnetworks.useExternalIp", "compute.images.useReadOnly"},
    "instances.get": {"compute.instances.get"},
    "instances.list": {"compute.instances.list"},
    "instances.aggregatedList": {"compute.instances.list"},
    "instances.delete": {"compute.instances.delete"},
    "zoneOperations.get": {"compute.zoneOperations.get"},
    "zoneOperations.wait": {"compute.zoneOperations.get"},
    "zoneOperations.list": {"compute.zoneOperations.list"},
    "globalOperations.aggregatedList": {"compute.globalOperations.list"},
    "images.getFromFamily": {"compute.images.getFromFamily"},
    "networks.get": {"compute.networks.get"},
    "subnetworks.get": {"compute.subnetworks.get"},
    "skus.list": set(),  # the Cloud Billing Catalog: public price data, no role
}
# only with `service_account:` (the instances' identity): attaching it, and acting as it
CONDITIONAL = {"compute.instances.setServiceAccount", "iam.serviceAccounts.actAs"}


def test_every_call_of_a_cycle_is_allowed_by_the_documented_role_and_nothing_more(
    make_provider: Callable[..., Any], gce: FakeGCE
) -> None:
    gce.operation_delay_s = 0.2  # operations still running when inserted: the adapter waits on them
    provider = make_provider(regions=["us-central1"], subnetwork="default")
    assert provider.check_credentials().account
    offers = [o for o in provider.list_offers(OfferQuery(gpu_model="T4")) if o.spot]
    assert provider.spot_prices(offers)
    info = provider.launch(spec_for(offers[0], cluster="c-iam"))
    assert provider.list_managed("c-iam")
    zone, name = info.id.split("/", 1)
    gce.preempt(zone, name)
    assert provider.interruption_events() and provider.describe([info.id])[0].preempted
    provider.terminate([info.id])
    assert not [r for r in provider.preflight("https://spotwise.example.com") if not r.ok]

    unmapped = set(gce.requests) - set(PERMISSIONS)
    assert not unmapped, f"calls without a permission mapping here (and in docs/clouds/gcp.md): {unmapped}"
    needed = {p for call in gce.requests for p in PERMISSIONS[call]}
    documented = gcp_permissions()
    assert needed - documented == set(), "calls the role in docs/clouds/gcp.md does not allow"
    assert documented - needed - CONDITIONAL == set(), "permissions in the role that no call of the cycle needs"
