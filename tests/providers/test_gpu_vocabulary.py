"""The one GPU vocabulary (providers/gpus.py): spellings users and clouds write become one canonical name, every
adapter and the catalog import name only models the table knows, and a misspelt model gets a useful suggestion."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from orchestrator.catalog.vmscsv import GCP_BUILTIN_HOSTS, GCP_N1_ACCELERATORS, read_vms_csv
from orchestrator.jobs.models import Accelerators
from policies.placement import PlacementRequest, rejection
from providers.aws.gpus import canonical_gpu as aws_canonical
from providers.azure.offers import GPU_FAMILIES
from providers.gcp.shapes import ACCELERATOR_GPU, GPU_MEMORY_GB, N1_ATTACHABLE
from providers.gpus import canonical_gpu, gpu_memory_gb, is_known_gpu, known_gpu_names, suggest_gpus
from tests.fakes.provider import make_offer

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "catalog"
LOCAL = Path(__file__).resolve().parents[2] / "providers" / "catalog" / "local.json"


@pytest.mark.parametrize(("written", "canonical"), [
    ("a100", "A100"), ("A100_80GB", "A100-80GB"), ("a100 80gb", "A100-80GB"), ("nvidia-tesla-t4", "T4"),
    ("NVIDIA A100", "A100"), ("nvidia-a100-80gb", "A100-80GB"), ("nvidia-h100-80gb", "H100"), ("h200", "H200"),
    ("l40s", "L40S"), ("Tesla V100", "V100"), ("v100_32gb", "V100-32GB"), ("a10g", "A10G"), ("AMD MI300X", "MI300X"),
    ("Radeon Pro V520", "V520"), ("tpu-v4-8", "TPU-V4-8"),
])
def test_common_spellings_become_the_canonical_name(written: str, canonical: str) -> None:
    assert canonical_gpu(written) == canonical
    assert is_known_gpu(written)


def test_a_spec_stores_the_canonical_name_and_placement_matches_it() -> None:
    assert str(Accelerators.parse("a100_80gb:8")) == "A100-80GB:8"
    assert str(Accelerators.parse("nvidia-tesla-t4")) == "T4:1"
    offer = make_offer("gcp", "us-central1-a", 0.3, gpu="T4")
    assert rejection(PlacementRequest(gpu_model="nvidia-tesla-t4", gpu_count=1), offer) is None
    assert rejection(PlacementRequest(gpu_model="A100_80GB", gpu_count=1), offer) is not None


def test_an_unknown_model_keeps_its_name_and_gets_the_closest_known_ones() -> None:
    assert not is_known_gpu("A1OO") and canonical_gpu("a1oo") == "A1OO"  # a stored spec still reads back
    assert suggest_gpus("A1OO") == ["A100"]  # letter O for zero: the exact model, not the nearest by spelling
    assert suggest_gpus("H1OO") == ["H100"]
    assert "L40S" in suggest_gpus("L40SS")
    assert suggest_gpus("RTX4090") == []  # nothing close: no made-up suggestion
    assert suggest_gpus("TRN1X", extra=["TRN1"]) == ["TRN1"]  # a model only a plugin's offers carry


def test_every_adapter_names_only_known_models() -> None:
    named = {*ACCELERATOR_GPU.values(), *N1_ATTACHABLE, *(model for _, model, _ in GPU_FAMILIES),
             *(gpu for gpu, _ in GCP_BUILTIN_HOSTS), *GCP_N1_ACCELERATORS}
    local = {t["gpu_model"] for t in json.loads(LOCAL.read_text())["types"] if t["gpu_model"]}
    aws = {aws_canonical(n, 16384) for n in ("A100", "H100", "H200", "L4", "L40S", "A10G", "T4", "T4g", "V100", "K80",
                                               "M60", "Radeon Pro V520", "RTX PRO Server 6000", "B200")}
    unknown = sorted(m for m in named | local | aws if m not in known_gpu_names())
    assert not unknown, unknown
    assert all(gpu_memory_gb(m) == GPU_MEMORY_GB[m] > 0 for m in GPU_MEMORY_GB)


@pytest.mark.skipif(not SHARED.exists(), reason="the shared catalogs are not on this machine")
@pytest.mark.parametrize("cloud", ["gcp", "azure"])
def test_the_real_catalogs_import_only_known_models(cloud: str) -> None:
    path = SHARED / cloud / "vms.csv"
    with path.open() as fh:
        names = {row["AcceleratorName"] for row in csv.DictReader(fh) if row.get("AcceleratorName")}
    assert all(is_known_gpu(n) for n in names), sorted(n for n in names if not is_known_gpu(n))
    offers, _ = read_vms_csv(path.read_text(), cloud)
    models = {o.gpu_model for o in offers if o.gpu_model}
    assert models and all(is_known_gpu(m) and canonical_gpu(m) == m for m in models)
