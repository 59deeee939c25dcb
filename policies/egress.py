"""What moving data costs and how long it takes: list egress prices per cloud, and a conservative throughput model.

Pure data (no I/O), versioned: `TABLE_VERSION` changes whenever a figure does, and every figure carries the URL it
was read from and the date ("list price as of"). Why list prices: they are what an account pays without a
negotiated discount; an operator with one overrides them in the settings (`transfer.egress_usd_per_gb`).

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

TABLE_VERSION = "2026-12-01"
AS_OF = "list price as of 2026-12-01"

MoveKind = Literal["same_region", "cross_region", "internet"]
MOVE_KINDS: tuple[MoveKind, ...] = ("same_region", "cross_region", "internet")

_AWS_EC2 = "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer"
_AWS_S3 = "https://aws.amazon.com/s3/pricing/ (Data Transfer tab)"
_GCP_STORAGE = "https://cloud.google.com/storage/pricing#network-egress"
_GCP_VPC = "https://cloud.google.com/vpc/network-pricing#internet_egress"
_AZURE = "https://azure.microsoft.com/en-us/pricing/details/bandwidth/"


@dataclass(frozen=True, slots=True)
class Figure:
    """One number of the table with where it comes from."""

    value: float
    source: str
    as_of: str = AS_OF
    note: str = ""


#: USD per GB leaving a bucket of `cloud`, per move kind.
EGRESS_USD_PER_GB: Mapping[str, Mapping[MoveKind, Figure]] = {
    "aws": {
        "same_region": Figure(0.0, _AWS_S3, note="S3 to any AWS service in the bucket's region is free"),
        "cross_region": Figure(0.02, _AWS_EC2, note="to another AWS region (US and EU regions)"),
        "internet": Figure(0.09, _AWS_EC2, note="to the internet, first 10 TB/month"),
    },
    "gcp": {
        "same_region": Figure(0.0, _GCP_STORAGE, note="within one region is free"),
        "cross_region": Figure(0.02, _GCP_STORAGE, note="between regions within North America or Europe"),
        "internet": Figure(0.12, _GCP_VPC, note="premium tier to the internet, first 1 TB/month"),
    },
    "azure": {
        "same_region": Figure(0.0, _AZURE, note="within one region is free"),
        "cross_region": Figure(0.02, _AZURE, note="inter-region within North America or Europe"),
        "internet": Figure(0.087, _AZURE, note="Microsoft premium network to the internet, 100 GB-10 TB/month"),
    },
    "local": {  # the local provider's file:// store: a disk on this machine
        "same_region": Figure(0.0, "local disk: no cloud bills it"),
        "cross_region": Figure(0.0, "local disk: no cloud bills it"),
        "internet": Figure(0.0, "local disk: no cloud bills it"),
    },
}

#: Where a cloud is not in the table (a plugin provider): the dearest internet figure, so it is never flattered.
UNKNOWN_CLOUD_EGRESS = Figure(0.12, _GCP_VPC, note="the table's highest internet figure, for a cloud it lacks")

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

    An unknown source region within the same cloud counts as `cross_region` (the conservative guess); the local
    provider's disk is `same_region` for a local instance."""
    src_cloud, dst_cloud = src_cloud.lower(), dst_cloud.lower()
    if src_cloud != dst_cloud:
        return "internet"
    if src_cloud == "local" or (src_region is not None and src_region.lower() == dst_region.lower()):
        return "same_region"
    return "cross_region"


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
        table = EGRESS_USD_PER_GB.get(src_cloud.lower())
        return (table[kind] if table else (UNKNOWN_CLOUD_EGRESS if kind == "internet" else
                                           EGRESS_USD_PER_GB["aws"][kind])).value

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
