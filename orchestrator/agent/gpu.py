"""GPU readings through NVML (nvidia-ml-py), when the instance has NVIDIA GPUs.

Returns None when NVML is missing (no driver, no GPU, or the package is not installed), so the
agent works the same on a laptop. Utilisation is NVML's "percent of time a kernel was running"
over the driver's sample period; power is the board draw in watts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuSample:
    index: int
    name: str
    utilization_percent: float
    memory_used_mib: float
    memory_total_mib: float
    power_watts: float | None
    power_limit_watts: float | None


class NvmlReader:
    """Opens NVML once; `sample()` reads every GPU. Use `NvmlReader.open()` to get None without NVML."""

    def __init__(self, nvml: object) -> None:
        self._nvml = nvml

    @classmethod
    def open(cls) -> NvmlReader | None:
        try:
            import pynvml  # provided by nvidia-ml-py
        except ImportError:
            return None
        try:
            pynvml.nvmlInit()
        except Exception:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...: no usable GPU here
            return None
        return cls(pynvml)

    def close(self) -> None:
        self._nvml.nvmlShutdown()  # type: ignore[attr-defined]

    def sample(self) -> list[GpuSample]:
        nv = self._nvml
        samples = []
        for index in range(nv.nvmlDeviceGetCount()):  # type: ignore[attr-defined]
            handle = nv.nvmlDeviceGetHandleByIndex(index)  # type: ignore[attr-defined]
            name = nv.nvmlDeviceGetName(handle)  # type: ignore[attr-defined]
            util = nv.nvmlDeviceGetUtilizationRates(handle)  # type: ignore[attr-defined]
            mem = nv.nvmlDeviceGetMemoryInfo(handle)  # type: ignore[attr-defined]
            samples.append(GpuSample(
                index=index, name=name.decode() if isinstance(name, bytes) else str(name),
                utilization_percent=float(util.gpu), memory_used_mib=mem.used / 2**20,
                memory_total_mib=mem.total / 2**20,
                power_watts=_optional(nv.nvmlDeviceGetPowerUsage, handle),  # type: ignore[attr-defined]
                power_limit_watts=_optional(nv.nvmlDeviceGetEnforcedPowerLimit, handle),  # type: ignore[attr-defined]
            ))
        return samples


def _optional(read: object, handle: object) -> float | None:
    """NVML milliwatts as watts, or None where the board does not report it."""
    try:
        return float(read(handle)) / 1000.0  # type: ignore[operator]
    except Exception:  # not supported on this board: leave it out rather than fail the sample
        return None


def total_power_watts(samples: list[GpuSample]) -> float | None:
    """Board power of all GPUs together, or None unless every GPU reported it (then the daemon estimates)."""
    if not samples or any(s.power_watts is None for s in samples):
        return None
    return sum(s.power_watts or 0.0 for s in samples)


def mean_utilization(samples: list[GpuSample]) -> float | None:
    if not samples:
        return None
    return sum(s.utilization_percent for s in samples) / len(samples)
