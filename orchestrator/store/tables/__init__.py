"""The schema. Alembic migrations under `migrations/versions` create exactly this (a test compares).

One module per concept (`jobs`, `access`, `placement`, `spending`, `alerts`, and `base` for what they share);
this package re-exports every table, so callers import from `orchestrator.store.tables` and importing it
registers every table on `Base.metadata`, which Alembic's env and the schema test compare with the migrations.
"""

from __future__ import annotations

from orchestrator.store.tables.access import ApiToken, BootstrapClaim, JobSecret, UiSigninCode
from orchestrator.store.tables.alerts import Alert, AlertDelivery
from orchestrator.store.tables.base import Base, BigIntPK, Meta
from orchestrator.store.tables.jobs import Attempt, Instance, Job, JobEvent, LogChunk
from orchestrator.store.tables.placement import CachedOffer, PoolBlock, PriceSource, StoreRegion, TransferSample
from orchestrator.store.tables.spending import (
    EnergyEntry,
    IdleWarning,
    LedgerEntry,
    PolicyVersion,
    StopRequest,
    UtilSample,
)

__all__ = [
    "Alert", "AlertDelivery", "ApiToken", "Attempt", "Base", "BigIntPK", "BootstrapClaim", "CachedOffer",
    "EnergyEntry", "IdleWarning", "Instance", "Job", "JobEvent", "JobSecret", "LedgerEntry", "LogChunk", "Meta",
    "PolicyVersion", "PoolBlock", "PriceSource", "StopRequest", "StoreRegion", "TransferSample", "UiSigninCode",
    "UtilSample",
]
