"""The one GPU vocabulary: canonical model names, the spellings users and clouds write for them, and facts per model.

Why one table: placement matches a job to offers across clouds by the model name alone, so the spec validator, the
placement policy, the catalog import and every adapter must agree on it. Five tables drifted apart before (an
`A100_80GB` request matched nothing; GCP named `nvidia-tesla-t4` what AWS calls `T4`). Pure data and string
functions, no imports beyond the standard library: policies import it, and so does the CLI's light path.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

__all__ = ["GPUS", "GpuModel", "canonical_gpu", "gcp_accelerator_gpu", "gpu_memory_gb", "is_known_gpu",
           "known_gpu_names", "suggest_gpus"]


@dataclass(frozen=True, slots=True)
class GpuModel:
    """One GPU product as a user asks for it. `memory_gb` is per GPU (the catalog import's default when a file does
    not say); `gcp_accelerator` is GCE's accelerator type for it, where Spotwise offers it on GCP."""

    name: str
    memory_gb: float
    vendor: str = "NVIDIA"
    aliases: tuple[str, ...] = ()
    gcp_accelerator: str = ""


GPUS: tuple[GpuModel, ...] = (
    GpuModel("K80", 12, aliases=("TESLA-K80",), gcp_accelerator="nvidia-tesla-k80"),
    GpuModel("M60", 8, aliases=("TESLA-M60",)),
    GpuModel("P4", 8, aliases=("TESLA-P4",), gcp_accelerator="nvidia-tesla-p4"),
    GpuModel("P40", 24, aliases=("TESLA-P40",)),
    GpuModel("P100", 16, aliases=("TESLA-P100",), gcp_accelerator="nvidia-tesla-p100"),
    GpuModel("V100", 16, aliases=("V100-16GB", "V100-16G", "TESLA-V100", "V100-SXM2-16GB"),
             gcp_accelerator="nvidia-tesla-v100"),
    GpuModel("V100-32GB", 32, aliases=("V100-32G", "V100-SXM2-32GB", "TESLA-V100-32GB")),
    GpuModel("T4", 16, aliases=("TESLA-T4",), gcp_accelerator="nvidia-tesla-t4"),
    GpuModel("T4G", 16),
    GpuModel("A10", 24),
    GpuModel("A10G", 24, aliases=("A10G-24GB",)),
    GpuModel("A40", 48),
    GpuModel("L4", 24, gcp_accelerator="nvidia-l4"),
    GpuModel("L40", 48),
    GpuModel("L40S", 48),
    GpuModel("A100", 40, aliases=("A100-40GB", "A100-40G", "A100-SXM4-40GB", "TESLA-A100"),
             gcp_accelerator="nvidia-tesla-a100"),
    GpuModel("A100-80GB", 80, aliases=("A100-80G", "A100-SXM4-80GB", "A100-80"), gcp_accelerator="nvidia-a100-80gb"),
    GpuModel("H100", 80, aliases=("H100-80GB", "H100-SXM", "H100-SXM5", "H100-SXM5-80GB"),
             gcp_accelerator="nvidia-h100-80gb"),
    GpuModel("H100-MEGA", 80, aliases=("H100-MEGA-80GB",)),
    GpuModel("H200", 141, aliases=("H200-141GB",)),
    GpuModel("B200", 180),
    GpuModel("RTX-PRO-6000", 96, aliases=("RTX-PRO-SERVER-6000",)),
    GpuModel("V520", 8, vendor="AMD", aliases=("RADEON-PRO-V520",)),
    GpuModel("MI25", 16, vendor="AMD", aliases=("RADEON-INSTINCT-MI25",)),
    GpuModel("MI300X", 192, vendor="AMD", aliases=("INSTINCT-MI300X",)),
    GpuModel("GAUDI-HL-205", 32, vendor="Habana", aliases=("GAUDI",)),
)

# Vendor words clouds put in front of a model ("nvidia-tesla-t4", "NVIDIA A100", "AMD MI300X"); tried off in turn.
_PREFIXES = ("NVIDIA-", "AMD-", "TESLA-")
# Families named by a pattern, not one by one: GCP's TPU slices (tpu-v4-8, tpu-v5p-1024, ...).
_FAMILY_PREFIXES = ("TPU-",)

_BY_NAME: dict[str, GpuModel] = {m.name: m for m in GPUS}
_LOOKUP: dict[str, str] = {**{a: m.name for m in GPUS for a in m.aliases}, **{m.name: m.name for m in GPUS}}
_MEMO: dict[str, str] = {}
_MEMO_LIMIT = 4096  # names from user input could grow the memo without end


def _key(name: str) -> str:
    """The spelling-free form: upper case, '_' and spaces as '-', no doubled dashes."""
    key = name.strip().upper().replace("_", "-").replace(" ", "-")
    while "--" in key:
        key = key.replace("--", "-")
    return key


def _resolve(name: str) -> str:
    key = _key(name)
    found = _LOOKUP.get(key)
    stripped = key
    while found is None:
        prefix = next((p for p in _PREFIXES if stripped.startswith(p)), None)
        if prefix is None:
            break
        stripped = stripped[len(prefix):]
        found = _LOOKUP.get(stripped)
    return found or key


def canonical_gpu(name: str) -> str:
    """The canonical model for any spelling ('a100', 'A100_80GB', 'nvidia-tesla-t4' -> 'A100', 'A100-80GB', 'T4').

    A name not in the table comes back in the same normal form (upper case, dashes), so two spellings of an unknown
    model still match each other. Called per offer by placement: memoised."""
    found = _MEMO.get(name)
    if found is None:
        found = _resolve(name)
        if len(_MEMO) < _MEMO_LIMIT:
            _MEMO[name] = found
    return found


def is_known_gpu(name: str) -> bool:
    """True for a model in the table (any spelling) or of a family named by pattern (TPU slices)."""
    canonical = canonical_gpu(name)
    return canonical in _BY_NAME or canonical.startswith(_FAMILY_PREFIXES)


def known_gpu_names() -> list[str]:
    """Every canonical model name, in the table's order (oldest generation first)."""
    return [m.name for m in GPUS]


def suggest_gpus(name: str, extra: tuple[str, ...] | list[str] = (), limit: int = 3) -> list[str]:
    """Canonical names closest to a misspelt `name` ('A1OO' -> ['A100', ...]); `extra`: other names worth
    suggesting (models the daemon's offers carry that the table lacks)."""
    key = _key(name)
    spellings = {**_LOOKUP, **{_key(e): canonical_gpu(e) for e in extra}}
    # A letter typed for a digit ('A1OO', 'HI00') is the commonest slip, and difflib ranks it below shorter names.
    for confused in (key.replace("O", "0"), key.replace("I", "1"), key.replace("O", "0").replace("I", "1")):
        if confused != key and confused in spellings:
            return [spellings[confused]]
    close = difflib.get_close_matches(key, list(spellings), n=limit * 3, cutoff=0.6)
    out: list[str] = []
    for spelling in close:
        canonical = spellings[spelling]
        if canonical not in out:
            out.append(canonical)
    return out[:limit]


def gpu_memory_gb(model: str) -> float:
    """Per-GPU memory of a model (0.0 when unknown)."""
    found = _BY_NAME.get(canonical_gpu(model))
    return float(found.memory_gb) if found else 0.0


def gcp_accelerator_gpu() -> dict[str, str]:
    """GCE accelerator type -> canonical model, for the models Spotwise offers on GCP."""
    return {m.gcp_accelerator: m.name for m in GPUS if m.gcp_accelerator}
