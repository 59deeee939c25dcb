"""The GCP launch preflight: read every resource an `instances.insert` references, and the GPU quotas.

Compute Engine has no DryRun for an insert, so "would this launch work" is answered by reading each resource the
request names (providers/gcp/launch.py): the boot image family, the network, the subnetwork of each region, and
each region's GPU quotas for the models its zones offer. A resource GCE cannot find is a 404 there, and the same
insert would fail with it; reads cost nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from providers.base import PreflightRow, credentials_row
from providers.errors import ProviderError
from providers.gcp.network import configured_regions
from providers.gcp.quotas import gpu_headroom, metric_for
from providers.gcp.shapes import region_of, tail

if TYPE_CHECKING:
    from providers.gcp.provider import GCPProvider

NAME = "gcp"
_PROJECT = re.compile(r"(?:^|/)projects/([^/]+)/")


def _ok(check: str, where: str, detail: str) -> PreflightRow:
    return PreflightRow(check, NAME, where, True, detail=detail)


def _fail(check: str, where: str, fix: str) -> PreflightRow:
    return PreflightRow(check, NAME, where, False, fix=fix)


def _project_of(reference: str, default: str) -> str:
    match = _PROJECT.search(reference)
    return match.group(1) if match else default


def config_rows(provider: GCPProvider) -> list[PreflightRow]:
    """Without a cloud call: every configured region needs a subnetwork once subnetworks are given per region."""
    settings = provider.settings
    if not settings.subnetwork:
        return []
    rows = []
    for region in sorted(configured_regions(settings.zones, settings.regions)):
        if region in settings.subnetwork:
            rows.append(_ok("subnetwork", region, settings.subnetwork[region]))
        else:
            rows.append(_fail("subnetwork", region, (
                f"no subnetwork for {region}, so it is never offered: add `{region}: NAME` to gcp.subnetwork "
                "(subnetworks are regional), or remove the region")))
    return rows


def preflight(provider: GCPProvider, *, cloud_calls: bool = True) -> list[PreflightRow]:
    rows = config_rows(provider)
    if not cloud_calls:
        return rows
    creds = credentials_row(provider)
    if not creds.ok:
        return [*rows, creds]
    rows.insert(0, creds)
    rows.append(image_row(provider))
    network = network_row(provider)
    rows.append(network)
    rows += subnetwork_rows(provider, network)
    rows += quota_rows(provider)
    return rows


def _read(provider: GCPProvider, call: Callable[[], Any]) -> Any | None:
    """One read: the resource, or None when GCE says it does not exist (other failures raise)."""
    try:
        return provider._call(call)
    except ProviderError as exc:
        if exc.raw_code in ("notFound", "404"):
            return None
        raise


def image_row(provider: GCPProvider) -> PreflightRow:
    settings, timeout = provider.settings, provider.settings.request_timeout_s
    where = f"projects/{settings.image_project}/global/images/family/{settings.image_family}"
    try:
        image = _read(provider, lambda: provider.clients.images.get_from_family(
            project=settings.image_project, family=settings.image_family, retry=None, timeout=timeout))
    except ProviderError as exc:
        return _fail("image", "-", f"cannot read {where} ({type(exc).__name__}: {exc}); grant compute.images.get "
                                   "on the image project")
    if image is None:
        return _fail("image", "-", f"image family {settings.image_family} not found in project "
                                   f"{settings.image_project}: set gcp.image_family / gcp.image_project to an "
                                   "existing image family")
    return _ok("image", "-", f"{where} -> {image.name}")


def network_row(provider: GCPProvider) -> PreflightRow:
    settings = provider.settings
    project = _project_of(settings.network, provider.project)
    name = tail(settings.network)
    try:
        found = _read(provider, lambda: provider.clients.networks.get(
            project=project, network=name, retry=None, timeout=settings.request_timeout_s))
    except ProviderError as exc:
        return _fail("network", "-", f"cannot read network {name} ({type(exc).__name__}: {exc})")
    if found is None:
        return _fail("network", "-", f"network {name} not found in project {project}: create it or set gcp.network")
    if not settings.subnetwork and not found.auto_create_subnetworks:
        return _fail("network", "-", f"network {name} is custom-mode (no subnetwork in every region): set "
                                     "gcp.subnetwork to one subnetwork per region")
    return _ok("network", "-", f"{name} ({'auto' if found.auto_create_subnetworks else 'custom'}-mode)")


def subnetwork_rows(provider: GCPProvider, network: PreflightRow) -> list[PreflightRow]:
    """Each configured subnetwork, read where the insert would look for it."""
    settings = provider.settings
    rows = []
    for region, reference in sorted(settings.subnetwork.items()):
        project = _project_of(reference, provider.project)
        name = tail(reference)
        def get(region: str = region, project: str = project, name: str = name) -> Any:
            return provider.clients.subnetworks.get(project=project, region=region, subnetwork=name, retry=None,
                                                    timeout=settings.request_timeout_s)

        try:
            found = _read(provider, get)
        except ProviderError as exc:
            rows.append(_fail("subnetwork", region, f"cannot read subnetwork {reference} ({type(exc).__name__}: "
                                                    f"{exc})"))
            continue
        if found is None:
            rows.append(_fail("subnetwork", region, f"subnetwork {name} does not exist in {region} of project "
                                                    f"{project}: create it or fix gcp.subnetwork[{region}]"))
        else:
            rows.append(_ok("subnetwork exists", region, reference))
    return rows


def quota_rows(provider: GCPProvider) -> list[PreflightRow]:
    """Per region and GPU model its zones offer: room for one Spot VM of the model's smallest GPU count."""
    discovery = provider.discovery
    try:
        zones = provider._call(discovery.zones)
        shapes = provider._call(lambda: discovery.shapes(zones))
    except ProviderError as exc:
        return [_fail("quota", "-", f"cannot list the zones' GPU shapes ({type(exc).__name__}: {exc}); grant "
                                    "compute.zones.list, compute.machineTypes.list, compute.acceleratorTypes.list")]
    need: dict[tuple[str, str], int] = {}
    for zone, zone_shapes in shapes.items():
        for shape in zone_shapes:
            if shape.gpu_model and shape.gpu_count:
                key = (region_of(zone), shape.gpu_model)
                need[key] = min(need.get(key, shape.gpu_count), shape.gpu_count)
    quotas = discovery.quotas({region for region, _ in need})
    rows = []
    for (region, model), count in sorted(need.items()):
        check = f"quota {model}"
        if region not in quotas:
            rows.append(_ok(check, region, "unknown (regions.get not readable); a launch over it fails with a "
                                           "quota error"))
            continue
        room = gpu_headroom(quotas[region], model, spot=True)
        if room is None:
            rows.append(_ok(check, region, "no quota listed"))
        elif room < count:
            rows.append(_fail(check, region, (
                f"no room for {count} {model} GPU(s) in {region} ({metric_for(model, spot=True)} / "
                f"{metric_for(model, spot=False)} left: {room:g}): request more in the console's Quotas page")))
        else:
            rows.append(_ok(check, region, f"{room:g} GPUs free"))
    return rows
