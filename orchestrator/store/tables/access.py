"""Credentials: API tokens, dashboard sign-in codes, agents' bootstrap claims and the jobs' own secrets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.store.tables.base import Base


class ApiToken(Base):
    """API bearer tokens, stored as SHA-256 hashes. team=None with role admin sees everything."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[str] = mapped_column(String(16))  # admin | team
    team: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class UiSigninCode(Base):
    """One-time dashboard sign-in codes (`spotwise ui --open`), stored as SHA-256 hashes.

    Why a table and not memory: the one-use mark must survive a daemon restart (and be seen by every replica),
    or a code replayed after a restart would sign in a second time. `token_id` is the API token that asked
    for the code: redeeming it checks that token is still valid, so revoking a token also voids its codes.
    """

    __tablename__ = "ui_signin_codes"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[str] = mapped_column(String(24))
    role: Mapped[str] = mapped_column(String(16))  # admin | team, copied from the asking token
    team: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class BootstrapClaim(Base):
    """The one exchange of an attempt node's bootstrap token for its agent token (orchestrator/api/agent_exchange.py).

    The row is the once-only mark: its primary key makes a second exchange lose, on every replica and after a
    `kill -9`. Only hashes are kept: of the bootstrap token, and of the claim nonce the agent chose, which lets
    the same agent retry an exchange whose answer it lost and get its token again, while anyone else is refused.
    """

    __tablename__ = "bootstrap_claims"
    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id"), primary_key=True)
    node: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0 for a one-node attempt
    token_hash: Mapped[str] = mapped_column(String(64))
    claim_hash: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime]
    refused: Mapped[int] = mapped_column(Integer, default=0)  # later exchanges refused: a possible token theft


class JobSecret(Base):
    """A named secret for jobs (W&B or HF token), Fernet-encrypted; the key lives in a 0600 file in SPOTWISE_HOME.

    `scope` is a team name, or "*" for an admin-wide secret that every team's jobs may reference; a team's own
    secret of the same name wins. Only the agent of an attempt of that job ever receives the value.
    """

    __tablename__ = "job_secrets"
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
