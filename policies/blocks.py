"""Blocked pools, zones, regions and providers with expiry times. Pure data, time passed in.

A launch failure blocks as much as its error's scope says (`providers.errors.ErrorScope`): a
capacity error one pool for a few minutes, a quota error a whole region for longer, an auth
error the provider until someone fixes the credentials. The launcher keeps these (in memory
and in the store, so replicas and restarts agree); placement only asks `blocks(offer, now)`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from providers.base import Offer

Pool = tuple[str, str, str, str, bool]  # (cloud, region, zone, instance type, spot)
BlockKey = tuple[str, ...]  # ("pool", cloud, region, zone, type, "spot"|"od") / ("zone", ...) / ...

FOREVER = float("inf")


def pool_key(pool: Pool) -> BlockKey:
    cloud, region, zone, instance_type, spot = pool
    return ("pool", cloud, region, zone, instance_type, "spot" if spot else "od")


def scope_key(scope: str, pool: Pool) -> BlockKey:
    """The key an error of `scope` ("pool", "zone", "region", "provider") blocks for `pool`."""
    cloud, region, zone, _, _ = pool
    if scope == "pool":
        return pool_key(pool)
    if scope == "zone":
        return ("zone", cloud, region, zone)
    if scope == "region":
        return ("region", cloud, region)
    return ("provider", cloud)


@dataclass(frozen=True, slots=True)
class Block:
    key: BlockKey
    until: float  # same clock as `now` (monotonic in the daemon, simulated time in tests)
    reason: str = ""


@dataclass(slots=True)
class Blocks:
    """Active blocks by key. `until` values are compared with the caller's `now`."""

    entries: dict[BlockKey, Block] = field(default_factory=dict)

    @classmethod
    def of_pools(cls, pools: Collection[Pool]) -> Blocks:
        """Pools blocked with no expiry (the plain-collection form `rank_offers` still accepts)."""
        return cls({pool_key(p): Block(pool_key(p), FOREVER) for p in pools})

    @classmethod
    def of(cls, blocks: Iterable[Block]) -> Blocks:
        merged = cls()
        for block in blocks:
            merged.add(block)
        return merged

    def add(self, block: Block) -> None:
        """Keep the later expiry when a key is blocked twice."""
        current = self.entries.get(block.key)
        if current is None or current.until < block.until:
            self.entries[block.key] = block

    def block(self, scope: str, pool: Pool, until: float, reason: str = "") -> Block:
        block = Block(scope_key(scope, pool), until, reason)
        self.add(block)
        return block

    def active(self, now: float) -> list[Block]:
        return [b for b in self.entries.values() if b.until > now]

    def prune(self, now: float) -> None:
        for key in [k for k, b in self.entries.items() if b.until <= now]:
            del self.entries[key]

    def why(self, pool: Pool, now: float) -> Block | None:
        """The block covering `pool` at `now`, narrowest first, or None."""
        if not self.entries:
            return None
        cloud, region, zone, _, _ = pool
        for key in (pool_key(pool), ("zone", cloud, region, zone), ("region", cloud, region), ("provider", cloud)):
            block = self.entries.get(key)
            if block is not None and block.until > now:
                return block
        return None

    def blocks(self, offer: Offer, now: float) -> bool:
        return self.why(offer.pool, now) is not None

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)
