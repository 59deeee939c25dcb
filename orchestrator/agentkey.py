"""The key that signs agent tokens: a 0600 file beside secrets.key, never a database row.

Why a file: anyone who can read the database (a dump, a backup, a replica's disk) could forge an agent token with
a key kept there and fetch a job's decrypted secrets. Replicas share this file as they share secrets.key. The
database keeps only the key's id (a hash), so a replica started with a different key refuses to start instead
of rejecting the other replicas' agents one request at a time.

Migration: a database that still holds the key (older daemons kept it in `meta.agent_token_secret`) has it moved
into the file and deleted from the database, so agent tokens already handed out keep working.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from orchestrator.store import meta
from orchestrator.store.tables import Meta

KEY_FILE = "agent-token.key"
LEGACY_META_KEY = "agent_token_secret"
KEY_ID_META = "agent_token_key_id"


class AgentKeyMismatch(RuntimeError):
    """This home's key is not the one the database's other replicas sign with; the message says what to copy."""


def key_id(key: bytes) -> str:
    """A public name for the key (a hash that reveals nothing of it)."""
    return hashlib.sha256(b"spotwise agent-token key id\0" + key).hexdigest()[:16]


def _write_new(path: Path, key: bytes) -> bytes:
    """Write the key 0600 unless another process of this home did first; the key in the file either way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
    return key


def _read(path: Path) -> bytes:
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise AgentKeyMismatch(f"{path} is not a hex key; restore it from another replica's home or delete it "
                               "(agents of running attempts then stop being accepted)") from None
    if len(key) < 32:
        raise AgentKeyMismatch(f"{path} holds a key of {len(key)} bytes; it needs at least 32")
    return key


def load_agent_key(session: Session, home: Path) -> bytes:
    """The agent-token key of this installation: from HOME/agent-token.key, made (or migrated) on first start."""
    path = home / KEY_FILE
    legacy = session.scalar(select(Meta.value).where(Meta.key == LEGACY_META_KEY))
    if path.exists():
        key = _read(path)
        if legacy is not None and bytes.fromhex(legacy) != key:
            raise AgentKeyMismatch(f"the database still holds an agent-token key and {path} holds another; "
                                   f"move {path} away to migrate the database's key into it")
    else:
        key = _write_new(path, bytes.fromhex(legacy) if legacy is not None else secrets.token_bytes(32))
    if legacy is not None:  # the key every token handed out so far was signed with: it names the key from now on
        session.execute(delete(Meta).where(Meta.key.in_([LEGACY_META_KEY, KEY_ID_META])))
    expected = meta.get_or_create(session, KEY_ID_META, key_id(key))
    if expected != key_id(key):
        raise AgentKeyMismatch(f"{path} (key id {key_id(key)}) is not the agent-token key this database's other "
                               f"replicas use (key id {expected}): copy agent-token.key from another replica's "
                               "home, as you share secrets.key")
    return key
