"""The seam between Spotwise and a cloud: the Provider protocol and the plain data it speaks.

Every cloud adapter (aws, gcp, azure, local, third-party) implements `Provider`. Core code
(reconcile, placement) only ever sees these types, so a new cloud is one module plus its
error table and a green contract suite (`tests/contract/`). Adapters translate; they never
decide where to place work -- that is `policies/placement.py`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol, runtime_checkable

from providers.errors import (  # re-exported: callers import the whole seam from here
    AuthError,
    CapacityError,
    ErrorScope,
    InvalidRequest,
    NotSupported,
    PriceError,
    ProviderError,
    QuotaError,
    ThrottledError,
    TransientError,
)

__all__ = [
    "AgentBootstrap",
    "AuthError",
    "Capability",
    "CapacityError",
    "credentials_row",
    "preflight_spec",
    "ErrorScope",
    "Identity",
    "InstanceInfo",
    "InstanceState",
    "Interruption",
    "InvalidRequest",
    "LaunchSpec",
    "NotSupported",
    "Offer",
    "OfferQuery",
    "PREFLIGHT_KEY",
    "Preflight",
    "PreflightRow",
    "PriceError",
    "Provider",
    "ProviderError",
    "QuotaError",
    "SpotPrice",
    "SpotPriceSource",
    "TAG_ATTEMPT",
    "TAG_CLUSTER",
    "TAG_JOB",
    "ThrottledError",
    "TransientError",
    "managed_tags",
    "run_preflight",
]

# Every resource Spotwise creates carries these three tags (labels on GCP), so it can always
# be found again: by the reconcile loop, by the orphan sweep and by a human in the console.
TAG_CLUSTER = "spotwise-cluster"
TAG_JOB = "spotwise-job"
TAG_ATTEMPT = "spotwise-attempt"


class Capability(enum.StrEnum):
    """Optional features a provider may support; core code checks before relying on one."""

    SPOT = "spot"
    ON_DEMAND = "on_demand"
    STOP = "stop"
    INTERRUPTION_EVENTS = "interruption_events"
    PLACEMENT_SCORES = "placement_scores"
    PREEMPT_ON_REQUEST = "preempt_on_request"  # local provider: chaos testing


class InstanceState(enum.StrEnum):
    """Normalised lifecycle of an instance, whatever the cloud calls it."""

    PENDING = "pending"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    TERMINATED = "terminated"

    @property
    def is_gone(self) -> bool:
        return self in (InstanceState.TERMINATED, InstanceState.STOPPED)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the provider's credentials belong to (account, project or subscription)."""

    provider: str
    account: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class OfferQuery:
    """What the caller wants offers for. Filters are hints: an adapter may return more, never less.

    Placement applies the exact filters; the query only lets an adapter skip regions or types
    it need not ask the cloud about.
    """

    gpu_model: str | None = None
    gpu_count: int | None = None
    regions: tuple[str, ...] = ()
    spot: bool | None = None  # None = both markets


@dataclass(frozen=True, slots=True)
class Offer:
    """One purchasable pool: instance type x zone x market, with its price at `price_fetched_at`."""

    cloud: str
    region: str
    zone: str
    instance_type: str
    gpu_model: str  # canonical upper-case name, e.g. "A100", "A100-80GB", "H100", "L4"; "" = no GPU
    gpu_count: int
    vcpus: float
    memory_gb: float
    spot: bool
    price_per_hour: float  # USD for the whole instance in this market
    price_fetched_at: datetime
    gpu_memory_gb: float = 0.0
    on_demand_price: float | None = None  # for reference next to a spot price
    interruption_prior: float | None = None  # expected interruptions per hour, when known
    source: str = "live"  # "live" or "catalog" (an imported or built-in price list)

    @property
    def pool(self) -> tuple[str, str, str, str, bool]:
        """The key that capacity errors block: (cloud, region, zone, type, spot)."""
        return (self.cloud, self.region, self.zone, self.instance_type, self.spot)


@dataclass(frozen=True, slots=True)
class SpotPrice:
    """A fresh spot price for one pool the caller already knows (from `SpotPriceSource.spot_prices`)."""

    region: str
    zone: str
    instance_type: str
    price_per_hour: float
    fetched_at: datetime


@runtime_checkable
class SpotPriceSource(Protocol):
    """Optional, next to `Provider`: spot prices without the full listing.

    Why: spot prices move every few minutes, instance types and zones a few times a year, and the
    full `list_offers` asks the cloud for both (AWS: types, offerings, on-demand pricing and spot
    history). The daemon refreshes prices often through this call and types rarely through
    `list_offers`; a provider without it gets a full listing for its price refresh instead.
    """

    def spot_prices(self, pools: Sequence[Offer]) -> list[SpotPrice]:
        """Current spot prices of `pools` (spot offers from an earlier `list_offers`), priced alone.

        Never adds pools: a pool the cloud no longer prices is left out (its last price stands).
        Raises ProviderError when the price source cannot be read, rather than answering with
        fallback prices, so the caller keeps the last good live prices and counts the failure.
        """
        ...


@dataclass(frozen=True, slots=True)
class AgentBootstrap:
    """What an instance needs to find and authenticate to the daemon.

    Adapters render it into user data / a startup script with the shared generator. `token` is the
    attempt's once-only *bootstrap* token, never its agent token: cloud metadata is readable by anyone
    with DescribeInstanceAttribute / instances.get and by every process on the VM, so the agent trades it
    (once, with the instance's identity proof, within a short TTL) for the agent token. It is derived
    deterministically from the attempt, so re-issuing a launch after a crash produces byte-identical user
    data (clouds reject an idempotency key reused with different parameters).
    """

    api_url: str
    attempt_id: str
    token: str
    # The exact agent wheel the daemon serves (name + sha256 pinned in the script), pip extras, supervisor
    wheel_name: str = ""
    wheel_sha256: str = ""
    pip_args: str = ""
    max_restarts: int = 5


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """Everything an adapter needs for one launch. `idempotency_key` makes a repeat a no-op."""

    idempotency_key: str
    cluster_id: str
    job_id: str
    attempt_id: str
    offer: Offer
    bootstrap: AgentBootstrap
    max_price_per_hour: float | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)
    team: str = "default"  # the job's team: the local provider runs each team's jobs as its own user
    team_job: bool = False  # submitted with a team token (not an admin's): a provider that cannot isolate refuses
    disk_gb: int | None = None  # the job's boot disk size per node (GB); None: the adapter's configured default

    @property
    def tags(self) -> dict[str, str]:
        return {**self.extra_tags, **managed_tags(self.cluster_id, self.job_id, self.attempt_id)}


def managed_tags(cluster_id: str, job_id: str, attempt_id: str) -> dict[str, str]:
    """The three tags every created resource carries."""
    return {TAG_CLUSTER: cluster_id, TAG_JOB: job_id, TAG_ATTEMPT: attempt_id}


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """An instance as the provider sees it now, in normalised form."""

    id: str
    provider: str
    region: str
    zone: str
    instance_type: str
    spot: bool
    state: InstanceState
    price_per_hour: float
    launched_at: datetime | None
    tags: dict[str, str] = field(default_factory=dict)
    preempted: bool = False  # the cloud reclaimed it (not a user or Spotwise terminate)
    state_reason: str = ""  # the cloud's raw reason code, for events and logs
    # The id the cloud's instance identity document names (EC2 instance id, GCE numeric id, Azure vmId): the
    # daemon records it at launch and checks the agent's identity proof against it in the bootstrap exchange.
    uid: str = ""

    @property
    def attempt_id(self) -> str | None:
        return self.tags.get(TAG_ATTEMPT)


@dataclass(frozen=True, slots=True)
class Interruption:
    """A notice seen from outside the instance (EventBridge/SQS, GCE operations, local notice)."""

    instance_id: str
    kind: str  # "preemption" | "rebalance"
    noticed_at: datetime
    deadline: datetime | None = None


@runtime_checkable
class Provider(Protocol):
    """A cloud adapter. Synchronous: all cloud SDKs here are; fan out per region in a thread pool.

    Errors: every method raises only `providers.errors.ProviderError` subclasses for cloud-side
    failures, classified once at the boundary by the adapter's error table. Transient and
    throttling errors are retried inside the adapter and surface only when retries run out.
    """

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]

    def check_credentials(self) -> Identity:
        """Cheap probe of the credentials. Raises AuthError when they do not work."""
        ...

    def list_offers(self, query: OfferQuery) -> list[Offer]:
        """Pools with live prices (or catalog prices marked `source="catalog"`)."""
        ...

    def launch(self, spec: LaunchSpec) -> InstanceInfo:
        """Create one instance for `spec.offer`, tagged with `spec.tags` on every resource.

        Idempotent on `spec.idempotency_key`: calling again with the same key (after a crash, a
        timeout, or from another replica) returns the same instance and never creates a second.
        Raises CapacityError / QuotaError / PriceError / InvalidRequest / AuthError.
        """
        ...

    def describe(self, ids: Sequence[str]) -> list[InstanceInfo]:
        """Current state of the given instances. Ids the cloud no longer knows are returned as
        TERMINATED when the adapter can tell, or omitted; never an error."""
        ...

    def list_managed(self, cluster_id: str) -> list[InstanceInfo]:
        """Every live (non-terminated) instance carrying `spotwise-cluster=cluster_id`, plus any tagged leftovers
        of a gone instance that still cost money or block a name (e.g. Azure NICs and disks kept after an
        eviction), reported as TERMINATED under the instance's id so the orphan sweep's `terminate` removes them.

        The reconcile loop's view of reality and the orphan sweep's source. Must page through
        the cloud's listing (cost grows with N / page size, not N).
        """
        ...

    def terminate(self, ids: Sequence[str]) -> None:
        """Terminate instances and the resources created with them. Idempotent: unknown or
        already-terminated ids are not errors."""
        ...

    def interruption_events(self) -> list[Interruption]:
        """Drain out-of-VM preemption notices. Providers without them return []."""
        ...


@dataclass(frozen=True, slots=True)
class PreflightRow:
    """One answer of a launch preflight: does this piece of a launch work, and if not, the fix in one line.

    `region` is where the check ran: a region, a zone (for per-zone network and dry-run checks) or "-" for the
    provider as a whole. `detail` says what was found when the check passed; `fix` is what to change when not.
    """

    check: str  # "credentials", "image", "network", "quota", "dry-run launch", "ssh key", "public_url", ...
    provider: str
    region: str
    ok: bool
    detail: str = ""
    fix: str = ""

    @property
    def result(self) -> str:
        return "ok" if self.ok else self.fix


@runtime_checkable
class Preflight(Protocol):
    """Optional, next to `Provider`: will a launch work, asked before the first job pays for a failed one.

    Why a provider method: only providers talk to clouds, and only the adapter knows which resources its own
    launch request references (image, network, quota). Each check reads a resource or asks the cloud for a launch
    that costs nothing (AWS `DryRun`); none creates anything. `cloud_calls=False` keeps to the configuration
    (what `spotwise serve` checks at start without waiting for a cloud). `api_url` is the daemon's public URL,
    the one an instance would be given.
    """

    def preflight(self, api_url: str, *, cloud_calls: bool = True) -> list[PreflightRow]:
        """The rows of every check, passing and failing; raises nothing for a failing check."""
        ...


def run_preflight(provider: Provider, api_url: str, *, cloud_calls: bool = True) -> list[PreflightRow]:
    """`provider.preflight(...)` where it has one; else the credential probe alone (all a provider without a
    launch preflight can be asked). A classified error escaping a preflight becomes one failing row."""
    try:
        if isinstance(provider, Preflight):
            return provider.preflight(api_url, cloud_calls=cloud_calls)
        return [credentials_row(provider)] if cloud_calls else []
    except ProviderError as exc:
        return [PreflightRow("preflight", provider.name, "-", False, fix=f"{type(exc).__name__}: {exc}")]


def credentials_row(provider: Provider, region: str = "-") -> PreflightRow:
    """The credential probe as a row: who the credentials are, or why they do not work."""
    try:
        who = provider.check_credentials()
    except ProviderError as exc:
        return PreflightRow("credentials", provider.name, region, False,
                            fix=f"credentials do not work ({type(exc).__name__}: {exc}); fix the login the "
                                "daemon uses (see docs/clouds/)")
    return PreflightRow("credentials", provider.name, region, True, detail=" ".join(
        part for part in (who.account, who.detail) if part))


PREFLIGHT_KEY = "spotwise-preflight"


def preflight_spec(offer: Offer, api_url: str) -> LaunchSpec:
    """The LaunchSpec a preflight builds its no-cost launch request from: a real offer, the daemon's URL, fixed
    names (never a job's), so the request is the adapter's own launch request for that pool."""
    return LaunchSpec(idempotency_key=PREFLIGHT_KEY, cluster_id=PREFLIGHT_KEY, job_id=PREFLIGHT_KEY,
                      attempt_id=PREFLIGHT_KEY, offer=offer,
                      bootstrap=AgentBootstrap(api_url=api_url, attempt_id=PREFLIGHT_KEY, token="preflight"))
