"""The agent's checkpoint sync reports what crossed the network and how long it took (placement learns transfer
rates from it): a restore reports the bytes it downloaded (unchanged files are not), an upload the bytes it
uploaded, both with the seconds they took."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.agent.sync import CheckpointSync
from orchestrator.checkpoint import CheckpointStore


def test_restore_and_upload_reports_carry_bytes_moved_and_seconds(tmp_path: Path) -> None:
    store = CheckpointStore(f"file://{tmp_path / 'store'}")
    reports: list[dict[str, Any]] = []
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "model.bin").write_bytes(b"w" * 5000)
    (src / "step.txt").write_bytes(b"1")
    writer = CheckpointSync(store, src, interval=3600, keep=3, report=reports.append, log=lambda _m: None)
    assert writer.upload_now("interval") is not None
    upload = reports[-1]
    assert upload["event"] == "uploaded" and upload["transferred_bytes"] == 5001 and upload["seconds"] >= 0
    reader = CheckpointSync(CheckpointStore(store.url), dst, interval=3600, keep=3, report=reports.append,
                            log=lambda _m: None)
    assert reader.restore() is not None
    restore = reports[-1]
    assert restore["event"] == "restored" and restore["transferred_bytes"] == 5001 and restore["seconds"] >= 0
    (src / "step.txt").write_bytes(b"2")  # one changed file: only it moves, both ways
    writer.upload_now("interval")
    assert reports[-1]["transferred_bytes"] == 1
    reader.restore()
    assert reports[-1]["event"] == "restored" and reports[-1]["transferred_bytes"] == 1
