"""What each SkyPilot field becomes in the Spotwise job spec (docs/skypilot.md's table), field by field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.agent.container import container_env
from orchestrator.agent.gang import gang_env
from orchestrator.jobs.specfile import SpecError
from orchestrator.skypilot import detect_format, load_job_file
from orchestrator.skypilot.detect import skypilot_spec
from orchestrator.skypilot.task import to_job_spec


def _map(text: str, cwd: Path = Path("/tmp")) -> dict[str, Any]:
    spec, problems = to_job_spec(yaml.safe_load(text), name="t", cwd=cwd)
    assert not problems, problems
    return spec


def _problems(text: str, cwd: Path = Path("/tmp")) -> list[str]:
    return to_job_spec(yaml.safe_load(text), name="t", cwd=cwd)[1]


@pytest.mark.parametrize("written,first,more,order", [
    ("A100:8", "A100:8", None, None),
    ("A100", "A100:1", None, None),
    ("{A100: 8}", "A100:8", None, None),
    ("{A100-80GB:8, H100:8}", "A100-80GB:8", ["H100:8"], None),
    ("[L4:1, A10G:1, T4:1]", "L4:1", ["A10G:1", "T4:1"], "listed"),
    ("{V100: 1}", "V100:1", None, None),
    ("a100-80gb:4", "A100-80GB:4", None, None),  # SkyPilot's names in Spotwise's one vocabulary
])
def test_accelerator_forms(written: str, first: str, more: list[str] | None, order: str | None) -> None:
    res = _map(f"resources:\n  accelerators: {written}\nrun: x\n")["resources"]
    assert res["accelerators"] == first
    assert res.get("accelerator_candidates") == more and res.get("candidate_order") == order


def test_any_of_and_ordered_become_candidates() -> None:
    res = _map("resources:\n  use_spot: true\n  any_of:\n    - accelerators: A100:8\n    - accelerators: H100:8\n"
               "run: x\n")["resources"]
    assert (res["accelerators"], res["accelerator_candidates"], res["spot"]) == ("A100:8", ["H100:8"], True)
    assert "candidate_order" not in res
    res = _map("resources:\n  ordered:\n    - accelerators: H100:8\n    - accelerators: A100:8\nrun: x\n")["resources"]
    assert (res["accelerators"], res["candidate_order"]) == ("H100:8", "listed")


def test_any_of_places_become_the_union_and_an_unlimited_one_lifts_the_limit() -> None:
    res = _map("resources:\n  accelerators: A100:8\n  any_of:\n    - infra: aws/us-east-1\n"
               "    - infra: gcp/us-central1\nrun: x\n")["resources"]
    assert (res["clouds"], res["regions"]) == (["aws", "gcp"], ["us-east-1", "us-central1"])
    res = _map("resources:\n  accelerators: A100:8\n  any_of:\n    - infra: aws/us-east-1\n    - infra: gcp\n"
               "run: x\n")["resources"]
    assert res["clouds"] == ["aws", "gcp"] and "regions" not in res


def test_a_candidate_that_differs_in_another_field_is_refused_by_name() -> None:
    [problem] = _problems("resources:\n  any_of:\n    - accelerators: A100:8\n      use_spot: true\n"
                          "    - accelerators: H100:8\nrun: x\n")
    assert problem.startswith("resources.any_of[0].use_spot: Spotwise candidates differ only in accelerators")


@pytest.mark.parametrize("infra,place", [
    ("aws", {"clouds": ["aws"]}),
    ("aws/us-east-1", {"clouds": ["aws"], "regions": ["us-east-1"]}),
    ("gcp/us-central1/us-central1-a", {"clouds": ["gcp"], "regions": ["us-central1"], "zones": ["us-central1-a"]}),
    ("'*/us-east-1'", {"regions": ["us-east-1"]}),
])
def test_infra(infra: str, place: dict[str, list[str]]) -> None:
    res = _map(f"resources:\n  infra: {infra}\nrun: x\n")["resources"]
    assert {k: res[k] for k in ("clouds", "regions", "zones") if k in res} == place


def test_amounts_market_price_and_image() -> None:
    spec = _map("num_nodes: 4\nresources:\n  cpus: 4+\n  memory: 32\n  max_hourly_cost: 2.5\n  disk_size: 512\n"
                "  image_id: docker:nvcr.io/nvidia/pytorch:24.01-py3\nrun: x\n")
    res = spec["resources"]
    assert (res["cpus"], res["memory_gb"], res["num_nodes"], res["disk_gb"]) == (4.0, 32.0, 4, 512)
    assert res["max_price_per_hour"] == 10.0  # SkyPilot's is per instance, Spotwise's for all 4 nodes
    assert res["spot"] is False  # SkyPilot's default market is on-demand
    assert spec["image"] == "docker:nvcr.io/nvidia/pytorch:24.01-py3"


def test_job_recovery() -> None:
    spec = _map("resources:\n  job_recovery:\n    strategy: FAILOVER\n    max_restarts_on_errors: 2\nrun: x\n")
    assert spec["max_restarts"] == 2 and spec["restart_exit_codes"] == list(range(1, 256))
    plain = _map("resources:\n  job_recovery: EAGER_NEXT_REGION\nrun: x\n")
    assert "max_restarts" not in plain and "restart_exit_codes" not in plain  # a failed run is not restarted
    [problem] = _problems("resources:\n  job_recovery:\n    recover_on_exit_codes: [33]\nrun: x\n")
    assert problem.startswith("resources.job_recovery.recover_on_exit_codes: not supported")


def test_envs_secrets_commands() -> None:
    spec = _map("envs:\n  N: 3\n  FLAG: true\n  S: text\nsecrets:\n  HF_TOKEN: null\nsetup: pip install x\n"
                "run: python t.py\n")
    assert spec["env"] == {"N": "3", "FLAG": "True", "S": "text"}
    assert spec["secrets"] == ["HF_TOKEN"] and spec["setup"] == "pip install x" and spec["run"] == "python t.py"


def test_inputs_become_spotwise_inputs_priced_by_placement() -> None:
    spec = _map("inputs:\n  s3://data/imagenet: 150\nrun: x\n")
    assert spec["inputs"] == {"s3://data/imagenet": "150GB"}  # SkyPilot's unit is GB
    assert detect_format({"name": "n", "run": "x", "inputs": {"s3://d/x": 1}}) == "spotwise"  # both formats have it


def test_workdir_and_local_mounts_are_relative_to_where_the_command_runs(tmp_path: Path) -> None:
    (tmp_path / "proj" / "data").mkdir(parents=True)
    (tmp_path / "proj" / "data" / "a.txt").write_text("a")
    spec = _map("workdir: proj\nenvs:\n  SPLIT: data\nfile_mounts:\n  /mnt/${SPLIT}: proj/${SPLIT}\n"
                "  /mnt/one.txt: proj/data/a.txt\n  /mnt/bucket: s3://b/${SPLIT}\nsetup: echo hi\nrun: x\n",
                cwd=tmp_path)
    assert spec["workdir"] == str(tmp_path / "proj")
    assert spec["file_mounts"] == {"/mnt/bucket": "s3://b/data"}  # a bucket: Spotwise's own copy
    assert spec["setup"].splitlines() == ["mkdir -p /mnt/data && cp -a data/. /mnt/data/ || exit $?",
                                          "mkdir -p /mnt && cp -a data/a.txt /mnt/one.txt || exit $?", "echo hi"]


def test_detection_and_the_format_option(tmp_path: Path) -> None:
    assert detect_format({"name": "n", "run": "x", "resources": {"use_spot": True}}) == "skypilot"
    assert detect_format({"name": "n", "run": "x", "resources": {"spot": True}}) == "spotwise"
    assert detect_format({"name": "n", "run": "x"}) == "spotwise"  # the same either way
    with pytest.raises(SpecError, match="mixes SkyPilot fields .*resources.use_spot.* and Spotwise fields"):
        detect_format({"name": "n", "run": "x", "resources": {"use_spot": True, "spot": True}})
    task = tmp_path / "t.yaml"
    task.write_text("name: n\nenvs: {A: b}\nrun: echo\n")
    assert load_job_file(task).env == {"A": "b"}
    with pytest.raises(SpecError, match="unknown field 'envs'"):  # read as a Spotwise spec when told so
        load_job_file(task, "spotwise")
    with pytest.raises(SpecError, match="--format 'sky'"):
        load_job_file(task, "sky")


def test_every_problem_at_once_and_then_spotwise_own_checks() -> None:
    with pytest.raises(SpecError) as refused:
        skypilot_spec({"resources": {"disk_tier": "best", "ports": 80}, "service": {}}, "t.yaml", name="t",
                      cwd=Path("/"))
    fields = {p.removeprefix("SkyPilot task: ").split(":")[0] for p in refused.value.problems}
    assert fields == {"service", "run", "resources.disk_tier", "resources.ports"}
    with pytest.raises(SpecError, match="32 GPUs per node is more than any instance has"):
        skypilot_spec({"resources": {"accelerators": {"A100": 32}}, "run": "x"}, "t.yaml", name="t", cwd=Path("/"))


def test_skypilot_variables_beside_spotwise_own() -> None:
    env = gang_env(1, ["10.0.0.1", "10.0.0.2"])
    assert env["SKYPILOT_NODE_RANK"] == "1" and env["SKYPILOT_NUM_NODES"] == "2"
    ips = "10.0.0.1\n10.0.0.2"
    assert env["SKYPILOT_NODE_IPS"] == ips == env["SPOTWISE_NODE_IPS"] == env["SKYPILOT_SETUP_NODE_IPS"]
    assert env["SKYPILOT_SETUP_NODE_RANK"] == "1"
    _, names = container_env({**env, "SKYPILOT_TASK_ID": "j", "HOME": "/root"}, None, "run", "/ckpt", [])
    assert {"SKYPILOT_NODE_RANK", "SKYPILOT_NODE_IPS", "SKYPILOT_NUM_NODES", "SKYPILOT_TASK_ID"} <= set(names)
    assert "HOME" not in names
