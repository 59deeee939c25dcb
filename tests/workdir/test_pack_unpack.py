"""Packing is deterministic and honours ignore files; unpacking refuses anything that escapes the target."""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from orchestrator.workdir import UnsafeArchive, WorkdirError, pack_workdir, unpack_workdir


def _write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def test_same_tree_same_digest_whatever_the_times_and_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    files = {"x.py": b"1", "pkg/y.py": b"2", "run.sh": b"#!/bin/sh\n"}
    _write(a, files)
    _write(b, dict(reversed(files.items())))
    (a / "run.sh").chmod(0o755)
    (b / "run.sh").chmod(0o700)  # only the executable bit matters
    os.utime(b / "x.py", (time.time() - 9999, time.time() - 9999))
    first, second = pack_workdir(a, 2**20), pack_workdir(b, 2**20)
    assert first.digest == second.digest and first.data == second.data and first.files == 3
    (b / "x.py").write_bytes(b"changed")
    assert pack_workdir(b, 2**20).digest != first.digest


def test_gitignore_spotwiseignore_nested_and_git_dir(tmp_path: Path) -> None:
    _write(tmp_path, {".gitignore": b"*.log\n/build/\n!keep.log\n", ".spotwiseignore": b"data/\n",
                      "a.log": b"", "keep.log": b"k", "build/o": b"", "src/build/kept.py": b"",
                      "data/big": b"", "sub/.gitignore": b"*.tmp\n", "sub/t.tmp": b"", "t.tmp": b"top",
                      ".git/config": b"", "main.py": b""})
    packed = pack_workdir(tmp_path, 2**20)
    with tarfile.open(fileobj=io.BytesIO(packed.data)) as tar:
        names = {m.name for m in tar.getmembers() if m.isreg()}
    assert names == {".gitignore", ".spotwiseignore", "keep.log", "src/build/kept.py", "sub/.gitignore", "t.tmp",
                     "main.py"}


def test_a_skyignore_is_honoured_as_sky_launch_honours_it(tmp_path: Path) -> None:
    _write(tmp_path, {".skyignore": b"checkpoints/\n*.bin\n", "checkpoints/c.pt": b"", "w.bin": b"", "train.py": b""})
    with tarfile.open(fileobj=io.BytesIO(pack_workdir(tmp_path, 2**20).data)) as tar:
        assert {m.name for m in tar.getmembers() if m.isreg()} == {".skyignore", "train.py"}


def test_size_limit_is_a_clear_error(tmp_path: Path) -> None:
    _write(tmp_path, {"big.bin": os.urandom(300_000)})
    with pytest.raises(WorkdirError, match=r"packs to more than .*\.spotwiseignore"):
        pack_workdir(tmp_path, 100_000)


def test_links_inside_are_kept_links_outside_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _write(root, {"real.txt": b"r"})
    (root / "inside").symlink_to("real.txt")
    out = tmp_path / "out"
    archive = tmp_path / "w.tar.gz"
    packed = pack_workdir(root, 2**20)
    archive.write_bytes(packed.data)
    unpack_workdir(archive, out, packed.digest)
    assert (out / "inside").is_symlink() and (out / "inside").read_bytes() == b"r"
    (root / "escape").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(WorkdirError, match="outside the workdir"):
        pack_workdir(root, 2**20)


def _evil(tmp_path: Path, build: object) -> Path:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        build(tar)  # type: ignore[operator]
    return archive


def _file(name: str) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size = 1
    return info, io.BytesIO(b"x")


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "link-abs", "link-up", "device", "hardlink"])
def test_unsafe_archives_are_refused_before_writing(tmp_path: Path, kind: str) -> None:
    def build(tar: tarfile.TarFile) -> None:
        tar.addfile(*_file("ok.txt"))
        if kind == "absolute":
            tar.addfile(*_file("/tmp/spotwise-pwned"))
        elif kind == "dotdot":
            tar.addfile(*_file("a/../../pwned"))
        elif kind in ("link-abs", "link-up"):
            info = tarfile.TarInfo("l")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd" if kind == "link-abs" else "a/../../x"
            tar.addfile(info)
        elif kind == "device":
            info = tarfile.TarInfo("dev")
            info.type = tarfile.CHRTYPE
            tar.addfile(info)
        else:
            info = tarfile.TarInfo("h")
            info.type, info.linkname = tarfile.LNKTYPE, "ok.txt"
            tar.addfile(info)

    target = tmp_path / "target"
    with pytest.raises(UnsafeArchive):
        unpack_workdir(_evil(tmp_path, build), target)
    assert not target.exists() and not Path("/tmp/spotwise-pwned").exists()


def test_digest_mismatch_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "src", {"a": b"a"})
    packed = pack_workdir(tmp_path / "src", 2**20)
    (tmp_path / "w.tar.gz").write_bytes(packed.data)
    with pytest.raises(UnsafeArchive, match="digest"):
        unpack_workdir(tmp_path / "w.tar.gz", tmp_path / "out", "0" * 64)


def test_pythons_without_the_data_filter_unpack_safely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.11.0-3.11.3 (Debian 12 ships 3.11.2) have no `filter=` on extractall: the demo's first job failed
    there with a TypeError. Without the filter a workdir still unpacks, with links, and link chains that the
    filter would have stopped are refused from the names alone, before anything is written."""
    monkeypatch.delattr(tarfile, "data_filter")
    root = tmp_path / "root"
    _write(root, {"real.txt": b"r", "bin/run.sh": b"#!/bin/sh\n"})
    (root / "bin" / "run.sh").chmod(0o4777)  # setuid and world-writable: dropped
    (root / "inside").symlink_to("real.txt")
    packed = pack_workdir(root, 2**20)
    archive = tmp_path / "w.tar.gz"
    archive.write_bytes(packed.data)
    assert unpack_workdir(archive, tmp_path / "out", packed.digest) == 2
    assert (tmp_path / "out" / "inside").read_bytes() == b"r"
    assert (tmp_path / "out" / "bin" / "run.sh").stat().st_mode & 0o7777 == 0o755

    def chain(tar: tarfile.TarFile) -> None:  # x/y -> .. is "." from x's parent; z -> x/y/.. is then above the root
        for name, target in (("x/y", ".."), ("z", "x/y/..")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)

    def through(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("l")
        info.type, info.linkname = tarfile.SYMTYPE, "sub"
        tar.addfile(info)
        tar.addfile(*_file("l/f.txt"))

    for build, why in ((chain, "has '..'"), (through, "written through the link 'l'")):
        target = tmp_path / f"t-{build.__name__}"
        with pytest.raises(UnsafeArchive, match=why):
            unpack_workdir(_evil(tmp_path, build), target)
        assert not target.exists()
