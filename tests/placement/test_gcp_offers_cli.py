"""`spotwise catalog import` then `spotwise offers --gpu NAME:1 --cloud gcp --spot` for every accelerator
in the shared GCP catalog: the cheapest zone and price equal a direct computation from the CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from orchestrator.api import create_app
from orchestrator.cli import app as cli_app
from orchestrator.client import Client
from orchestrator.config import Settings
from orchestrator.runtime import build_runtime
from orchestrator.store.db import transaction
from orchestrator.tokens import create_api_token

GCP_CSV = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "catalog" / "gcp" / "vms.csv"
pytestmark = pytest.mark.skipif(not GCP_CSV.exists(), reason=f"shared GCP catalog not found at {GCP_CSV}")


def host_for(gpu: str, count: int) -> str | None:
    """The VM that carries `count` x `gpu` on GCP (written out independently of the importer)."""
    if gpu.startswith("tpu-"):
        return None
    fixed = {"A100": f"a2-highgpu-{count}g" if count < 16 else "a2-megagpu-16g",
             "A100-80GB": f"a2-ultragpu-{count}g", "H100": f"a3-highgpu-{count}g", "H100-MEGA": "a3-megagpu-8g",
             "H200": "a3-ultragpu-8g", "B200": "a4-highgpu-8g",
             "L4": {1: "g2-standard-4", 2: "g2-standard-24", 4: "g2-standard-48", 8: "g2-standard-96"}.get(count)}
    return fixed[gpu] if gpu in fixed else f"n1-standard-{8 * count}"


def cheapest_from_csv() -> dict[str, tuple[int, float, set[str]]]:
    """accelerator -> (count asked, cheapest spot $/h, the zones at that price)."""
    hosts: dict[tuple[str, str], float] = {}
    gpus: list[dict[str, str]] = []
    with GCP_CSV.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["InstanceType"]:
                if row["SpotPrice"]:
                    hosts[(row["InstanceType"], row["AvailabilityZone"])] = float(row["SpotPrice"])
            elif row["AcceleratorName"] and row["SpotPrice"]:
                gpus.append(row)
    counts: dict[str, set[int]] = {}
    for row in gpus:
        counts.setdefault(row["AcceleratorName"], set()).add(int(float(row["AcceleratorCount"])))
    result: dict[str, tuple[int, float, set[str]]] = {}
    for name, available in counts.items():
        count = 1 if 1 in available else min(available)
        prices: dict[str, float] = {}
        for row in gpus:
            if row["AcceleratorName"] != name or int(float(row["AcceleratorCount"])) != count:
                continue
            host = host_for(name, count)
            host_price = 0.0 if host is None else hosts.get((host, row["AvailabilityZone"]))
            if host_price is not None:
                prices[row["AvailabilityZone"]] = round(float(row["SpotPrice"]) + host_price, 6)
        if prices:
            best = min(prices.values())
            result[name] = (count, best, {z for z, p in prices.items() if abs(p - best) < 1e-9})
    return result


def _json(output: str) -> Any:
    """The JSON document in the output (in-process log lines may precede it)."""
    start = 0 if output.startswith("[") else output.index("\n[") + 1
    return json.loads(output[start:])


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    rt = build_runtime(Settings(home=tmp_path, providers={}), with_providers=False)
    with transaction(rt.sessions) as s:
        _, token = create_api_token(s, role="admin", team=None, name="test")
    http = TestClient(create_app(rt), headers={"Authorization": f"Bearer {token}"})

    def client(_settings: Settings) -> Client:
        return Client("http://testserver", token, transport=http)

    monkeypatch.setattr(Client, "from_settings", staticmethod(client))
    monkeypatch.setenv("SPOTWISE_HOME", str(tmp_path / "client"))
    monkeypatch.setenv("COLUMNS", "200")
    yield CliRunner()
    rt.close()


def test_offers_after_import_match_the_csv_for_every_accelerator(cli: CliRunner) -> None:
    imported = cli.invoke(cli_app, ["catalog", "import", str(GCP_CSV), "--cloud", "gcp"])
    assert imported.exit_code == 0, imported.output
    assert "gcp offers from vms.csv" in imported.output
    expected = cheapest_from_csv()
    assert {"A100", "A100-80GB", "H100", "L4", "T4", "V100", "P100", "P4", "H200", "B200"} <= set(expected)
    for name, (count, price, zones) in sorted(expected.items()):
        out = cli.invoke(cli_app, ["offers", "--gpu", f"{name}:{count}", "--cloud", "gcp", "--spot",
                                   "--limit", "1", "--output", "json"])
        assert out.exit_code == 0, out.output
        rows = _json(out.output)
        assert rows, f"no offer for {name}:{count}"
        assert rows[0]["zone"] in zones and rows[0]["spot_price"] == pytest.approx(price), (name, rows[0])
        assert rows[0]["source"] == "catalog"
    count, price, zones = expected["T4"]
    table = cli.invoke(cli_app, ["offers", "--gpu", "T4:1", "--cloud", "gcp", "--spot", "--limit", "3"])
    first_row = next(line for line in table.output.splitlines() if "gcp" in line)
    assert any(z in first_row for z in zones) and f"{price:.4f}" in first_row and "T4:1" in first_row
    status = cli.invoke(cli_app, ["catalog", "status", "--output", "json"])
    assert _json(status.output)[0]["source"] == "catalog"


def test_bad_catalog_is_rejected_with_the_expected_columns(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    result = cli.invoke(cli_app, ["catalog", "import", str(bad), "--cloud", "gcp"])
    assert result.exit_code != 0 and "missing column" in str(result.exception or result.output)
