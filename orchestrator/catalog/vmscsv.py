"""Read offline price lists in SkyPilot's `vms.csv` format into Offers (`source="catalog"`).

Three variants exist and each has a trap:
- GCP lists GPUs as their own rows (empty InstanceType, per zone) and host VMs without their
  GPUs; a GPU offer costs the host row plus the accelerator row in the same zone, in the same
  market, as on the real bill. Accelerator-optimised hosts (a2/a3/a4/g2) are fixed per GPU count;
  attachable GPUs (T4, V100, P100, P4) go on `n1-standard-<8 x count>`, named like the GCP
  adapter names such pools (`n1-standard-8+nvidia-tesla-t4:1`). TPU rows are priced as they are.
- Azure's `Generation` column holds an unquoted `V1,V2`, so rows have a variable field count:
  the first nine fields are read by position and the rest is the generation.
- AWS rows are complete offers with a quoted GpuInfo dict and zone ids; the cloud's plugin may leave out rows its
  provider would not launch (`catalog_row_filter`: AWS's fractional, AMD and arm64 types).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from providers.base import Offer
from providers.gpus import canonical_gpu, gcp_accelerator_gpu, gpu_memory_gb
from providers.plugin import RowFilter, plugin, plugins


def catalog_clouds() -> tuple[str, ...]:
    """The clouds whose plugin declares a vms.csv variant (providers/plugin.py: `vms_csv`), in registry order."""
    return tuple(p.name for p in plugins() if p.vms_csv)


def _variant(cloud: str) -> str:
    return next((p.vms_csv for p in plugins() if p.name == cloud and p.vms_csv), "generic")


def _row_filter(cloud: str) -> RowFilter | None:
    """The cloud's own rule for GPU rows its provider would not launch (providers/plugin.py: catalog_row_filter)."""
    found = plugin(cloud)
    return found.catalog_row_filter if found is not None else None

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
    gpu: acc for acc, gpu in gcp_accelerator_gpu().items() if gpu in ("T4", "V100", "P100", "P4", "K80")}
N1_VCPUS_PER_GPU = 8

_MIB = re.compile(r"'SizeInMiB':\s*(\d+)")


class CatalogFormatError(ValueError):
    """The file is not a vms.csv of the named cloud; the message says what was expected."""


MAX_GPU_COUNT = 1024  # no machine carries more; a larger count is a corrupt row, not an offer
SHOWN_PROBLEMS = 5  # rows named in an error message; the rest are counted


def _num(text: str | None) -> float | None:
    """A non-negative finite number, else None: `inf` or `nan` must never become a price or a count."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _count(text: str) -> int | None:
    """A GPU count: empty is 0; a fraction, a negative or an absurd count is None (the row is skipped)."""
    if not text.strip():
        return 0
    value = _num(text)
    if value is None or value != int(value) or value > MAX_GPU_COUNT:
        return None
    return int(value)


def _gpu_memory(model: str, gpu_info: str, count: int) -> float:
    """Per-GPU memory: from the file's GpuInfo when present, else the table."""
    match = _MIB.search(gpu_info or "")
    if match:
        return round(float(match.group(1)) / 1024, 1)  # the first SizeInMiB is per GPU
    return gpu_memory_gb(model)  # the shared table's default per-GPU memory


class _Builder:
    """Makes Offers with shared (interned) strings: 100k offers repeat a few hundred names."""

    def __init__(self, cloud: str, fetched_at: datetime) -> None:
        self.cloud = cloud
        self.fetched_at = fetched_at
        self.strings: dict[str, str] = {}
        self.problems: list[tuple[int, str]] = []  # (line, why) of each row that gave no offer

    def s(self, text: str) -> str:
        return self.strings.setdefault(text, text)

    def skip(self, line: int, why: str) -> None:
        """Remember a row that gave no offer, so a file where every row fails can say why."""
        self.problems.append((line, why))

    def priced(self, line: int, price: float | None, spot: float | None, raw: tuple[str, str]) -> bool:
        """True when the row has a usable price; otherwise the row is recorded as skipped."""
        if price is None and spot is None:
            self.skip(line, f"no valid Price or SpotPrice ({raw[0]!r}, {raw[1]!r})")
            return False
        return True

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


Rows = Iterator[tuple[int, list[str]]]  # (line number in the file, fields)


def _short(row: list[str], need: int, line: int, b: _Builder) -> bool:
    """True (and recorded) when the row has fewer fields than the columns read from it."""
    if len(row) >= need:
        return False
    b.skip(line, f"{len(row)} field(s), expected at least {need}")
    return True


def _require(header: list[str], needed: Iterable[str], cloud: str) -> dict[str, int]:
    index = {name.strip(): i for i, name in enumerate(header)}
    missing = [n for n in needed if n not in index]
    if missing:
        raise CatalogFormatError(f"not a {cloud} vms.csv: missing column(s) {', '.join(missing)}; "
                                 f"found {', '.join(header)}")
    return index


GCP_COLUMNS = ("InstanceType", "vCPUs", "MemoryGiB", "AcceleratorName", "AcceleratorCount", "GpuInfo", "Region",
               "AvailabilityZone", "Price", "SpotPrice")


def _gcp(header: list[str], rows: Rows, b: _Builder) -> Iterator[Offer]:
    col = _require(header, GCP_COLUMNS, b.cloud)
    need = max(col[n] for n in GCP_COLUMNS) + 1
    hosts: dict[tuple[str, str], tuple[float, float, float | None, float | None]] = {}
    gpus: list[tuple[int, str, int, str, str, str, float | None, float | None]] = []
    for line, row in rows:
        if not row or _short(row, need, line, b):
            continue
        machine, zone, region = row[col["InstanceType"]], row[col["AvailabilityZone"]], row[col["Region"]]
        raw = (row[col["Price"]], row[col["SpotPrice"]])
        price, spot = _num(raw[0]), _num(raw[1])
        if machine:
            vcpus, memory = _num(row[col["vCPUs"]]) or 0.0, _num(row[col["MemoryGiB"]]) or 0.0
            hosts[(machine, zone)] = (vcpus, memory, price, spot)
            if machine.split("-", 1)[0] in GCP_GPU_FAMILIES:
                continue  # GPUs built in: only sold with them, offered below with the GPU row added
            if b.priced(line, price, spot, raw):
                yield from b.offers(region=region, zone=zone, instance_type=machine, gpu_model="", gpu_count=0,
                                    gpu_memory_gb=0.0, vcpus=vcpus, memory_gb=memory, price=price, spot_price=spot)
        elif row[col["AcceleratorName"]]:
            count = _count(row[col["AcceleratorCount"]])
            if count is None:
                b.skip(line, f"AcceleratorCount {row[col['AcceleratorCount']]!r} is not a whole number "
                             f"from 0 to {MAX_GPU_COUNT}")
            elif b.priced(line, price, spot, raw):
                gpus.append((line, row[col["AcceleratorName"]], count or 1, region, zone, row[col["GpuInfo"]],
                             price, spot))
        else:
            b.skip(line, "neither InstanceType nor AcceleratorName is set")
    yield from _gcp_gpu_offers(gpus, hosts, b)


def _gcp_gpu_offers(gpus: list[tuple[int, str, int, str, str, str, float | None, float | None]],
                    hosts: dict[tuple[str, str], tuple[float, float, float | None, float | None]],
                    b: _Builder) -> Iterator[Offer]:
    """GCP GPU rows priced with their host VM in the same zone (the host rows are all read first)."""
    for line, name, count, region, zone, info, price, spot in gpus:
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
        if host is None:  # no host VM sold in that zone: the GPU alone cannot be bought
            b.skip(line, f"no host VM {host_type} in zone {zone!r} for {name}:{count}" if host_type
                   else f"no known host VM for {name}:{count}")
            continue
        vcpus, memory, host_price, host_spot = host
        yield from b.offers(
            region=region, zone=zone, instance_type=instance_type, gpu_model=model, gpu_count=count,
            gpu_memory_gb=_gpu_memory(model, info, count), vcpus=vcpus, memory_gb=memory,
            price=None if price is None or host_price is None else round(price + host_price, 6),
            spot_price=None if spot is None or host_spot is None else round(spot + host_spot, 6))


def _azure(header: list[str], rows: Rows, b: _Builder) -> Iterator[Offer]:
    # Positional: InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,...
    if [h.strip() for h in header[:9]] != ["InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs",
                                           "MemoryGiB", "GpuInfo", "Price", "SpotPrice", "Region"]:
        raise CatalogFormatError("not an azure vms.csv: expected columns InstanceType, AcceleratorName, "
                                 "AcceleratorCount, vCPUs, MemoryGiB, GpuInfo, Price, SpotPrice, Region, Generation")
    for line, row in rows:
        if not row or _short(row, 9, line, b):
            continue
        price, spot = _num(row[6]), _num(row[7])
        if not b.priced(line, price, spot, (row[6], row[7])):
            continue
        name, acc, acc_count = row[0], row[1], _num(row[2]) or 0.0
        whole = 1 <= acc_count <= MAX_GPU_COUNT and acc_count == int(acc_count)  # fractional GPUs: a plain VM
        model = canonical_gpu(acc) if acc and whole else ""
        count = int(acc_count) if model else 0
        yield from b.offers(region=row[8], zone=row[8], instance_type=name, gpu_model=model, gpu_count=count,
                            gpu_memory_gb=_gpu_memory(model, "", count) if model else 0.0,
                            vcpus=_num(row[3]) or 0.0, memory_gb=_num(row[4]) or 0.0, price=price, spot_price=spot)


def _generic(header: list[str], rows: Rows, b: _Builder) -> Iterator[Offer]:
    col = _require(header, ("InstanceType", "vCPUs", "MemoryGiB", "Price", "SpotPrice", "Region"), b.cloud)
    for line, row in rows:
        if not row or _short(row, len(col), line, b):
            continue
        def get(name: str, row: list[str] = row) -> str:
            return row[col[name]] if name in col and col[name] < len(row) else ""

        price, spot = _num(get("Price")), _num(get("SpotPrice"))
        count = _count(get("AcceleratorCount"))
        if count is None:
            b.skip(line, f"AcceleratorCount {get('AcceleratorCount')!r} is not a whole number "
                         f"from 0 to {MAX_GPU_COUNT}")
            continue
        if not b.priced(line, price, spot, (get("Price"), get("SpotPrice"))):
            continue
        acc = get("AcceleratorName")
        model = canonical_gpu(acc) if acc and count else ""
        info = get("GpuInfo")
        row_filter = _row_filter(b.cloud)
        why = row_filter(info, get("Arch")) if row_filter is not None and model else None
        if why:
            b.skip(line, f"{get('InstanceType')}: {why}")
            continue
        yield from b.offers(region=get("Region"), zone=get("AvailabilityZone") or get("Region"),
                            instance_type=get("InstanceType"), gpu_model=model, gpu_count=count if model else 0,
                            gpu_memory_gb=_gpu_memory(model, info, count) if model else 0.0,
                            vcpus=_num(get("vCPUs")) or 0.0, memory_gb=_num(get("MemoryGiB")) or 0.0,
                            price=price, spot_price=spot)


def read_vms_csv(text: str, cloud: str,
                 fetched_at: datetime | None = None) -> tuple[list[Offer], list[tuple[int, str]]]:
    """Every offer in a vms.csv text of `cloud`, and (line, why) for each row that gave none.

    Only the clouds SkyPilot publishes vms.csv files for are accepted: offers stored under any other
    name (`ibm`, `local`) would match no provider and only confuse `spotwise offers`.
    """
    clouds = catalog_clouds()
    if cloud not in clouds:
        raise CatalogFormatError(f"unknown cloud {cloud!r}; catalogs can be imported for: {', '.join(clouds)}")
    builder = _Builder(cloud, fetched_at or datetime.now(UTC))
    reader = csv.reader(io.StringIO(text))
    parser = {"gcp": _gcp, "azure": _azure}.get(_variant(cloud), _generic)
    try:
        header = next(reader, None)
        if header is None:
            raise CatalogFormatError(f"the {cloud} catalog file is empty")
        offers = list(parser(header, ((reader.line_num, row) for row in reader), builder))
    except csv.Error as exc:
        raise CatalogFormatError(f"line {reader.line_num}: not valid CSV: {exc}") from None
    return offers, builder.problems


def parse_vms_csv(text: str, cloud: str, fetched_at: datetime | None = None) -> list[Offer]:
    """Every offer in a vms.csv text of `cloud` (gcp, azure, aws); rows that give none are skipped."""
    return read_vms_csv(text, cloud, fetched_at)[0]


def describe_problems(problems: list[tuple[int, str]]) -> str:
    """The first few skipped rows, for an error message ("line 2: 3 field(s), ...; (and 7 more)")."""
    shown = "; ".join(f"line {line}: {why}" for line, why in problems[:SHOWN_PROBLEMS])
    more = len(problems) - SHOWN_PROBLEMS
    return shown + (f"; and {more} more row(s)" if more > 0 else "")


def gcp_accelerators(text: str) -> list[str]:
    """Accelerator names in a GCP vms.csv (for tests and the offers view)."""
    names = {row[3] for row in csv.reader(io.StringIO(text)) if len(row) > 3 and not row[0] and row[3]}
    names.discard("AcceleratorName")
    return sorted(names)

