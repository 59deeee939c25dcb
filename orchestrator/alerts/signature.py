"""The webhook signature: HMAC-SHA256 over `timestamp + "." + raw body`, and checking one as a receiver does.

Its own module, standard library only, so `spotwise alerts verify` (and any receiver that imports it) does not
load the daemon's HTTP stack. Binding the timestamp into the signed string is what makes a replay window
possible: an old body cannot be re-sent with a fresh timestamp without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Spotwise-Signature"
TIMESTAMP_HEADER = "X-Spotwise-Timestamp"
EVENT_ID_HEADER = "X-Spotwise-Event-Id"
#: A receiver refuses a delivery signed further than this from its own clock (seconds).
REPLAY_WINDOW_SECONDS = 300


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256(secret, timestamp + "." + body): the X-Spotwise-Signature value."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """Constant-time compare of the signature header (no replay check: see `check_delivery`)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def check_delivery(secret: bytes, timestamp: str, body: bytes, signature: str, *, now: float | None = None,
                   window: float = REPLAY_WINDOW_SECONDS) -> str | None:
    """Why a delivery must be refused, or None when it is genuine and fresh."""
    if not timestamp.strip().isdigit():
        return f"the {TIMESTAMP_HEADER} header is missing or not Unix seconds"
    if not verify(secret, timestamp.strip(), body, signature.strip()):
        return "the signature does not match (wrong secret, or the body or timestamp was changed)"
    age = (time.time() if now is None else now) - int(timestamp)
    if abs(age) > window:
        when = "ago" if age > 0 else "in the future"
        return f"signed {abs(age):.0f}s {when}, outside the {window:.0f}s replay window"
    return None
