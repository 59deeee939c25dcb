"""A scriptable in-memory provider: fixed offers, errors queued per pool, capacity per pool.

Used by placement and failover tests (and usable by the contract suite): `fail[pool]` holds
errors raised by the next launches in that pool, `capacity[pool]` how many instances fit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from providers.base import (
    TAG_CLUSTER,
    Capability,
    CapacityError,
    Identity,
    InstanceInfo,
    InstanceState,
    Interruption,
    LaunchSpec,
    Offer,
    OfferQuery,
    ProviderError,
)

Pool = tuple[str, str, str, str, bool]


def make_offer(cloud: str, zone: str, price: float, *, gpu: str = "T4", count: int = 1, spot: bool = True,
               instance_type: str = "gpu.small", region: str | None = None, **extra: Any) -> Offer:
    return Offer(cloud=cloud, region=region or zone.rsplit("-", 1)[0], zone=zone, instance_type=instance_type,
                 gpu_model=gpu, gpu_count=count, vcpus=extra.pop("vcpus", 8.0),
                 memory_gb=extra.pop("memory_gb", 32.0), spot=spot, price_per_hour=price,
                 price_fetched_at=datetime.now(UTC), gpu_memory_gb=extra.pop("gpu_memory_gb", 16.0), **extra)


@dataclass
class FakeProvider:
    """Instances are dict entries; every launch is idempotent on the key, as the protocol asks."""

    cloud: str
    offers: list[Offer] = field(default_factory=list)
    fail: dict[Pool, list[ProviderError]] = field(default_factory=dict)
    capacity: dict[Pool, int] = field(default_factory=dict)
    instances: dict[str, InstanceInfo] = field(default_factory=dict)
    launches: list[LaunchSpec] = field(default_factory=list)
    list_error: ProviderError | None = None

    name: ClassVar[str] = "fake"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.SPOT, Capability.ON_DEMAND})

    def check_credentials(self) -> Identity:
        return Identity(provider=self.cloud, account="fake")

    def list_offers(self, query: OfferQuery) -> list[Offer]:
        if self.list_error is not None:
            raise self.list_error
        return [o for o in self.offers if o.cloud == self.cloud]

    def launch(self, spec: LaunchSpec) -> InstanceInfo:
        instance_id = f"{self.cloud}-" + hashlib.sha256(spec.idempotency_key.encode()).hexdigest()[:10]
        if instance_id in self.instances:
            return self.instances[instance_id]
        self.launches.append(spec)
        pool = spec.offer.pool
        queued = self.fail.get(pool)
        if queued:
            raise queued.pop(0)
        if pool in self.capacity:
            if self.capacity[pool] <= 0:
                raise CapacityError(f"no capacity in {spec.offer.zone}", provider=self.cloud,
                                    raw_code="InsufficientCapacity")
            self.capacity[pool] -= 1
        info = InstanceInfo(id=instance_id, provider=self.cloud, region=spec.offer.region, zone=spec.offer.zone,
                            instance_type=spec.offer.instance_type, spot=spec.offer.spot,
                            state=InstanceState.RUNNING, price_per_hour=spec.offer.price_per_hour,
                            launched_at=datetime.now(UTC), tags=spec.tags)
        self.instances[instance_id] = info
        return info

    def describe(self, ids: Sequence[str]) -> list[InstanceInfo]:
        return [self.instances[i] for i in ids if i in self.instances]

    def list_managed(self, cluster_id: str) -> list[InstanceInfo]:
        return [i for i in self.instances.values()
                if i.tags.get(TAG_CLUSTER) == cluster_id and i.state is not InstanceState.TERMINATED]

    def terminate(self, ids: Sequence[str]) -> None:
        for i in ids:
            if i in self.instances:
                self.instances[i] = replace(self.instances[i], state=InstanceState.TERMINATED)

    def interruption_events(self) -> list[Interruption]:
        return []
