"""Job secrets: stored Fernet-encrypted, listed by name only, decrypted only for a job's own agent.

The key is a file in SPOTWISE_HOME (mode 0600) rather than a database row, so a leaked database dump or backup
does not leak the secrets with it. Daemon replicas sharing one database must share this file too.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.store.tables import JobSecret
from orchestrator.store.types import utcnow

GLOBAL = "*"  # an admin secret every team's jobs may reference
KEY_FILE = "secrets.key"


class SecretUnavailable(Exception):
    """A referenced secret is missing or cannot be decrypted (the key file changed)."""


def _fernet(home: Path) -> Fernet:
    path = home / KEY_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another replica or request wrote it first: use theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
    return Fernet(path.read_bytes().strip())


def set_secret(session: Session, home: Path, scope: str, name: str, value: str) -> bool:
    """Create or replace; True when it was new."""
    now = utcnow()
    token = _fernet(home).encrypt(value.encode()).decode()
    row = session.get(JobSecret, (scope, name))
    if row is None:
        session.add(JobSecret(scope=scope, name=name, ciphertext=token, created_at=now, updated_at=now))
        return True
    row.ciphertext, row.updated_at = token, now
    return False


def delete_secret(session: Session, scope: str, name: str) -> bool:
    row = session.get(JobSecret, (scope, name))
    if row is None:
        return False
    session.delete(row)
    return True


def list_secrets(session: Session, scopes: list[str] | None) -> list[tuple[str, str, datetime]]:
    """(scope, name, updated_at): names only, never values."""
    query = select(JobSecret.scope, JobSecret.name, JobSecret.updated_at).order_by(JobSecret.scope, JobSecret.name)
    if scopes is not None:
        query = query.where(JobSecret.scope.in_(scopes))
    return [(s, n, u) for s, n, u in session.execute(query)]


def missing(session: Session, team: str, names: list[str]) -> list[str]:
    if not names:
        return []
    found = set(session.scalars(select(JobSecret.name).where(JobSecret.scope.in_([team, GLOBAL]),
                                                             JobSecret.name.in_(names))))
    return [n for n in names if n not in found]


def resolve(session: Session, home: Path, team: str, names: list[str]) -> dict[str, str]:
    """The values for one job's agent: the team's own secret first, else the admin-wide one."""
    if not names:
        return {}
    rows = session.scalars(select(JobSecret).where(JobSecret.scope.in_([team, GLOBAL]), JobSecret.name.in_(names)))
    by_name: dict[str, JobSecret] = {}
    for row in rows:
        if row.name not in by_name or row.scope == team:
            by_name[row.name] = row
    absent = [n for n in names if n not in by_name]
    if absent:
        raise SecretUnavailable(f"secrets not set: {', '.join(absent)} (spotwise secrets set NAME)")
    fernet = _fernet(home)
    try:
        return {n: fernet.decrypt(by_name[n].ciphertext.encode()).decode() for n in names}
    except InvalidToken:
        raise SecretUnavailable(f"cannot decrypt secrets with {home / KEY_FILE}; was the key file replaced?") \
            from None
