"""One-time dashboard sign-in codes: `spotwise ui --open` signs a browser in without a token in any URL.

Why codes: the dashboard signs in with an API token pasted into the page. Putting that token in a link would
leave a long-lived credential in browser history, proxy logs and referrers. Instead the CLI asks the daemon (with
its token) for a code that is random, short-lived (60 s by default), usable once, and bound to the asking token's
role and team. The browser trades it at /ui/signin for a dashboard session token of its own (orchestrator/ui/
signin.py), so the URL that carries the code is worthless a moment later.

Stored as SHA-256 hashes, like API tokens: a copy of the database signs nobody in. The one-use mark is a row
update guarded by `used_at IS NULL` (one UPDATE, so two browsers racing with one code cannot both win), and it
is in the database, so a code replayed after a daemon restart is refused too.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from orchestrator.store.tables import ApiToken, UiSigninCode
from orchestrator.store.types import utcnow
from orchestrator.tokens import API_PREFIX, Principal, create_api_token, hash_token

CODE_PREFIX = "swc_"
CODE_SECONDS = 60  # the default and the most a caller may ask for: long enough to open a browser, no more
SESSION_HOURS = 12  # a dashboard session's life (never past the asking token's own expiry)
KEEP_EXPIRED = timedelta(days=1)  # then a code's row goes: a replay is refused as unknown instead of expired
#: What marks a dashboard session token: its plaintext prefix (only `redeem_code` picks a token's plaintext with it;
#: the tokens API never lets a caller choose one) and its name. Sign-out revokes only such a token.
SESSION_PREFIX = API_PREFIX + "ui_"
SESSION_NAME = "dashboard session"
NEW_CODE_HINT = "run `spotwise ui --open` (or `spotwise ui --print-url`) again for a new link"


class CodeRefused(Exception):
    """A code that is unknown, already used, expired, or whose token was revoked; `reason` says which."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # unknown | used | expired | revoked


def issue_code(session: Session, principal: Principal, seconds: int = CODE_SECONDS) -> tuple[str, datetime]:
    """A new code for `principal` (an admin or team token), valid `seconds`; returns it and its expiry.

    The plaintext is returned once and never stored."""
    if principal.token_id is None or principal.role not in ("admin", "team"):
        raise ValueError("only an admin or team API token can ask for a dashboard sign-in code")
    code = CODE_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + timedelta(seconds=max(1, min(seconds, CODE_SECONDS)))
    session.execute(delete(UiSigninCode).where(UiSigninCode.expires_at < now - KEEP_EXPIRED)
                    .execution_options(synchronize_session=False))  # the table stays as small as its last day
    session.add(UiSigninCode(code_hash=hash_token(code), token_id=principal.token_id, role=principal.role,
                             team=principal.team, created_at=now, expires_at=expires_at, used_at=None))
    session.flush()
    return code, expires_at


def _why_not(session: Session, digest: str, now: datetime) -> CodeRefused:
    row = session.get(UiSigninCode, digest)
    if row is None:
        return CodeRefused("unknown", "This sign-in link is not valid (it may have been mistyped or cut short).")
    if row.used_at is not None:
        return CodeRefused("used", "This sign-in link was already used; each link signs in once.")
    return CodeRefused("expired", "This sign-in link has expired; links last a minute.")


def redeem_code(session: Session, code: str) -> tuple[str, ApiToken]:
    """Use `code` once: mark it used and return a new dashboard session token (plaintext, row).

    Raises CodeRefused when the code is unknown, used, expired, or its token has since been revoked or expired.
    The caller commits: the used mark and the session token land together."""
    now = utcnow()
    digest = hash_token(code.strip())
    won = session.execute(
        update(UiSigninCode)
        .where(UiSigninCode.code_hash == digest, UiSigninCode.used_at.is_(None), UiSigninCode.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False))
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise _why_not(session, digest, now)
    row = session.get(UiSigninCode, digest)
    assert row is not None
    parent = session.scalar(select(ApiToken).where(ApiToken.id == row.token_id))
    if parent is None or parent.revoked_at is not None or (parent.expires_at and parent.expires_at <= now):
        raise CodeRefused("revoked", "The token that made this sign-in link has been revoked or has expired.")
    expires_at = now + timedelta(hours=SESSION_HOURS)
    if parent.expires_at is not None:
        expires_at = min(expires_at, parent.expires_at)
    token_row, plaintext = create_api_token(session, role=row.role, team=row.team,
                                            name=f"{SESSION_NAME} (signed in by {row.token_id})",
                                            expires_at=expires_at, token=SESSION_PREFIX + secrets.token_urlsafe(32))
    return plaintext, token_row


def end_session(session: Session, token: str) -> bool:
    """Sign-out: revoke `token` when it is a dashboard session token (made by `redeem_code`); True when revoked.

    Why revoke: signing out used to forget the token in the tab only, so a copy of it (the handoff cookie, a
    saved page, another tab) kept working for the rest of its 12 hours. Why only session tokens: a token pasted
    into the sign-in form is the user's own API token, used by their CLI too; signing out of one browser tab must
    not revoke it (nor, for an admin, lock the installation out), so it is only forgotten in the tab.
    The caller commits and clears the token cache."""
    if not token.startswith(SESSION_PREFIX):
        return False
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or not row.name.startswith(SESSION_NAME + " ("):
        return False
    row.revoked_at = row.revoked_at or utcnow()
    session.flush()
    return True
