"""Offers for one region: GPU types x zones x market, with live spot prices.

Three EC2 calls per region (types, offerings, spot price history) plus on-demand prices. Type
shapes and zone offerings barely change, so they are cached; prices are fetched every time, so
an offer's `price_fetched_at` is when we asked. Regions are fanned out by the provider.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from providers.aws.advisor import SpotAdvisor
from providers.aws.config import AWSConfig
from providers.aws.errors import translated
from providers.aws.gpus import gpu_summary, launchable_architecture
from providers.aws.network import SubnetMap
from providers.aws.pricing import OnDemandPrices
from providers.aws.quotas import QuotaBook
from providers.aws.session import ClientFactory
from providers.base import Offer, OfferQuery
from providers.gpus import canonical_gpu

SPOT_PRODUCT = "Linux/UNIX"
_FILTER_CHUNK = 100  # values per EC2 filter, well under the service limits


@dataclass(frozen=True, slots=True)
class TypeShape:
    instance_type: str
    gpu_model: str
    gpu_count: int
    gpu_memory_gb: float
    vcpus: float
    memory_gb: float
    architecture: str = "x86_64"


def shape_of(entry: dict[str, Any], *, arm64: bool = False) -> TypeShape | None:
    """The offerable shape of one describe_instance_types entry; None for types Spotwise cannot run a job on
    (no GPU, fractional GPUs, non-NVIDIA GPUs, arm64 without an arm64 AMI: see `launchable_architecture`)."""
    model, count, gpu_mem = gpu_summary(entry)
    architecture = launchable_architecture(entry, arm64=arm64)
    if count == 0 or architecture is None:
        return None
    return TypeShape(
        instance_type=entry["InstanceType"], gpu_model=model, gpu_count=count, gpu_memory_gb=gpu_mem,
        vcpus=float(entry["VCpuInfo"]["DefaultVCpus"]),
        memory_gb=round(entry["MemoryInfo"]["SizeInMiB"] / 1024, 1), architecture=architecture,
    )


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def latest_spot_prices(clients: ClientFactory, region: str, types: Iterable[str]) -> dict[tuple[str, str], float]:
    """(type, zone) -> current Linux spot price, through the paginator, keeping the latest per pool."""
    wanted = sorted(set(types))
    if not wanted:
        return {}
    latest: dict[tuple[str, str], tuple[datetime, float]] = {}
    paginator = clients.client("ec2", region).get_paginator("describe_spot_price_history")
    with translated():
        for chunk in _chunks(wanted, _FILTER_CHUNK):
            pages = paginator.paginate(
                InstanceTypes=chunk, ProductDescriptions=[SPOT_PRODUCT], StartTime=datetime.now(UTC)
            )
            for page in pages:
                for item in page.get("SpotPriceHistory", []):
                    if not str(item.get("ProductDescription", "")).startswith(SPOT_PRODUCT):
                        continue
                    key = (item["InstanceType"], item["AvailabilityZone"])
                    stamp = item["Timestamp"]
                    if key not in latest or stamp > latest[key][0]:
                        latest[key] = (stamp, float(item["SpotPrice"]))
    return {key: price for key, (_, price) in latest.items() if price > 0}


class RegionCatalog:
    """Cached GPU type shapes and zone offerings of the configured regions."""

    def __init__(self, clients: ClientFactory, config: AWSConfig, *, ttl_s: float = 3600) -> None:
        self.clients = clients
        self.config = config
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._shapes: dict[str, tuple[float, dict[str, TypeShape]]] = {}
        self._zones: dict[str, tuple[float, dict[str, list[str]]]] = {}

    def shapes(self, region: str) -> dict[str, TypeShape]:
        with self._lock:
            cached = self._shapes.get(region)
        if cached and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        paginator = self.clients.client("ec2", region).get_paginator("describe_instance_types")
        shapes: dict[str, TypeShape] = {}
        with translated():
            filters = [{"Name": "instance-type", "Values": list(self.config.instance_families)}]
            for page in paginator.paginate(Filters=filters):
                for entry in page.get("InstanceTypes", []):
                    shape = shape_of(entry, arm64=bool(self.config.ami_arm64))
                    if shape is not None:
                        shapes[shape.instance_type] = shape
        with self._lock:
            self._shapes[region] = (time.monotonic(), shapes)
        return shapes

    def zones(self, region: str, types: list[str]) -> dict[str, list[str]]:
        """type -> zones offering it (cached per region for the whole GPU type set)."""
        with self._lock:
            cached = self._zones.get(region)
        if not (cached and time.monotonic() - cached[0] < self.ttl_s):
            all_types = sorted(self.shapes(region))
            zones: dict[str, list[str]] = {}
            paginator = self.clients.client("ec2", region).get_paginator("describe_instance_type_offerings")
            with translated():
                for chunk in _chunks(all_types, _FILTER_CHUNK):
                    pages = paginator.paginate(
                        LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": chunk}]
                    )
                    for page in pages:
                        for item in page.get("InstanceTypeOfferings", []):
                            zones.setdefault(item["InstanceType"], []).append(item["Location"])
            cached = (time.monotonic(), zones)
            with self._lock:
                self._zones[region] = cached
        return {t: sorted(cached[1].get(t, [])) for t in types}


def region_offers(
    region: str,
    query: OfferQuery,
    *,
    catalog: RegionCatalog,
    on_demand: OnDemandPrices,
    advisor: SpotAdvisor,
    spot_book: dict[tuple[str, str, str], float] | None = None,
    network: SubnetMap | None = None,
    quotas: QuotaBook | None = None,
) -> list[Offer]:
    """Every pool of one region that the query may want. `spot_book` collects (region, type, zone) prices.
    With subnets configured (`network`), only the zones they are in: nothing else can be launched into.
    With `quotas`, no type whose vCPUs alone exceed the account's known quota of its family and market."""
    shapes = {
        t: s for t, s in catalog.shapes(region).items()
        if not query.gpu_model or s.gpu_model == canonical_gpu(query.gpu_model)
    }
    if not shapes:
        return []
    zones = catalog.zones(region, sorted(shapes))
    if network is not None and network.restricted:
        reachable = network.by_zone(region)
        zones = {t: [z for z in zs if z in reachable] for t, zs in zones.items()}
        shapes = {t: s for t, s in shapes.items() if zones.get(t)}
        if not shapes:
            return []
    limits = quotas.limits(region) if quotas is not None else {}
    fetched = datetime.now(UTC)
    spot = latest_spot_prices(catalog.clients, region, shapes) if query.spot is not False else {}
    if spot_book is not None:
        spot_book.update({(region, t, z): p for (t, z), p in spot.items()})
    od = on_demand.prices(region, shapes)
    offers: list[Offer] = []
    for instance_type, shape in sorted(shapes.items()):
        od_price, od_source = od.get(instance_type, (None, "catalog"))
        for zone in zones.get(instance_type, []):
            common: dict[str, Any] = dict(
                cloud="aws", region=region, zone=zone, instance_type=instance_type, gpu_model=shape.gpu_model,
                gpu_count=shape.gpu_count, gpu_memory_gb=shape.gpu_memory_gb, vcpus=shape.vcpus,
                memory_gb=shape.memory_gb, price_fetched_at=fetched, on_demand_price=od_price,
            )
            if query.spot is not True and od_price is not None and (
                    quotas is None or quotas.allows(limits, instance_type, shape.vcpus, False)):
                offers.append(Offer(spot=False, price_per_hour=od_price, source=od_source, **common))
            spot_price = spot.get((instance_type, zone))
            if query.spot is not False and spot_price is not None and (
                    quotas is None or quotas.allows(limits, instance_type, shape.vcpus, True)):
                offers.append(Offer(
                    spot=True, price_per_hour=spot_price, source="live",
                    interruption_prior=advisor.prior(region, instance_type), **common,
                ))
    return offers
