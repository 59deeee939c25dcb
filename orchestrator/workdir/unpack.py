"""Unpack a workdir archive on the instance, refusing anything that could write outside the target directory.

The archive came over the network from a store the user (or anyone with bucket access) controls, so every member
is checked before anything is written: no absolute names, no `..`, no links whose target leaves the tree, only
files, directories and links. Python's `data` extraction filter then enforces the same again while extracting.
Pythons without that filter (3.11.0-3.11.3, Debian 12's 3.11.2 among them) get stricter member rules instead
(`_check_without_filter`): no link target with `..`, nothing written through a link, no owners or special mode bits.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import tarfile
from pathlib import Path


class UnsafeArchive(ValueError):
    """The archive has a member that would escape the workdir or is not a plain file/dir/link."""


def _check(member: tarfile.TarInfo) -> None:
    name = member.name
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchive(f"{name!r}: absolute path")
    parts = name.split("/")
    if ".." in parts:
        raise UnsafeArchive(f"{name!r}: '..' in the path")
    if not (member.isreg() or member.isdir() or member.issym()):
        raise UnsafeArchive(f"{name!r}: only files, directories and links are allowed")
    if member.issym():
        target = member.linkname
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        if target.startswith("/") or joined == ".." or joined.startswith("../"):
            raise UnsafeArchive(f"{name!r}: link to {target!r} leaves the workdir")


def _check_without_filter(members: list[tarfile.TarInfo]) -> None:
    """What the `data` filter would catch at extraction, decided from the names alone: a relative link without
    `..` points into its own directory's subtree, and no member is written through a link, so no chain of links
    can leave the tree. Owners and setuid/setgid/sticky and group/other write bits are dropped, as the filter does."""
    links = {m.name.rstrip("/") for m in members if m.issym()}
    for member in members:
        if member.issym() and ".." in member.linkname.split("/"):
            raise UnsafeArchive(f"{member.name!r}: link target {member.linkname!r} has '..'")
        parts = member.name.rstrip("/").split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in links:
                raise UnsafeArchive(f"{member.name!r}: written through the link {'/'.join(parts[:depth])!r}")
        member.mode &= 0o755
        member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""


def verify_digest(archive: Path, digest: str) -> None:
    """Refuse an archive whose sha256 is not the one recorded on the job (a corrupt or swapped upload)."""
    sha = hashlib.sha256()
    with open(archive, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    if sha.hexdigest() != digest:
        raise UnsafeArchive(f"archive sha256 {sha.hexdigest()} is not the job's workdir digest {digest}")


def unpack_workdir(archive: Path, target: Path, digest: str | None = None) -> int:
    """Replace `target` with the archive's tree; returns the number of files. Checks everything first."""
    if digest:
        verify_digest(archive, digest)
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        for member in members:
            _check(member)
        filtered = hasattr(tarfile, "data_filter")
        if not filtered:
            _check_without_filter(members)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        if filtered:
            tar.extractall(target, members=members, filter="data")
        else:
            tar.extractall(target, members=members)
    return sum(1 for m in members if m.isreg())
