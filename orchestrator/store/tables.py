"""The schema. Alembic migrations under `migrations/versions` create exactly this (a test compares)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from orchestrator.store.types import UTCDateTime

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Meta(Base):
    """Small key/value facts about this installation (cluster id, agent-token secret)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Job(Base):
    __tablename__ = "jobs"
    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)  # FIFO order
    id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    team: Mapped[str] = mapped_column(String(64), index=True)
    project: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(24))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=0)  # optimistic concurrency for transitions
    submitted_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deadline_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    attempts_count: Mapped[int] = mapped_column(Integer, default=0)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    not_before: Mapped[datetime | None]  # backoff: the queue skips the job until then
    __table_args__ = (Index("ix_jobs_queue", "state", "priority", "seq"),)


class Attempt(Base):
    """One try at running a job on one instance. Recorded BEFORE the launch call."""

    __tablename__ = "attempts"
    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(24), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(64))
    instance_type: Mapped[str] = mapped_column(String(64))
    spot: Mapped[bool] = mapped_column(Boolean)
    price_per_hour: Mapped[float] = mapped_column(Float)
    offer: Mapped[dict[str, Any]] = mapped_column(JSON)  # the full offer: adapters need GPU details
    created_at: Mapped[datetime]
    launched_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    last_heartbeat_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    exit_code: Mapped[int | None] = mapped_column(Integer)
    end_reason: Mapped[str] = mapped_column(Text, default="")
    launch_tries: Mapped[int] = mapped_column(Integer, default=0)
    nodes: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # gang size
    __table_args__ = (UniqueConstraint("job_id", "number"),)


class Instance(Base):
    __tablename__ = "instances"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id"), index=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    region: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(64))
    instance_type: Mapped[str] = mapped_column(String(64))
    spot: Mapped[bool] = mapped_column(Boolean)
    price_per_hour: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(24))
    launched_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(index=True)  # the ledger finds open/recent rows
    preempted: Mapped[bool] = mapped_column(Boolean, default=False)
    # gangs: the node's rank, the address its agent reported, its own heartbeat and exit code
    node: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    node_ip: Mapped[str | None] = mapped_column(String(64))
    last_heartbeat_at: Mapped[datetime | None]
    exit_code: Mapped[int | None] = mapped_column(Integer)
    # The cloud's own unique id of the machine, which its signed identity document names: the EC2 instance id,
    # GCE's numeric instance id, Azure's vmId. The bootstrap exchange checks the agent's proof against it.
    uid: Mapped[str | None] = mapped_column(String(128))


class JobEvent(Base):
    """Every state transition, with time and reason; also notable non-transition facts."""

    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[datetime]
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    attempt_id: Mapped[str | None] = mapped_column(String(48))
    kind: Mapped[str] = mapped_column(String(32), default="transition")
    reason: Mapped[str] = mapped_column(Text, default="")


class LogChunk(Base):
    """Job output as shipped by the agent; (attempt, stream, seq) makes re-sends idempotent."""

    __tablename__ = "log_chunks"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    attempt_id: Mapped[str] = mapped_column(String(48))
    stream: Mapped[str] = mapped_column(String(8))
    seq: Mapped[int] = mapped_column(Integer)
    data: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("attempt_id", "stream", "seq"),)


class ApiToken(Base):
    """API bearer tokens, stored as SHA-256 hashes. team=None with role admin sees everything."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[str] = mapped_column(String(16))  # admin | team
    team: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class UiSigninCode(Base):
    """One-time dashboard sign-in codes (`spotwise ui --open`), stored as SHA-256 hashes.

    Why a table and not memory: the one-use mark must survive a daemon restart (and be seen by every replica),
    or a code replayed after a restart would sign in a second time. `token_id` is the API token that asked
    for the code: redeeming it checks that token is still valid, so revoking a token also voids its codes.
    """

    __tablename__ = "ui_signin_codes"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[str] = mapped_column(String(24))
    role: Mapped[str] = mapped_column(String(16))  # admin | team, copied from the asking token
    team: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


# -- price catalog and placement blocks --------------------------------------------------------


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


# -- costs, policies and alerts ----------------------------------------------------------------


class LedgerEntry(Base):
    """Accrued cost of one instance over [start, end), whole seconds, never crossing a UTC midnight.

    (provider, instance_id, start) is unique: the next accrual starts where the last entry ended,
    so a restarted (or second) accruer can never count the same second twice.
    """

    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    instance_id: Mapped[str] = mapped_column(String(128))
    attempt_id: Mapped[str] = mapped_column(String(48))
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    team: Mapped[str] = mapped_column(String(64))
    project: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime]
    end: Mapped[datetime]
    price_per_hour: Mapped[float] = mapped_column(Float)
    cost_usd: Mapped[float] = mapped_column(Float)
    __table_args__ = (
        UniqueConstraint("provider", "instance_id", "start"),
        Index("ix_ledger_team_start", "team", "start"),
        Index("ix_ledger_start", "start"),
        Index("ix_ledger_instance_end", "provider", "instance_id", "end"),  # watermarks: max(end) per instance
    )


class PolicyVersion(Base):
    """Every applied policy file, verbatim; the highest version is in force."""

    __tablename__ = "policy_versions"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[datetime]
    applied_by: Mapped[str] = mapped_column(String(128), default="")


class Alert(Base):
    """The outbox: written in the same transaction as the change that caused the alert."""

    __tablename__ = "alerts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    team: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime]
    routed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class AlertDelivery(Base):
    """One alert to one sink: retried with backoff until delivered or out of tries."""

    __tablename__ = "alert_deliveries"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    sink: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None]
    __table_args__ = (UniqueConstraint("alert_id", "sink"), Index("ix_deliveries_due", "state", "next_try_at"))


class UtilSample(Base):
    """GPU utilisation and phase from an agent heartbeat: the idle policy's evidence."""

    __tablename__ = "util_samples"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    attempt_id: Mapped[str] = mapped_column(String(48))
    at: Mapped[datetime]
    phase: Mapped[str] = mapped_column(String(16))
    gpu_utilization: Mapped[float | None] = mapped_column(Float)
    checkpoint_uploading: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (Index("ix_util_attempt_at", "attempt_id", "at"),)


class IdleWarning(Base):
    """When the pre-shutdown alert went out for an idle instance; the grace period runs from here."""

    __tablename__ = "idle_warnings"
    attempt_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    warned_at: Mapped[datetime]


class StopRequest(Base):
    """A deliberate stop (budget `stop`, a runtime or cost cap) waiting for the job to checkpoint.

    The heartbeat answer for the attempt becomes `checkpoint_and_stop` until the agent reports its
    exit or `deadline` passes; then the stop is finished and the instance terminated.
    """

    __tablename__ = "stop_requests"
    attempt_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    cause: Mapped[str] = mapped_column(String(16))  # budget | cap
    name: Mapped[str] = mapped_column(String(64))  # the budget's name or the cap's field
    reason: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime]
    deadline: Mapped[datetime] = mapped_column(index=True)


# -- energy and carbon -------------------------------------------------------------------------


class EnergyEntry(Base):
    """Energy one attempt drew on one UTC day, integrated from its heartbeats' power readings.

    GPU energy is split into measured (NVML board power at both ends of the interval) and estimated
    (board power from `gpu_power.json` x utilisation); the host share is always estimated. The
    `last_*` columns are the latest sample: the next heartbeat integrates from there, so samples
    can be pruned (the idle sweep deletes old `util_samples`) without losing energy. Carbon is
    computed at read time from (cloud, region) and the facts table.
    """

    __tablename__ = "energy_entries"
    attempt_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # ISO date, UTC
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    team: Mapped[str] = mapped_column(String(64), index=True)
    project: Mapped[str | None] = mapped_column(String(64))
    cloud: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(64))
    gpu_measured_wh: Mapped[float] = mapped_column(Float, default=0.0)
    gpu_estimated_wh: Mapped[float] = mapped_column(Float, default=0.0)
    host_wh: Mapped[float] = mapped_column(Float, default=0.0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    last_at: Mapped[datetime]
    last_gpu_watts: Mapped[float] = mapped_column(Float)
    last_host_watts: Mapped[float] = mapped_column(Float)
    last_measured: Mapped[bool] = mapped_column(Boolean)


# -- job secrets -------------------------------------------------------------------------------


class JobSecret(Base):
    """A named secret for jobs (W&B or HF token), Fernet-encrypted; the key lives in a 0600 file in SPOTWISE_HOME.

    `scope` is a team name, or "*" for an admin-wide secret that every team's jobs may reference; a team's own
    secret of the same name wins. Only the agent of an attempt of that job ever receives the value.
    """

    __tablename__ = "job_secrets"
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


# -- data gravity: where stores are, how fast data moved ---------------------------------------


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


class BootstrapClaim(Base):
    """The one exchange of an attempt node's bootstrap token for its agent token (orchestrator/api/agent_exchange.py).

    The row is the once-only mark: its primary key makes a second exchange lose, on every replica and after a
    `kill -9`. Only hashes are kept: of the bootstrap token, and of the claim nonce the agent chose, which lets
    the same agent retry an exchange whose answer it lost and get its token again, while anyone else is refused.
    """

    __tablename__ = "bootstrap_claims"
    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id"), primary_key=True)
    node: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0 for a one-node attempt
    token_hash: Mapped[str] = mapped_column(String(64))
    claim_hash: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime]
    refused: Mapped[int] = mapped_column(Integer, default=0)  # later exchanges refused: a possible token theft
