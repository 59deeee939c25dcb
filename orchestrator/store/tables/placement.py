"""What placement reads: cached prices and their sources, blocked pools, and data gravity (where buckets
are, how fast data moved)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.store.tables.base import Base, BigIntPK


class CachedOffer(Base):
    """The last good price of each pool, per source: "live" (provider listing) or "catalog" (import).

    Placement prefers a live row and falls back to the catalog row of the same pool, so a
    billing outage leaves the daemon placing on imported prices that say so.
    """

    __tablename__ = "offers"
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    cloud: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(64), primary_key=True)
    zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance_type: Mapped[str] = mapped_column(String(96), primary_key=True)
    spot: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    gpu_model: Mapped[str] = mapped_column(String(48))
    gpu_count: Mapped[int] = mapped_column(Integer)
    gpu_memory_gb: Mapped[float] = mapped_column(Float)
    vcpus: Mapped[float] = mapped_column(Float)
    memory_gb: Mapped[float] = mapped_column(Float)
    price_per_hour: Mapped[float] = mapped_column(Float)
    on_demand_price: Mapped[float | None] = mapped_column(Float)
    interruption_prior: Mapped[float | None] = mapped_column(Float)
    fetched_at: Mapped[datetime]


class PriceSource(Base):
    """Refresh state per (cloud, source): when it last worked, how often it has failed since."""

    __tablename__ = "price_sources"
    cloud: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    offers: Mapped[int] = mapped_column(Integer, default=0)
    fetched_at: Mapped[datetime | None]
    attempted_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")  # e.g. the imported file's name
    updated_at: Mapped[datetime]


class PoolBlock(Base):
    """A pool, zone, region or provider skipped by placement until `blocked_until` (after a failure)."""

    __tablename__ = "pool_blocks"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    cloud: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    blocked_until: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]


class StoreRegion(Base):
    """A bucket's cloud and region (`scheme://bucket`), looked up once through the cloud's storage API (or taken
    from the settings) and kept: placement asks for it on every pass of every job that uses the bucket."""

    __tablename__ = "store_regions"
    bucket: Mapped[str] = mapped_column(String(320), primary_key=True)  # scheme://bucket
    cloud: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # api | settings
    looked_up_at: Mapped[datetime]


class TransferSample(Base):
    """One measured checkpoint restore or upload: bytes, seconds, from where to where. Placement uses the measured
    rate of a (store region, instance region) path instead of the default once it has enough samples."""

    __tablename__ = "transfer_samples"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    job_id: Mapped[str] = mapped_column(String(32))
    attempt_id: Mapped[str] = mapped_column(String(48))
    direction: Mapped[str] = mapped_column(String(16))  # restore | upload
    store_cloud: Mapped[str] = mapped_column(String(32))
    store_region: Mapped[str] = mapped_column(String(64))
    cloud: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(64))
    instance_type: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger)
    seconds: Mapped[float] = mapped_column(Float)
    __table_args__ = (Index("ix_transfer_path", "store_cloud", "store_region", "cloud", "region", "at"),)
