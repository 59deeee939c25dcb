"""The test's view of the daemon's agent-token key, wherever this version keeps it (it plays an agent token that
leaked from an ended instance's disk or process)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orchestrator.tokens import agent_token


def agent_key(home: Path) -> bytes:
    """The signing key: the 0600 file beside secrets.key, else (older daemons) the database's meta row."""
    path = home / "agent-token.key"
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    with sqlite3.connect(home / "spotwise.db") as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'agent_token_secret'").fetchone()
    return bytes.fromhex(row[0])


def leaked_token(home: Path, attempt_id: str) -> str:
    return agent_token(agent_key(home), attempt_id)
