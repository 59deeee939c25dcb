"""The client's exceptions: one base, `SpotwiseError`, and a subclass per kind of refusal a caller acts on.

Why typed: a script around Spotwise retries a 429 after `retry_after`, creates a missing job on `NotFound`,
and shows a bad spec's problems on `Invalid`, and none of that should parse message text. Every error keeps
what the API said: `code` (the API's machine-readable code, e.g. "invalid_spec"), `status` (the HTTP status;
None when no HTTP answer came) and `message` (the API's sentence, meant for people); `str(error)` is the message.
"""

from __future__ import annotations

from typing import Any


class SpotwiseError(Exception):
    """Any failure of a client call: refused by the API, or no usable answer at all."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 details: list[str] | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details: list[str] = details or []
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


class UsageError(SpotwiseError, ValueError):
    """The call itself is wrong before anything is sent: an empty id, an id with '/', a body JSON cannot carry
    (NaN). The CLI exits 2 on it, like any usage error."""


class SettingsError(SpotwiseError):
    """Where the daemon is, or how to sign in, cannot be read: a broken config file, a token that is not
    printable ASCII."""


class BadRequest(SpotwiseError):
    """400 (and 413, 415): the request is malformed for the API."""


class Unauthorized(SpotwiseError):
    """401: no token, or an unknown, expired or revoked one."""


class Forbidden(SpotwiseError):
    """403: the token may not do this (another team's job, an admin-only call)."""


class NotFound(SpotwiseError):
    """404: no such job (or token, instance, ...), or one of another team."""


class Conflict(SpotwiseError):
    """409: the object's state refuses it, e.g. cancelling a job that already ended."""


class Invalid(SpotwiseError):
    """422: the request was understood and refused, e.g. a job spec with mistakes; `details` has one line per
    problem. Also raised before sending when a spec file cannot be read (status None, code "invalid_spec")."""


class RateLimited(SpotwiseError):
    """429: too many requests for this token; `retry_after` is the seconds the API asked to wait."""


class ServerError(SpotwiseError):
    """500 and other 5xx not covered by `Unavailable`: a fault of the daemon (its log says more)."""


class Unavailable(SpotwiseError):
    """The daemon cannot serve now: 502/503/504 (e.g. its database restarting; see `retry_after`), or it could
    not be reached at all (`Unreachable`, `TimedOut`). Worth retrying later."""


class Unreachable(Unavailable):
    """No connection: nothing listens at the URL, unknown host, TLS handshake failed."""


class TimedOut(Unavailable):
    """Connected (or trying to) but no answer within the client's timeout."""


class BadResponse(SpotwiseError):
    """An answer that is not the Spotwise API's (not JSON): the URL points at something else."""


class WaitTimeout(SpotwiseError):
    """`wait(..., timeout=)` ran out before the job ended; `job` is its last snapshot. The job keeps running."""

    def __init__(self, message: str, job: dict[str, Any]) -> None:
        super().__init__(message, code="wait_timeout")
        self.job = job


BY_STATUS: dict[int, type[SpotwiseError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 413: BadRequest,
    415: BadRequest, 422: Invalid, 429: RateLimited, 502: Unavailable, 503: Unavailable, 504: Unavailable,
}


def error_for(status: int, code: str | None, message: str, details: list[str] | None = None,
              retry_after: float | None = None) -> SpotwiseError:
    """The exception for an HTTP error answer: by status, else ServerError for 5xx, else the base class."""
    cls = BY_STATUS.get(status) or (ServerError if status >= 500 else SpotwiseError)
    return cls(message, status=status, code=code, details=details, retry_after=retry_after)
