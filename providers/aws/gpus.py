"""AWS GpuInfo -> Spotwise's canonical GPU model names ("A100-80GB", "H100", "L4" ...).

Why: placement matches jobs to offers across clouds by this one name, so every adapter must
agree. AWS names the chip ("A100") and gives memory separately; the 80 GB A100 is a different
product to a user, so memory decides the suffix.
"""

from __future__ import annotations

import re
from typing import Any

from providers.gpus import canonical_gpu as canonical_model


def canonical_gpu(name: str, memory_mib: int) -> str:
    """The shared vocabulary's name ("Radeon Pro V520" -> "V520"), "-80GB" for the 80 GB A100 (the only AWS model
    sold in two sizes)."""
    model = canonical_model(name)
    if model == "A100" and memory_mib >= 70 * 1024:
        return "A100-80GB"
    return model


def gpu_summary(instance_type: dict[str, Any]) -> tuple[str, int, float]:
    """(canonical model, GPU count, GiB per GPU) from one describe_instance_types entry; ("", 0, 0) if none."""
    info = instance_type.get("GpuInfo") or {}
    gpus = info.get("Gpus") or []
    if not gpus:
        return "", 0, 0.0
    first = gpus[0]
    memory_mib = int(first.get("MemoryInfo", {}).get("SizeInMiB", 0))
    count = sum(int(g.get("Count", 0)) for g in gpus)
    return canonical_gpu(str(first.get("Name", "")), memory_mib), count, round(memory_mib / 1024, 1)


def launchable_architecture(instance_type: dict[str, Any], *, arm64: bool = False) -> str | None:
    """The CPU architecture to launch this GPU type with, or None when Spotwise cannot run a job on it.

    Offered: NVIDIA GPUs, whole ones, on x86_64 (the default image is the x86_64 NVIDIA Deep Learning AMI);
    arm64 NVIDIA types (g5g) only when `arm64` (an arm64 AMI is configured, `ami_arm64`). Left out:
    - fractional GPUs (g6f, gr6f: `GpuPartitionSize` below 1, a slice of an L4 that needs the GRID driver
      and holds a fraction of the memory): a job asking for an L4 would get an eighth of one;
    - AMD (g4ad, Radeon Pro V520) and other non-NVIDIA GPUs: no CUDA, the NVIDIA AMI does not drive them.
    """
    gpus = (instance_type.get("GpuInfo") or {}).get("Gpus") or []
    if not gpus:
        return None
    for gpu in gpus:
        if str(gpu.get("Manufacturer", "NVIDIA")).upper() != "NVIDIA":
            return None
        if int(gpu.get("Count", 0)) < 1 or float(gpu.get("GpuPartitionSize", 1.0) or 1.0) < 1.0:
            return None
    architectures = (instance_type.get("ProcessorInfo") or {}).get("SupportedArchitectures") or ["x86_64"]
    if "x86_64" in architectures:
        return "x86_64"
    if "arm64" in architectures and arm64:
        return "arm64"
    return None


_PARTITION = re.compile(r"'GpuPartitionSize':\s*([0-9.]+)")
_MAKER = re.compile(r"'Manufacturer':\s*'([^']*)'")


def catalog_unlaunchable(gpu_info: str, arch: str) -> str | None:
    """Why the AWS adapter would not launch this row's type, or None: it runs whole NVIDIA GPUs on x86_64
    (`gpu_summary` above), so fractional (g6f), AMD (g4ad) and arm64 (g5g) rows are not offers."""
    if arch and arch != "x86_64":
        return f"{arch} type (the default image is x86_64)"
    maker = _MAKER.search(gpu_info or "")
    if maker and maker.group(1).upper() != "NVIDIA":
        return f"{maker.group(1)} GPU (the default image drives NVIDIA GPUs)"
    part = _PARTITION.search(gpu_info or "")
    if part and float(part.group(1)) < 1:
        return f"a fraction ({part.group(1)}) of a GPU"
    return None
