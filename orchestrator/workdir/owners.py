"""Which teams may use a workdir archive in the daemon's store: the teams that uploaded it.

Why: archives are content-addressed, so a digest seen once (a job's spec, a log line, a shared repository) let any
team reuse, or probe for, another team's code. An upload is the proof of possession: a team that sends the bytes
whose sha256 is the digest is recorded as an owner (a marker file per team under
HOME/workdirs/owners/<digest>/), and only owners (or an admin) may see the archive or name it in a job. Marker
files rather than a list: concurrent uploads of one digest by two teams need no lock.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

ADMIN = None  # the principal team of an admin: may use every archive


def _marker(home: Path, digest: str, team: str) -> Path:
    return home / "workdirs" / "owners" / digest / hashlib.sha256(team.encode()).hexdigest()[:32]


def record_owner(home: Path, digest: str, team: str | None) -> None:
    """`team` uploaded (or re-uploaded) the archive `digest`; an admin's upload is not recorded."""
    if team is None:
        return
    marker = _marker(home, digest, team)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def may_use(home: Path, digest: str, team: str | None) -> bool:
    """True for an admin, or a team that uploaded `digest` itself."""
    return team is None or _marker(home, digest, team).exists()
