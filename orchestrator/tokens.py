"""API tokens (admin and team, stored hashed) and agent tokens (derived, scoped to one attempt).

Agent tokens are an HMAC of the attempt id under a secret kept in the database, so that
re-issuing a launch after a crash renders identical user data, and nothing per attempt needs
storing. They are only honoured while the attempt is active.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.store.tables import ApiToken, Meta
from orchestrator.store.types import utcnow

API_PREFIX = "sw_"
AGENT_PREFIX = "swa."
_SECRET_KEY = "agent_token_secret"


@dataclass(frozen=True)
class Principal:
    """Who is calling: an admin, a team member, or the agent of one attempt."""

    role: str  # admin | team | agent
    team: str | None = None
    attempt_id: str | None = None
    token_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(
    session: Session, *, role: str, team: str | None, name: str = "", expires_at: datetime | None = None,
    token: str | None = None,
) -> tuple[ApiToken, str]:
    """Returns the stored row and the plaintext token (shown once, never stored)."""
    plaintext = token or API_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(id="tok-" + secrets.token_hex(6), name=name, role=role, team=team,
                   token_hash=hash_token(plaintext), created_at=utcnow(), expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, plaintext


class TokenRejected(Exception):
    """A token that is unknown, revoked or expired; the message says which."""


def authenticate_api_token(session: Session, token: str) -> Principal:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        raise TokenRejected("unknown token")
    if row.revoked_at is not None:
        raise TokenRejected("this token was revoked")
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise TokenRejected("this token has expired")
    return Principal(role=row.role, team=row.team, token_id=row.id)


def agent_secret(session: Session) -> bytes:
    """The installation's agent-token secret, created on first use."""
    row = session.get(Meta, _SECRET_KEY)
    if row is None:
        row = Meta(key=_SECRET_KEY, value=secrets.token_hex(32))
        session.add(row)
        session.flush()
    return bytes.fromhex(row.value)


def agent_token(secret: bytes, attempt_id: str) -> str:
    mac = hmac.new(secret, attempt_id.encode(), hashlib.sha256).hexdigest()
    return f"{AGENT_PREFIX}{attempt_id}.{mac}"


def authenticate_agent_token(secret: bytes, token: str) -> Principal:
    body = token.removeprefix(AGENT_PREFIX)
    attempt_id, _, _mac = body.rpartition(".")
    if not attempt_id or not hmac.compare_digest(agent_token(secret, attempt_id), token):
        raise TokenRejected("invalid agent token")
    return Principal(role="agent", attempt_id=attempt_id)
