"""Small builders shared by the Azure tests."""

from __future__ import annotations

import uuid

from providers.azure import AzureProvider
from providers.base import AgentBootstrap, LaunchSpec, Offer, OfferQuery


def offer(
    provider: AzureProvider,
    *,
    zone: str = "eastus-1",
    size: str = "Standard_NC24ads_A100_v4",
    spot: bool = True,
) -> Offer:
    """The offer for one pool, as list_offers returns it (fails loudly if the fake stops offering it)."""
    offers = provider.list_offers(OfferQuery(regions=(zone.split("-")[0],), spot=spot))
    return next(o for o in offers if o.zone == zone and o.instance_type == size)


def spec(
    offer: Offer, *, key: str | None = None, cluster: str = "c1", max_price: float | None = None
) -> LaunchSpec:
    key = key or uuid.uuid4().hex
    attempt = f"att-{key[:8]}"
    return LaunchSpec(
        idempotency_key=key,
        cluster_id=cluster,
        job_id=f"job-{key[:8]}",
        attempt_id=attempt,
        offer=offer,
        bootstrap=AgentBootstrap(api_url="http://127.0.0.1:9", attempt_id=attempt, token="tok"),
        max_price_per_hour=max_price,
    )
