"""Read offline price lists in SkyPilot's `vms.csv` format into Offers (`source="catalog"`).

Three variants exist and each has a trap:
- GCP lists GPUs as their own rows (empty InstanceType, per zone) and host VMs without their
  GPUs; a GPU offer costs the host row plus the accelerator row in the same zone, in the same
  market, as on the real bill. Accelerator-optimised hosts (a2/a3/a4/g2) are fixed per GPU count;
  attachable GPUs (T4, V100, P100, P4) go on `n1-standard-<8 x count>`, named like the GCP
  adapter names such pools (`n1-standard-8+nvidia-tesla-t4:1`). TPU rows are priced as they are.
- Azure's `Generation` column holds an unquoted `V1,V2`, so rows have a variable field count:
  the first nine fields are read by position and the rest is the generation.
- AWS rows are complete offers with a quoted GpuInfo dict and zone ids.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from policies.placement import canonical_gpu
from providers.base import Offer

CLOUDS = ("gcp", "azure", "aws")

# Per-GPU memory (GB) when the file does not say.
GPU_MEMORY_GB: dict[str, float] = {
    "A100": 40, "A100-80GB": 80, "H100": 80, "H100-MEGA": 80, "H200": 141, "B200": 180, "L4": 24, "T4": 16,
    "V100": 16, "V100-32GB": 32, "P100": 16, "P4": 8, "K80": 12, "A10": 24, "A10G": 24, "M60": 8, "MI25": 16,
    "MI300X": 192, "P40": 24, "L40S": 48,
}

# GCP: (GPU, count) -> the machine type that carries exactly those GPUs.
GCP_BUILTIN_HOSTS: dict[tuple[str, int], str] = {
    **{("A100", n): f"a2-highgpu-{n}g" for n in (1, 2, 4, 8)}, ("A100", 16): "a2-megagpu-16g",
    **{("A100-80GB", n): f"a2-ultragpu-{n}g" for n in (1, 2, 4, 8)},
    **{("H100", n): f"a3-highgpu-{n}g" for n in (1, 2, 4, 8)},
    ("H100-MEGA", 8): "a3-megagpu-8g", ("H200", 8): "a3-ultragpu-8g", ("B200", 8): "a4-highgpu-8g",
    ("L4", 1): "g2-standard-4", ("L4", 2): "g2-standard-24", ("L4", 4): "g2-standard-48", ("L4", 8): "g2-standard-96",
}
GCP_GPU_FAMILIES = frozenset({"a2", "a3", "a4", "g2"})
# GCP GPUs attached to N1 hosts, with the accelerator type the GCE API calls them.
GCP_N1_ACCELERATORS: dict[str, str] = {
    "T4": "nvidia-tesla-t4", "V100": "nvidia-tesla-v100", "P100": "nvidia-tesla-p100", "P4": "nvidia-tesla-p4",
    "K80": "nvidia-tesla-k80",
}
N1_VCPUS_PER_GPU = 8

_MIB = re.compile(r"'SizeInMiB':\s*(\d+)")


class CatalogFormatError(ValueError):
    """The file is not a vms.csv of the named cloud; the message says what was expected."""


def _num(text: str | None) -> float | None:
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def _gpu_memory(model: str, gpu_info: str, count: int) -> float:
    """Per-GPU memory: from the file's GpuInfo when present, else the table."""
    match = _MIB.search(gpu_info or "")
    if match:
        return round(float(match.group(1)) / 1024, 1)  # the first SizeInMiB is per GPU
    return GPU_MEMORY_GB.get(model, 0.0)


class _Builder:
    """Makes Offers with shared (interned) strings: 100k offers repeat a few hundred names."""

    def __init__(self, cloud: str, fetched_at: datetime) -> None:
        self.cloud = cloud
        self.fetched_at = fetched_at
        self.strings: dict[str, str] = {}

    def s(self, text: str) -> str:
        return self.strings.setdefault(text, text)

    def offers(self, *, region: str, zone: str, instance_type: str, gpu_model: str, gpu_count: int,
               gpu_memory_gb: float, vcpus: float, memory_gb: float, price: float | None,
               spot_price: float | None) -> Iterator[Offer]:
        common = dict(cloud=self.cloud, region=self.s(region), zone=self.s(zone),
                      instance_type=self.s(instance_type), gpu_model=self.s(gpu_model), gpu_count=gpu_count,
                      gpu_memory_gb=gpu_memory_gb, vcpus=vcpus, memory_gb=memory_gb,
                      price_fetched_at=self.fetched_at, on_demand_price=price, source="catalog")
        if price is not None:
            yield Offer(spot=False, price_per_hour=price, **common)  # type: ignore[arg-type]
        if spot_price is not None:
            yield Offer(spot=True, price_per_hour=spot_price, **common)  # type: ignore[arg-type]


def _require(header: list[str], needed: Iterable[str], cloud: str) -> dict[str, int]:
    index = {name.strip(): i for i, name in enumerate(header)}
    missing = [n for n in needed if n not in index]
    if missing:
        raise CatalogFormatError(f"not a {cloud} vms.csv: missing column(s) {', '.join(missing)}; "
                                 f"found {', '.join(header)}")
    return index


def _gcp(header: list[str], rows: Iterator[list[str]], b: _Builder) -> Iterator[Offer]:
    col = _require(header, ("InstanceType", "vCPUs", "MemoryGiB", "AcceleratorName", "AcceleratorCount",
                                "GpuInfo", "Region", "AvailabilityZone", "Price", "SpotPrice"), "gcp")
    hosts: dict[tuple[str, str], tuple[float, float, float | None, float | None]] = {}
    gpus: list[tuple[str, int, str, str, str, float | None, float | None]] = []
    for row in rows:
        if not row:
            continue
        machine, zone, region = row[col["InstanceType"]], row[col["AvailabilityZone"]], row[col["Region"]]
        price, spot = _num(row[col["Price"]]), _num(row[col["SpotPrice"]])
        if machine:
            vcpus, memory = _num(row[col["vCPUs"]]) or 0.0, _num(row[col["MemoryGiB"]]) or 0.0
            hosts[(machine, zone)] = (vcpus, memory, price, spot)
            if machine.split("-", 1)[0] in GCP_GPU_FAMILIES:
                continue  # GPUs built in: only sold with them, offered below with the GPU row added
            yield from b.offers(region=region, zone=zone, instance_type=machine, gpu_model="", gpu_count=0,
                                gpu_memory_gb=0.0, vcpus=vcpus, memory_gb=memory, price=price, spot_price=spot)
        elif row[col["AcceleratorName"]]:
            count = int(_num(row[col["AcceleratorCount"]]) or 1)
            gpus.append((row[col["AcceleratorName"]], count, region, zone, row[col["GpuInfo"]], price, spot))
    for name, count, region, zone, info, price, spot in gpus:
        model = canonical_gpu(name)
        if name.lower().startswith("tpu-"):  # a TPU VM: the row is the whole price
            yield from b.offers(region=region, zone=zone, instance_type=name, gpu_model=model, gpu_count=count,
                                gpu_memory_gb=0.0, vcpus=0.0, memory_gb=0.0, price=price, spot_price=spot)
            continue
        host_type = GCP_BUILTIN_HOSTS.get((model, count), "")
        instance_type = host_type
        if not host_type and model in GCP_N1_ACCELERATORS:
            host_type = f"n1-standard-{N1_VCPUS_PER_GPU * count}"
            instance_type = f"{host_type}+{GCP_N1_ACCELERATORS[model]}:{count}"
        host = hosts.get((host_type, zone)) if host_type else None
        if host is None:
            continue  # no host VM sold in that zone: the GPU alone cannot be bought
        vcpus, memory, host_price, host_spot = host
        yield from b.offers(
            region=region, zone=zone, instance_type=instance_type, gpu_model=model, gpu_count=count,
            gpu_memory_gb=_gpu_memory(model, info, count), vcpus=vcpus, memory_gb=memory,
            price=None if price is None or host_price is None else round(price + host_price, 6),
            spot_price=None if spot is None or host_spot is None else round(spot + host_spot, 6))


def _azure(header: list[str], rows: Iterator[list[str]], b: _Builder) -> Iterator[Offer]:
    # Positional: InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,...
    if [h.strip() for h in header[:9]] != ["InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs",
                                           "MemoryGiB", "GpuInfo", "Price", "SpotPrice", "Region"]:
        raise CatalogFormatError("not an azure vms.csv: expected columns InstanceType, AcceleratorName, "
                                 "AcceleratorCount, vCPUs, MemoryGiB, GpuInfo, Price, SpotPrice, Region, Generation")
    for row in rows:
        if len(row) < 9:
            continue
        name, acc, acc_count = row[0], row[1], _num(row[2]) or 0.0
        whole = acc_count >= 1 and acc_count == int(acc_count)
        model = canonical_gpu(acc) if acc and whole else ""
        count = int(acc_count) if model else 0
        yield from b.offers(region=row[8], zone=row[8], instance_type=name, gpu_model=model, gpu_count=count,
                            gpu_memory_gb=_gpu_memory(model, "", count) if model else 0.0,
                            vcpus=_num(row[3]) or 0.0, memory_gb=_num(row[4]) or 0.0,
                            price=_num(row[6]), spot_price=_num(row[7]))


def _generic(header: list[str], rows: Iterator[list[str]], b: _Builder) -> Iterator[Offer]:
    col = _require(header, ("InstanceType", "vCPUs", "MemoryGiB", "Price", "SpotPrice", "Region"), b.cloud)
    for row in rows:
        if len(row) < len(col):
            continue
        def get(name: str, row: list[str] = row) -> str:
            return row[col[name]] if name in col else ""

        acc, count = get("AcceleratorName"), int(_num(get("AcceleratorCount")) or 0)
        model = canonical_gpu(acc) if acc and count else ""
        info = get("GpuInfo")
        yield from b.offers(region=get("Region"), zone=get("AvailabilityZone") or get("Region"),
                            instance_type=get("InstanceType"), gpu_model=model, gpu_count=count if model else 0,
                            gpu_memory_gb=_gpu_memory(model, info, count) if model else 0.0,
                            vcpus=_num(get("vCPUs")) or 0.0, memory_gb=_num(get("MemoryGiB")) or 0.0,
                            price=_num(get("Price")), spot_price=_num(get("SpotPrice")))


def parse_vms_csv(text: str, cloud: str, fetched_at: datetime | None = None) -> list[Offer]:
    """Every offer in a vms.csv text of `cloud` (gcp, azure, aws; any other cloud reads like aws)."""
    builder = _Builder(cloud, fetched_at or datetime.now(UTC))
    rows = csv.reader(io.StringIO(text))
    if cloud == "gcp":
        parser = _gcp
    elif cloud == "azure":
        parser = _azure
    else:
        parser = _generic
    header = next(rows, None)
    if header is None:
        raise CatalogFormatError(f"the {cloud} catalog file is empty")
    return list(parser(header, rows, builder))


def gcp_accelerators(text: str) -> list[str]:
    """Accelerator names in a GCP vms.csv (for tests and the offers view)."""
    names = {row[3] for row in csv.reader(io.StringIO(text)) if len(row) > 3 and not row[0] and row[3]}
    names.discard("AcceleratorName")
    return sorted(names)

