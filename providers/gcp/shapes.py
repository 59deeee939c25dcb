"""Machine shapes Spotwise offers on GCP and the GPU names they carry.

Two kinds of shape exist. Accelerator-optimised machine types (a2, a3, g2) come with their GPUs
built in: the machine type alone names the pool. N1 machine types take GPUs attached at launch,
so the same `n1-standard-8` can carry a T4 or a V100; its pool name must say which:
`n1-standard-8+nvidia-tesla-t4:1`. `InstanceInfo.instance_type` is rebuilt in the same format
from a running instance, so a launched instance always matches its offer.
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.gpus import gcp_accelerator_gpu, gpu_memory_gb

# GCE accelerator type -> canonical Spotwise GPU name (upper case, as in Offer.gpu_model): the shared table's.
ACCELERATOR_GPU: dict[str, str] = gcp_accelerator_gpu()
GPU_ACCELERATOR: dict[str, str] = {gpu: acc for acc, gpu in ACCELERATOR_GPU.items()}
GPU_MEMORY_GB: dict[str, float] = {gpu: gpu_memory_gb(gpu) for gpu in GPU_ACCELERATOR}
# Families whose machine types carry their GPUs; their `accelerators` field names them.
ACCELERATOR_OPTIMISED = ("a2", "a3", "g2")
# GPUs that attach to N1 hosts, and the host each GPU count gets: 8 vCPUs per GPU stays inside
# every attached GPU's vCPU limit (a single V100 allows at most 12).
N1_ATTACHABLE = ("T4", "V100", "P100", "P4")
N1_VCPUS_PER_GPU = 8
N1_GPU_COUNTS = (1, 2, 4, 8)


@dataclass(frozen=True, slots=True)
class Shape:
    """One offerable machine: a machine type plus the GPUs it has (built in or attached)."""

    machine_type: str
    vcpus: float
    memory_gb: float
    gpu_model: str
    gpu_count: int
    attached_accelerator: str = ""  # N1 only: the accelerator type attached at launch

    @property
    def family(self) -> str:
        return family_of(self.machine_type)

    @property
    def instance_type(self) -> str:
        return instance_type_name(self.machine_type, self.attached_accelerator, self.gpu_count)


def family_of(machine_type: str) -> str:
    return machine_type.split("-", 1)[0]


def instance_type_name(machine_type: str, attached_accelerator: str, count: int) -> str:
    if not attached_accelerator or family_of(machine_type) in ACCELERATOR_OPTIMISED:
        return machine_type
    return f"{machine_type}+{attached_accelerator}:{count}"


def parse_instance_type(instance_type: str) -> tuple[str, str, int]:
    """`n1-standard-8+nvidia-tesla-t4:1` -> ("n1-standard-8", "nvidia-tesla-t4", 1); plain types get ("", 0)."""
    machine, _, attached = instance_type.partition("+")
    if not attached:
        return machine, "", 0
    accelerator, _, count = attached.rpartition(":")
    return machine, accelerator, int(count)


def n1_host(gpu_count: int) -> str:
    return f"n1-standard-{N1_VCPUS_PER_GPU * gpu_count}"


def region_of(zone: str) -> str:
    return zone.rsplit("-", 1)[0]


def tail(url: str) -> str:
    """Last path segment of a GCE resource URL (`.../zones/us-central1-a` -> `us-central1-a`)."""
    return url.rstrip("/").rsplit("/", 1)[-1]
