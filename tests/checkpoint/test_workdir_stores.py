"""Workdirs: a packed workdir goes up once, content-addressed, and comes back byte-identical through every object
store the checkpoints use (file://, S3 on moto, the GCS emulator, Azurite), via the agent's own fetch code."""

from __future__ import annotations

from pathlib import Path

from orchestrator.agent.prepare import fetch_workdir
from orchestrator.checkpoint import CheckpointStore
from orchestrator.workdir import pack_workdir
from orchestrator.workdir import store as wstore


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_workdir_round_trip(store: CheckpointStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    files = {"train.py": b"print(1)\n", "data/x.bin": bytes(range(256)) * 40, "deep/a/b/c.txt": b"c"}
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    (src / "ignored.log").write_bytes(b"no")
    (src / ".gitignore").write_bytes(b"*.log\n")
    packed = pack_workdir(src, 10 * 2**20)
    assert wstore.upload(store.backend, packed.digest, packed.data) is True
    assert wstore.upload(store.backend, packed.digest, packed.data) is False  # already there: not sent again
    assert wstore.exists(store.backend, packed.digest)
    dst = tmp_path / "instance" / "job"
    ref = {"digest": packed.digest, "store": store.url}
    assert fetch_workdir(None, ref, dst, backend=store.backend) == 4
    assert _tree(dst) == {**files, ".gitignore": b"*.log\n"}
