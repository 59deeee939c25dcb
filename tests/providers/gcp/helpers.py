"""Small builders shared by the GCP tests."""

from __future__ import annotations

import uuid
from typing import Any

from providers.base import AgentBootstrap, LaunchSpec, Offer, OfferQuery


def pick(provider: Any, *, instance_type: str, zone: str = "us-central1-a", spot: bool = True) -> Offer:
    for offer in provider.list_offers(OfferQuery()):
        if offer.instance_type == instance_type and offer.zone == zone and offer.spot is spot:
            return offer
    raise AssertionError(f"no offer {instance_type} in {zone} spot={spot}")


def spec_for(offer: Offer, *, cluster: str = "c1", key: str | None = None, attempt: str | None = None,
             extra_tags: dict[str, str] | None = None) -> LaunchSpec:
    key = key or uuid.uuid4().hex
    attempt = attempt or f"att-{key[:8]}"
    return LaunchSpec(
        idempotency_key=key, cluster_id=cluster, job_id=f"job-{key[:8]}", attempt_id=attempt, offer=offer,
        bootstrap=AgentBootstrap(api_url="http://127.0.0.1:9", attempt_id=attempt, token="tok"),
        extra_tags=extra_tags or {},
    )
