"""Pack a workdir into a deterministic tar.gz: the same tree always gives the same bytes, hence the same digest.

Determinism is what makes the upload content-addressed and idempotent: entries are sorted, owners, times and
modes are normalised (0644, or 0755 for executables and directories) and the gzip header carries no time or name.
`.gitignore` files (at any depth, gitignore semantics through `pathspec`) and a top-level `.spotwiseignore` (or
SkyPilot's `.skyignore`) are honoured, and `.git/` is never packed. Links are kept only when they point inside the tree.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pathspec

# .skyignore: SkyPilot's own, so a SkyPilot task's workdir leaves out what `sky launch` leaves out (docs/skypilot.md).
IGNORE_FILES = (".gitignore", ".spotwiseignore", ".skyignore")
ALWAYS_IGNORED = (".git/",)


class WorkdirError(ValueError):
    """A workdir that cannot be packed (missing, too big, a link leaving it); the message says what to do."""


@dataclass(frozen=True)
class PackedWorkdir:
    data: bytes
    digest: str  # sha256 of `data`
    files: int
    unpacked_bytes: int


class _Ignores:
    """Every ignore file seen so far, each matching paths relative to its own directory (as git does)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.specs: list[tuple[str, pathspec.PathSpec]] = [("", pathspec.GitIgnoreSpec.from_lines(ALWAYS_IGNORED))]

    def load(self, rel_dir: str) -> None:
        names = IGNORE_FILES if rel_dir == "" else (".gitignore",)
        for name in names:
            path = self.root / rel_dir / name
            if path.is_file():
                self.specs.append((rel_dir, pathspec.GitIgnoreSpec.from_lines(path.read_text().splitlines())))

    def ignored(self, rel: str, is_dir: bool) -> bool:
        for base, spec in self.specs:
            if base and not rel.startswith(base + "/"):
                continue
            sub = rel[len(base) + 1:] if base else rel
            if spec.match_file(sub + "/" if is_dir else sub):
                return True
        return False


def _walk(root: Path) -> list[tuple[str, Path]]:
    """(relative posix path, path) of every packed entry, sorted, ignored ones left out."""
    ignores = _Ignores(root)
    found: list[tuple[str, Path]] = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        ignores.load(rel_dir)
        directory = root / rel_dir if rel_dir else root
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if ignores.ignored(rel, is_dir):
                continue
            found.append((rel, Path(entry.path)))
            if is_dir:
                stack.append(rel)
    return sorted(found)


def _tarinfo(rel: str, path: Path, root: Path) -> tarfile.TarInfo:
    st = path.lstat()
    info = tarfile.TarInfo(rel)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    if path.is_symlink():
        target = os.readlink(path)
        resolved = (path.parent / target).resolve()
        if os.path.isabs(target) or not resolved.is_relative_to(root.resolve()):
            raise WorkdirError(f"{rel} is a link to {target}, outside the workdir; copy the file in or ignore it "
                               "in .spotwiseignore")
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
    elif path.is_dir():
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    elif path.is_file():
        info.size, info.mode = st.st_size, 0o755 if st.st_mode & 0o100 else 0o644
    else:
        raise WorkdirError(f"{rel} is not a file, directory or link (a socket or device?); ignore it in "
                           ".spotwiseignore")
    return info


def pack_workdir(root: Path, max_bytes: int) -> PackedWorkdir:
    """The packed tree under `root`; WorkdirError when it is not a directory or the archive exceeds `max_bytes`."""
    if not root.is_dir():
        raise WorkdirError(f"workdir {root} is not a directory")
    raw = io.BytesIO()
    files = total = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, path in _walk(root):
            info = _tarinfo(rel, path, root)
            if info.isreg():
                files += 1
                total += info.size
                if total > max_bytes * 20:  # far too big even before compression: stop reading early
                    break
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="", compresslevel=6) as gz:
        gz.write(raw.getvalue())
    data = buffer.getvalue()
    if len(data) > max_bytes or total > max_bytes * 20:
        raise WorkdirError(
            f"workdir {root} packs to more than {max_bytes / 2**20:.0f} MiB ({files} files, {total / 2**20:.1f} MiB "
            "unpacked); list data, outputs and environments in .spotwiseignore (gitignore syntax), use file_mounts "
            "for large data, or raise SPOTWISE_WORKDIR_MAX_BYTES")
    return PackedWorkdir(data=data, digest=hashlib.sha256(data).hexdigest(), files=files, unpacked_bytes=total)
