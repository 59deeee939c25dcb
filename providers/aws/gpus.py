"""AWS GpuInfo -> Spotwise's canonical GPU model names ("A100-80GB", "H100", "L4" ...).

Why: placement matches jobs to offers across clouds by this one name, so every adapter must
agree. AWS names the chip ("A100") and gives memory separately; the 80 GB A100 is a different
product to a user, so memory decides the suffix.
"""

from __future__ import annotations

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
