"""What moving data costs and how long it takes: list egress prices per cloud, and a conservative throughput model.

Each cloud declares its own egress prices in its plugin (`CloudPlugin.egress`, e.g. providers/aws/__init__.py);
this module classifies a move and prices it from those tables with no I/O of its own. Every figure carries the URL
it was read from and the date ("list price as of"); `TABLE_VERSION` dates the built-in clouds' tables. Why list
prices: they are what an account pays without a negotiated discount; an operator with one overrides them in the
settings (`transfer.egress_usd_per_gb`).

A move is classified by where the data sits (the bucket's cloud and region) and where it must go (the offer's):
- `same_region`: same cloud, same region. Object storage to an instance in its own region is free on all three.
- `cross_region`: same cloud, another region (the inter-region rate of the source cloud; the North America /
  Europe figure: intercontinental moves cost more, so this under-counts those, never the common case).
- `internet`: another cloud (or an unknown place): the source cloud's internet egress, first pricing tier.
The source cloud bills the egress: data leaves the bucket's cloud.

Throughput (MB/s, 1 MB = 10^6 bytes) is deliberately conservative -- one copy tool on one instance, not a tuned
parallel transfer -- so transfer minutes are never promised shorter than they turn out. The daemon replaces a
default by the rate it measured itself once it has `learn_after_samples` restores/uploads on that path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from providers import plugin as cloud_plugins
from providers.plugin import Figure

TABLE_VERSION = "2026-12-01"
AS_OF = "list price as of 2026-12-01"

MoveKind = Literal["same_region", "cross_region", "internet"]
MOVE_KINDS: tuple[MoveKind, ...] = ("same_region", "cross_region", "internet")

_TABLES = "the clouds' own egress tables (declared by each cloud plugin: providers/plugin.py `egress`)"


def egress_table() -> Mapping[str, Mapping[MoveKind, Figure]]:
    """USD per GB leaving a bucket of each cloud, per move kind: what every cloud plugin declares
    (`CloudPlugin.egress`; its package's files, nothing on the network)."""
    return {cloud: {k: f for k, f in figures.items() if k in MOVE_KINDS}  # type: ignore[misc]
            for cloud, figures in cloud_plugins.egress_prices().items()}


#: Where a cloud declares no figure for a move (a plugin without an egress table): the dearest internet figure of
#: the built-in clouds, so it is never flattered, and the figures every built-in cloud shares within one cloud.
UNKNOWN_CLOUD_EGRESS: Mapping[MoveKind, Figure] = {
    "same_region": Figure(0.0, _TABLES, AS_OF, note="within one region: free on every built-in cloud"),
    "cross_region": Figure(0.02, _TABLES, AS_OF, note="another region of the cloud, as every built-in cloud bills it"),
    "internet": Figure(0.12, _TABLES, AS_OF, note="the highest internet figure of the built-in clouds"),
}

_S3_PERF = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html"
_EC2_NET = "https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html#ac_network"
#: Conservative MB/s of one transfer per move kind (not a tuned multi-stream copy).
THROUGHPUT_MB_S: Mapping[MoveKind, Figure] = {
    "same_region": Figure(250.0, _S3_PERF, as_of="guideline as of 2026-12-01",
                          note="a few parallel S3 GETs (~85-90 MB/s each per the guideline) on a 10+ Gbit/s NIC"),
    "cross_region": Figure(100.0, _S3_PERF, as_of="guideline as of 2026-12-01",
                           note="one stream's worth across regions; latency caps it"),
    "internet": Figure(100.0, _EC2_NET, as_of="guideline as of 2026-12-01",
                       note="cross-cloud over the internet: 100 MB/s, well under a GPU instance's NIC"),
}


def move_kind(src_cloud: str, src_region: str | None, dst_cloud: str, dst_region: str) -> MoveKind:
    """How data at (src_cloud, src_region) reaches an instance at (dst_cloud, dst_region).

    An unknown source region within the same cloud counts as `cross_region` (the conservative guess); a cloud whose
    buckets all sit in one fixed place (its plugin's `bucket_region` is a region, as the local provider's disk) is
    `same_region` for each of its instances."""
    src_cloud, dst_cloud = src_cloud.lower(), dst_cloud.lower()
    if src_cloud != dst_cloud:
        return "internet"
    if src_region is not None and src_region.lower() == dst_region.lower():
        return "same_region"
    found = cloud_plugins.plugin(src_cloud)
    return "same_region" if found is not None and isinstance(found.bucket_region, str) else "cross_region"


@dataclass(frozen=True, slots=True)
class TransferRates:
    """Egress prices and throughputs in force: the table, with an operator's overrides on top.

    `egress`: cloud -> kind -> USD/GB overrides (negotiated prices); `throughput`: kind -> MB/s overrides;
    `instance_mb_s`: instance type -> its network bandwidth in MB/s, which caps any path (a small instance's NIC
    can be slower than the default rate); `learned`: (src cloud, src region, dst cloud, dst region) -> MB/s
    measured by this daemon (only paths with enough samples; see orchestrator/provisioning/transfers.py)."""

    egress: Mapping[str, Mapping[MoveKind, float]] | None = None
    throughput: Mapping[MoveKind, float] | None = None
    instance_mb_s: Mapping[str, float] | None = None
    learned: Mapping[tuple[str, str, str, str], float] | None = None

    def egress_usd_per_gb(self, src_cloud: str, kind: MoveKind) -> float:
        own = (self.egress or {}).get(src_cloud.lower(), {})
        if kind in own:
            return float(own[kind])
        declared = cloud_plugins.egress_prices().get(src_cloud.lower(), {})
        return (declared.get(kind) or UNKNOWN_CLOUD_EGRESS[kind]).value

    def mb_per_second(self, src_cloud: str, src_region: str | None, dst_cloud: str, dst_region: str,
                      instance_type: str = "") -> tuple[float, str]:
        """(MB/s, where the figure comes from: "measured", "configured" or "default")."""
        key = (src_cloud.lower(), (src_region or "").lower(), dst_cloud.lower(), dst_region.lower())
        measured = (self.learned or {}).get(key)
        if measured is not None and measured > 0:
            return measured, "measured"
        kind = move_kind(src_cloud, src_region, dst_cloud, dst_region)
        configured = (self.throughput or {}).get(kind)
        rate, origin = (float(configured), "configured") if configured else (THROUGHPUT_MB_S[kind].value, "default")
        nic = (self.instance_mb_s or {}).get(instance_type)
        if nic is not None and 0 < nic < rate:
            return float(nic), f"{instance_type} network"
        return rate, origin
