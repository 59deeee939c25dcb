"""Applied policy files: every version kept verbatim, the newest in force."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orchestrator.spending.policyfile import PolicyFile, parse_policy
from orchestrator.store.tables import PolicyVersion
from orchestrator.store.types import utcnow


def current(session: Session) -> PolicyVersion | None:
    return session.scalar(select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(1))


def current_policy(session: Session) -> PolicyFile:
    """The policy in force; an empty one (no budgets, caps or idle rules) before any apply.

    Parsed once per version (the models are frozen): submissions check it for priority caps, and a YAML parse
    per submission would cost the API's hot path more than its INSERT."""
    head = session.execute(select(PolicyVersion.version, PolicyVersion.sha256)
                           .order_by(PolicyVersion.version.desc()).limit(1)).first()
    if head is None:
        return PolicyFile()
    return _parsed(head.version, head.sha256, lambda: session.scalar(
        select(PolicyVersion.text).where(PolicyVersion.version == head.version)) or "")


_CACHE: dict[tuple[int, str], PolicyFile] = {}


def _parsed(version: int, sha256: str, text: Callable[[], str]) -> PolicyFile:
    key = (version, sha256)
    policy = _CACHE.get(key)
    if policy is None:
        policy = parse_policy(text(), f"policy version {version}", stored=True)
        if len(_CACHE) >= 8:  # versions are few and only the newest is read; keep the cache small
            _CACHE.clear()
        _CACHE[key] = policy
    return policy


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
