"""The Azure launch preflight: read every resource a VM create references, the sizes' restrictions and quotas.

ARM has no free trial create for a VM, so "would this launch work" is answered by reading what the request body
(providers/azure/launch.py) names: the SSH key (checked locally: ARM refuses a Linux VM without one), the image (a
marketplace publisher/offer/sku per location, or a managed or gallery image by id), the subnet of each location,
the resource SKUs' restrictions per zone for the GPU sizes, and the vCPU quotas (`usage.list`). Reads cost nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from providers.azure.errors import is_not_found
from providers.azure.offers import SizeInfo, _get, parse_sku
from providers.azure.quotas import REGIONAL_USAGE, SPOT_USAGE, quotas_from_usages
from providers.azure.sshkey import SshKeyError, check_public_key
from providers.base import PreflightRow, credentials_row
from providers.errors import ProviderError

if TYPE_CHECKING:
    from providers.azure.provider import AzureProvider

NAME = "azure"
_SUBNET = re.compile(r"/resourceGroups/([^/]+)/providers/Microsoft\.Network/virtualNetworks/([^/]+)/subnets/([^/]+)$",
                     re.IGNORECASE)
_MANAGED_IMAGE = re.compile(r"/resourceGroups/([^/]+)/providers/Microsoft\.Compute/images/([^/]+)$", re.IGNORECASE)
_GALLERY_VERSION = re.compile(r"/resourceGroups/([^/]+)/providers/Microsoft\.Compute/galleries/([^/]+)/images/"
                              r"([^/]+)/versions/([^/]+)$", re.IGNORECASE)


def _ok(check: str, where: str, detail: str) -> PreflightRow:
    return PreflightRow(check, NAME, where, True, detail=detail)


def _fail(check: str, where: str, fix: str) -> PreflightRow:
    return PreflightRow(check, NAME, where, False, fix=fix)


def config_rows(provider: AzureProvider) -> list[PreflightRow]:
    """Without a cloud call: the SSH key every Linux VM needs, and a subnet for every location."""
    config = provider.config
    try:
        key = check_public_key(config.ssh_public_key) if config.ssh_public_key else ""
    except SshKeyError as exc:
        key, problem = "", str(exc)
    else:
        problem = "" if key else ("no ssh_public_key: ARM refuses a Linux VM with password log-in disabled and no "
                                  "key; set azure.ssh_public_key to a key or the path of a .pub file")
    rows = [_fail("ssh key", "-", problem) if problem else _ok("ssh key", "-", key.split()[0])]
    for location in config.locations:
        subnet = config.subnet_for(location)
        rows.append(_ok("subnet configured", location, subnet.rsplit("/", 3)[-3] + "/" + subnet.rsplit("/", 1)[-1])
                    if subnet else _fail("subnet configured", location, (
                        f"no subnet_id for {location}, so it is never offered: add `{location}: /subscriptions/.../"
                        "subnets/NAME` to azure.subnet_id (a subnet of a VNet in that region), or remove it")))
    return rows


def preflight(provider: AzureProvider, *, cloud_calls: bool = True) -> list[PreflightRow]:
    rows = config_rows(provider)
    if not cloud_calls:
        return rows
    creds = credentials_row(provider, provider.config.locations[0])
    if not creds.ok:
        return [*rows, creds]
    locations = [loc for loc in provider.config.locations if provider.config.subnet_for(loc)]
    if not locations:
        return [creds, *rows]
    with ThreadPoolExecutor(max_workers=min(8, len(locations))) as pool:
        per_location = list(pool.map(lambda loc: location_rows(provider, loc), locations))
    return [creds, *rows, *(row for found in per_location for row in found)]


def _read(provider: AzureProvider, call: Callable[[], Any]) -> Any | None:
    """One read through the adapter's classified retries; None when ARM says the resource does not exist."""
    def get() -> Any | None:
        try:
            return call()
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise

    return provider.call(get)


def location_rows(provider: AzureProvider, location: str) -> list[PreflightRow]:
    rows = []
    for check in (image_row, subnet_row):
        try:
            rows.append(check(provider, location))
        except ProviderError as exc:
            rows.append(_fail(check.__name__.removesuffix("_row"), location,
                              f"cannot read it ({type(exc).__name__}: {exc})"))
    try:
        skus = provider.call(lambda: list(provider.clients.compute.resource_skus.list(
            filter=f"location eq '{location}'")))
    except ProviderError as exc:
        return [*rows, _fail("sizes", location, f"cannot list resource SKUs ({type(exc).__name__}: {exc})")]
    sizes = [s for sku in skus if (s := parse_sku(sku, location)) is not None and s.gpu_model]
    rows += size_rows(location, skus, sizes)
    if sizes:
        rows += quota_rows(provider, location, sizes)
    return rows


def image_row(provider: AzureProvider, location: str) -> PreflightRow:
    image, compute = provider.config.image, provider.clients.compute
    if "id" in image:
        ref = image["id"]
        managed, gallery = _MANAGED_IMAGE.search(ref), _GALLERY_VERSION.search(ref)
        if managed:
            found = _read(provider, lambda: compute.images.get(*managed.groups()))
        elif gallery:
            found = _read(provider, lambda: compute.gallery_image_versions.get(*gallery.groups()))
        else:
            return _ok("image", location, f"{ref} (not a managed or gallery image id: not checked)")
        what = ref
    else:
        publisher, offer, sku = image["publisher"], image["offer"], image["sku"]
        version = image.get("version", "latest")
        what = f"{publisher}:{offer}:{sku}:{version}"
        versions = _read(provider, lambda: compute.virtual_machine_images.list(location, publisher, offer, sku))
        names = {str(_get(v, "name", "")) for v in versions or []}
        found = names and (version == "latest" or version in names)
    if not found:
        return _fail("image", location, f"image {what} not found in {location}: set azure.image to an image that "
                                        "exists there (`az vm image list --all -l LOCATION`)")
    return _ok("image", location, what)


def subnet_row(provider: AzureProvider, location: str) -> PreflightRow:
    subnet = provider.config.subnet_for(location)
    parts = _SUBNET.search(subnet)
    if parts is None:
        return _fail("subnet", location, f"{subnet} is not a subnet id (.../virtualNetworks/VNET/subnets/NAME)")
    found = _read(provider, lambda: provider.clients.network.subnets.get(*parts.groups()))
    if found is None:
        return _fail("subnet", location, f"subnet {parts.group(2)}/{parts.group(3)} does not exist (resource group "
                                         f"{parts.group(1)}): create it or fix azure.subnet_id[{location}]")
    return _ok("subnet", location, f"{parts.group(2)}/{parts.group(3)}")


def size_rows(location: str, skus: list[Any], sizes: list[SizeInfo]) -> list[PreflightRow]:
    """Per zone the location has: GPU sizes left once the SKU restrictions for this subscription are applied."""
    zones = sorted({str(z) for sku in skus for info in _get(sku, "location_info", [])
                    if str(_get(info, "location", "")).lower() == location.lower() for z in _get(info, "zones", [])})
    rows = []
    for zone in zones or [""]:
        where = f"{location}-{zone}" if zone else location
        usable = sorted(s.name for s in sizes if not zone or zone in s.zones or not s.zones)
        if usable:
            rows.append(_ok("sizes", where, f"{len(usable)} GPU sizes, e.g. {usable[0]}"))
        else:
            rows.append(_fail("sizes", where, f"no GPU size is available to this subscription in {where} (resource "
                                              "SKU restrictions): request access to the sizes, or remove the location"))
    return rows


def quota_rows(provider: AzureProvider, location: str, sizes: list[SizeInfo]) -> list[PreflightRow]:
    """Spot (`lowPriorityCores`) and regular (family + `cores`): room for the smallest GPU size?"""
    try:
        quotas = quotas_from_usages(provider.call(lambda: list(provider.clients.compute.usage.list(location))))
    except ProviderError as exc:
        return [_ok("quota", location, f"unknown ({type(exc).__name__}); a launch over it fails with a quota error")]
    rows = []
    for spot in (True, False):
        candidates = [s for s in sizes if s.spot_capable or not spot]
        if not candidates:
            continue
        check = f"quota {'spot' if spot else 'regular'}"
        if any(quotas.allows(s, spot) for s in candidates):
            fits = min((s for s in candidates if quotas.allows(s, spot)), key=lambda s: s.vcpus)
            rows.append(_ok(check, location, f"room for {fits.name}"))
            continue
        smallest = min(candidates, key=lambda s: (s.vcpus, s.name))
        usage = SPOT_USAGE if spot else f"{smallest.family or 'the size family'} / {REGIONAL_USAGE}"
        rows.append(_fail(check, location, (
            f"no vCPU quota left for even {smallest.name} ({smallest.vcpus:g} vCPUs) in {location} ({usage}): request "
            "an increase under Quotas > Compute in the portal")))
    return rows
