"""One reading of the Authorization header, shared by authentication and the rate limit.

Why shared: the limiter keyed on the raw header, so `Bearer  TOKEN` (two spaces) or `bEaReR TOKEN`, which
authenticate as the same caller, each got a fresh bucket. Both now see the same credential, so a caller's
bucket is its principal's, however the header is spelled.
"""

from __future__ import annotations


def bearer_credential(header: str) -> str | None:
    """The token of `Bearer <token>` (scheme in any case, any whitespace around the token); None when the header
    is not a bearer credential."""
    parts = header.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    token = parts[1].strip()
    return token or None
