"""Applied policy files: every version kept verbatim, the newest in force."""

from __future__ import annotations

import difflib
import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orchestrator.policyfile import PolicyFile, parse_policy
from orchestrator.store.tables import PolicyVersion
from orchestrator.store.types import utcnow


def current(session: Session) -> PolicyVersion | None:
    return session.scalar(select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(1))


def current_policy(session: Session) -> PolicyFile:
    """The policy in force; an empty one (no budgets, caps or idle rules) before any apply."""
    row = current(session)
    return parse_policy(row.text, f"policy version {row.version}", stored=True) if row else PolicyFile()


def apply(session: Session, text: str, applied_by: str = "") -> tuple[PolicyVersion, bool]:
    """Validate (raises PolicyError, storing nothing) and store as a new version unless unchanged."""
    parse_policy(text, "policy file")
    digest = hashlib.sha256(text.encode()).hexdigest()
    row = current(session)
    if row is not None and row.sha256 == digest:
        return row, False
    version = (session.scalar(select(func.max(PolicyVersion.version))) or 0) + 1
    new = PolicyVersion(version=version, text=text, sha256=digest, applied_at=utcnow(), applied_by=applied_by)
    session.add(new)
    session.flush()
    return new, True


def diff(session: Session, text: str) -> str:
    parse_policy(text, "policy file")
    row = current(session)
    old = row.text if row else ""
    name = f"version {row.version}" if row else "(no policy)"
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), text.splitlines(keepends=True),
                                        fromfile=name, tofile="new"))


def history(session: Session) -> list[PolicyVersion]:
    return list(session.scalars(select(PolicyVersion).order_by(PolicyVersion.version.desc())))
