"""The one error taxonomy every adapter maps its cloud's codes into.

Core code branches on the class and the scope, never on message text. Each adapter keeps a
small table from raw codes to these classes (e.g. `providers/aws/errors.py`) with a test per code,
looked up through one shared `ErrorTable`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class ErrorScope(enum.StrEnum):
    """How much the placement policy should block after this error."""

    POOL = "pool"  # instance type x zone x market
    ZONE = "zone"
    REGION = "region"
    PROVIDER = "provider"
    REQUEST = "request"  # only this request is wrong (InvalidRequest)


class ProviderError(Exception):
    """Base of every classified cloud error. `raw_code` keeps the cloud's own code for logs."""

    default_scope: ErrorScope = ErrorScope.PROVIDER
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        raw_code: str = "",
        scope: ErrorScope | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.raw_code = raw_code
        self.scope = scope or self.default_scope

    def __str__(self) -> str:
        code = f" [{self.raw_code}]" if self.raw_code else ""
        where = f"{self.provider}: " if self.provider else ""
        return f"{where}{self.message}{code}"


class CapacityError(ProviderError):
    """No capacity in this pool right now: try the next offer."""

    default_scope = ErrorScope.POOL


class QuotaError(ProviderError):
    """A quota or limit blocks the launch: needs a human; skip the region (or provider)."""

    default_scope = ErrorScope.REGION


class AuthError(ProviderError):
    """Credentials missing, expired or not allowed: disable the provider and alert."""

    default_scope = ErrorScope.PROVIDER


class PriceError(ProviderError):
    """The market price is above the cap we sent (e.g. SpotMaxPriceTooLow)."""

    default_scope = ErrorScope.POOL


class TransientError(ProviderError):
    """A 5xx, a timeout, a dropped connection: retried inside the adapter first."""

    default_scope = ErrorScope.PROVIDER
    retryable = True


class ThrottledError(TransientError):
    """Rate limited by the cloud: retried with backoff inside the adapter first."""


class InvalidRequest(ProviderError):
    """The request itself is wrong (bad image, unknown type): fail the job with the message."""

    default_scope = ErrorScope.REQUEST


class NotSupported(ProviderError):
    """The provider cannot do this at all (e.g. spot on a provider without a spot market)."""

    default_scope = ErrorScope.PROVIDER


# raw code -> (class, scope); a None scope means the class's default.
CodeTable = Mapping[str, tuple[type[ProviderError], ErrorScope | None]]


@dataclass(frozen=True)
class ErrorTable:
    """One cloud's raw codes -> the taxonomy, plus what an unknown code falls back to.

    Why shared: every adapter's lookup is the same (table hit; else 5xx is transient; else an
    HTTP-status table; else a default class), and only the tables differ. Keeping the lookup in one
    place keeps the three clouds' fallbacks from drifting apart.
    """

    provider: str
    codes: CodeTable
    statuses: Mapping[int, type[ProviderError]] = field(default_factory=dict)
    default: type[ProviderError] = InvalidRequest

    def lookup(self, key: str, status: int | None = None) -> tuple[type[ProviderError], ErrorScope | None]:
        """(class, scope) for a table key, else by HTTP status: 5xx transient, then `statuses`, then `default`."""
        if key in self.codes:
            return self.codes[key]
        if status is not None and status >= 500:
            return TransientError, None
        return self.statuses.get(status or 0, self.default), None

    def classify(self, code: str, message: str, status: int | None = None, *, key: str | None = None,
                 raw_code: str | None = None) -> ProviderError:
        """The taxonomy error for one raw code. `key`: the table key when it is not the code itself;
        `raw_code`: what to keep for logs (default: the code, else the HTTP status)."""
        cls, scope = self.lookup(code if key is None else key, status)
        raw = raw_code if raw_code is not None else code or (str(status) if status else "")
        return cls(message or code, provider=self.provider, raw_code=raw, scope=scope)
