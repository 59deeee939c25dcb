"""API tokens (admin and team, stored hashed) and agent tokens (derived, scoped to one attempt).

Agent tokens are an HMAC of the attempt id under the installation's agent-token key (a 0600 file beside
secrets.key: orchestrator/agentkey.py), so that re-issuing a launch after a crash renders identical user data,
and nothing per attempt needs storing. They are only honoured while the attempt is active, and for a short grace
after it ended (orchestrator/api/agent.py).

Agent tokens never sit in cloud metadata: the start-up script carries a *bootstrap* token (`swb.<subject>.<mac>`,
an HMAC under the same key with its own domain label, so neither kind can be turned into the other). It is good
for one exchange only, by the instance recorded for that attempt, within a short TTL: orchestrator/api/
agent_exchange.py trades it for the agent token and records the trade (docs/security.md).

A node of a multi-node (gang) attempt gets a node-scoped token, `swa.<attempt>#<node>.<mac>` with the MAC over
`<attempt>#<node>`: it may report only as that node, and a one-node token (the original `swa.<attempt>.<mac>`,
still issued for single-node attempts) cannot be edited into another node's without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.store.db import transaction
from orchestrator.store.tables import ApiToken
from orchestrator.store.types import utcnow

API_PREFIX = "sw_"
AGENT_PREFIX = "swa."
BOOTSTRAP_PREFIX = "swb."
_BOOTSTRAP_LABEL = b"spotwise bootstrap token\0"  # domain separation: a bootstrap MAC is never an agent MAC


@dataclass(frozen=True)
class Principal:
    """Who is calling: an admin, a team member, or the agent of one attempt."""

    role: str  # admin | team | agent
    team: str | None = None
    attempt_id: str | None = None
    token_id: str | None = None
    node: int | None = None  # a gang node's agent: its rank; None: the agent of a one-node attempt

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
    return _lookup(session, hash_token(token))[0]


def _lookup(session: Session, digest: str) -> tuple[Principal, datetime | None]:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if row is None:
        raise TokenRejected("unknown token")
    if row.revoked_at is not None:
        raise TokenRejected("this token was revoked")
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise TokenRejected("this token has expired")
    return Principal(role=row.role, team=row.team, token_id=row.id), row.expires_at


TOKEN_CACHE_SECONDS = 2.0
TOKEN_CACHE_MAX = 10_000


class TokenCache:
    """Accepted API tokens, remembered for `ttl` seconds so a request does not need a transaction just to learn
    who is calling.

    Why: the lookup was a transaction of its own per request (on SQLite a `BEGIN IMMEDIATE`, so it queued behind
    every writer); py-spy put it at 10% of the submit path's samples and half its lock acquisitions. Why it is
    safe: only accepted tokens are kept (an unknown token goes to the database every time, so a new token works
    at once); a token's expiry is checked on every hit; a revocation clears this replica's cache at once and
    reaches other replicas within `ttl` (2 s): that is the bound on how long a revoked token keeps working.
    Keys are SHA-256 digests, never the plaintext token; the map is bounded (least recently used dropped).
    """

    def __init__(self, ttl: float = TOKEN_CACHE_SECONDS, max_entries: int = TOKEN_CACHE_MAX) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Principal, datetime | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        """The cached principal of an accepted, unexpired token seen within `ttl`; None: ask the database."""
        digest = hash_token(token)
        with self._lock:
            hit = self._entries.get(digest)
            if hit is None or time.monotonic() - hit[0] >= self.ttl:
                return None
            self._entries.move_to_end(digest)
        if hit[2] is not None and hit[2] <= utcnow():
            return None  # expired since: the database says so, with the right message
        return hit[1]

    def authenticate(self, sessions: sessionmaker[Session], token: str) -> Principal:
        """The token's principal, from the cache while fresh, else from the database in a short transaction."""
        hit = self.get(token)
        if hit is not None:
            return hit
        digest = hash_token(token)
        now = time.monotonic()
        with transaction(sessions) as session:
            principal, expires_at = _lookup(session, digest)
        with self._lock:
            self._entries[digest] = (now, principal, expires_at)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return principal

    def clear(self) -> None:
        """Forget every token (after a revocation): the next request of each goes to the database."""
        with self._lock:
            self._entries.clear()


def agent_token(secret: bytes, attempt_id: str, node: int | None = None) -> str:
    """The agent token of an attempt, or of one node of a gang attempt (`node` = its rank)."""
    subject = attempt_id if node is None else f"{attempt_id}#{int(node)}"
    mac = hmac.new(secret, subject.encode(), hashlib.sha256).hexdigest()
    return f"{AGENT_PREFIX}{subject}.{mac}"


def _subject(token: str, prefix: str, what: str) -> tuple[str, int | None]:
    """(attempt id, node or None) named by a derived token; its MAC is checked by the caller."""
    subject, _, _mac = token.removeprefix(prefix).rpartition(".")
    attempt_id, sep, node_text = subject.rpartition("#")
    if not sep:
        return subject, None
    if node_text.isdigit() and len(node_text) <= 4 and attempt_id:
        return attempt_id, int(node_text)
    raise TokenRejected(f"invalid {what}")


def authenticate_agent_token(secret: bytes, token: str) -> Principal:
    attempt_id, node = _subject(token, AGENT_PREFIX, "agent token")
    if not attempt_id or not hmac.compare_digest(agent_token(secret, attempt_id, node), token):
        raise TokenRejected("invalid agent token")
    return Principal(role="agent", attempt_id=attempt_id, node=node)


def bootstrap_token(secret: bytes, attempt_id: str, node: int | None = None) -> str:
    """The once-only token the start-up script carries for an attempt (or a gang node): derived, so a launch
    re-issued after a crash renders identical user data; what makes it once-only is the exchange's row."""
    subject = attempt_id if node is None else f"{attempt_id}#{int(node)}"
    mac = hmac.new(secret, _BOOTSTRAP_LABEL + subject.encode(), hashlib.sha256).hexdigest()
    return f"{BOOTSTRAP_PREFIX}{subject}.{mac}"


def authenticate_bootstrap_token(secret: bytes, token: str) -> Principal:
    """The attempt (and node) a bootstrap token was made for. Says nothing about whether it was used or expired:
    the exchange checks those against the database."""
    if not token.startswith(BOOTSTRAP_PREFIX):
        raise TokenRejected("not a bootstrap token")
    attempt_id, node = _subject(token, BOOTSTRAP_PREFIX, "bootstrap token")
    if not attempt_id or not hmac.compare_digest(bootstrap_token(secret, attempt_id, node), token):
        raise TokenRejected("invalid bootstrap token")
    return Principal(role="bootstrap", attempt_id=attempt_id, node=node)
