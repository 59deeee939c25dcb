"""Offers: what each zone can run (from the Compute API) x what it costs (from a PriceSource).

Shapes come from the zone's machine types (a2/a3/g2 name their built-in GPUs in `accelerators`)
and its accelerator types (T4/V100/P100/P4 attach to an N1 host sized by shapes.n1_host). A shape
the price source cannot price is left out rather than offered at a guessed price.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from providers.base import Offer, OfferQuery, SpotPrice
from providers.gcp.errors import guarded
from providers.gcp.pricing import PriceSource
from providers.gcp.shapes import (
    ACCELERATOR_GPU,
    ACCELERATOR_OPTIMISED,
    GPU_MEMORY_GB,
    N1_ATTACHABLE,
    N1_GPU_COUNTS,
    Shape,
    family_of,
    n1_host,
    parse_instance_type,
    region_of,
)
from providers.gpus import canonical_gpu


def shapes_from(machine_types: Iterable[Any], accelerator_types: Iterable[Any]) -> list[Shape]:
    """Offerable shapes of one zone from its compute_v1.MachineType and AcceleratorType lists."""
    shapes: list[Shape] = []
    n1_hosts: dict[str, Any] = {}
    for mt in machine_types:
        family = family_of(mt.name)
        if family == "n1":
            n1_hosts[mt.name] = mt
        elif family in ACCELERATOR_OPTIMISED and mt.accelerators:
            built_in = mt.accelerators[0]
            gpu = ACCELERATOR_GPU.get(built_in.guest_accelerator_type)
            if gpu:
                shapes.append(Shape(mt.name, float(mt.guest_cpus), mt.memory_mb / 1024, gpu,
                                    built_in.guest_accelerator_count))
    for at in accelerator_types:
        gpu = ACCELERATOR_GPU.get(at.name)
        if gpu not in N1_ATTACHABLE:
            continue
        for count in N1_GPU_COUNTS:
            host = n1_hosts.get(n1_host(count))
            if count <= at.maximum_cards_per_instance and host is not None:
                shapes.append(Shape(host.name, float(host.guest_cpus), host.memory_mb / 1024, gpu, count,
                                    attached_accelerator=at.name))
    return shapes


def list_zone_shapes(clients: Any, project: str, zone: str, page_size: int, timeout: float) -> list[Shape]:
    from google.cloud import compute_v1

    mt_request = compute_v1.ListMachineTypesRequest(project=project, zone=zone, max_results=page_size)
    at_request = compute_v1.ListAcceleratorTypesRequest(project=project, zone=zone, max_results=page_size)
    machine_types = guarded(lambda: list(clients.machine_types.list(request=mt_request, retry=None, timeout=timeout)))
    accelerator_types = guarded(lambda: list(clients.accelerator_types.list(
        request=at_request, retry=None, timeout=timeout)))
    return shapes_from(machine_types, accelerator_types)


def build_offers(
    cloud: str, shapes_by_zone: Mapping[str, list[Shape]], prices: PriceSource, query: OfferQuery
) -> list[Offer]:
    """One Offer per (zone, shape, market) that the query wants and the price source can price."""
    markets = [m for m in (True, False) if query.spot is None or query.spot is m]
    offers: list[Offer] = []
    for zone, shapes in sorted(shapes_by_zone.items()):
        region = region_of(zone)
        if query.regions and region not in query.regions:
            continue
        for shape in shapes:
            if query.gpu_model and shape.gpu_model != canonical_gpu(query.gpu_model):
                continue
            if query.gpu_count and shape.gpu_count < query.gpu_count:
                continue
            on_demand = prices.quote(region, zone, shape, False)
            for spot in markets:
                price = prices.quote(region, zone, shape, True) if spot else on_demand
                if price is None or price <= 0:
                    continue
                offers.append(Offer(
                    cloud=cloud, region=region, zone=zone, instance_type=shape.instance_type,
                    gpu_model=shape.gpu_model, gpu_count=shape.gpu_count, vcpus=shape.vcpus,
                    memory_gb=round(shape.memory_gb, 2), spot=spot, price_per_hour=price,
                    price_fetched_at=prices.fetched_at, gpu_memory_gb=GPU_MEMORY_GB.get(shape.gpu_model, 0.0),
                    on_demand_price=on_demand, source=prices.source,
                ))
    return offers


def shape_of_offer(offer: Offer) -> Shape:
    """The shape an earlier offer describes (its pool name says which GPU an N1 host carries)."""
    machine, accelerator, _ = parse_instance_type(offer.instance_type)
    return Shape(machine, offer.vcpus, offer.memory_gb, offer.gpu_model, offer.gpu_count,
                 attached_accelerator=accelerator)


def spot_quotes(pools: Iterable[Offer], prices: PriceSource,
                shape_of: Callable[[Offer], Shape]) -> list[SpotPrice]:
    """Fresh spot prices of known pools from a price source: the price-only refresh, no Compute API call."""
    quotes: list[SpotPrice] = []
    for pool in pools:
        price = prices.quote(pool.region, pool.zone, shape_of(pool), True)
        if price is not None and price > 0:
            quotes.append(SpotPrice(pool.region, pool.zone, pool.instance_type, price, prices.fetched_at))
    return quotes
