"""The daemon's home is private to its user: 0700, and every file in it 0600.

It holds the admin token, the secrets key, the agent-token key and (by default) the database. A home made by the
daemon is created private; one that already exists is checked at start and each looser entry is reported with
the command that fixes it (not changed behind the operator's back: the home may be a mount someone set up).
"""

from __future__ import annotations

import os
from pathlib import Path

# Created by whoever starts the daemon (tests, `make demo`), not by the daemon: not the daemon's to police.
_NOT_OURS = frozenset({"daemon.log", "config.yaml"})


def prepare_home(home: Path) -> list[str]:
    """Create `home` 0700 when missing; for an existing one, one line per entry readable by other users."""
    if not home.exists():
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(0o700)  # mkdir's mode is masked by the umask; say it explicitly
        return []
    problems = []
    mode = home.stat().st_mode & 0o777
    if mode & 0o077:
        problems.append(f"{home} is mode {mode:o}: other users can reach the admin token and keys in it; "
                        f"run chmod 700 {home}")
    for entry in sorted(home.iterdir()):
        if entry.name in _NOT_OURS or entry.is_symlink():
            continue
        mode = entry.stat().st_mode & 0o777
        if mode & 0o077:
            problems.append(f"{entry} is mode {mode:o}; run chmod {'700' if entry.is_dir() else '600'} {entry}")
    return problems


def private_umask() -> None:
    """Everything the daemon creates from now on (database, WAL, keys, stores) is private to its user."""
    os.umask(0o077)
