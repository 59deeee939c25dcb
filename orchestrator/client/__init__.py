"""The Python client of the Spotwise API (public as `spotwise`): `Client` and its typed errors.

Light to import (standard library only; no pydantic, no HTTP library): the CLI imports it for every command.
It imports no daemon folder but, lazily when it packs a workdir, `workdir`, `checkpoint` and `jobs` (the spec) and
the config file readers; `spotwise` and the CLI import it.
"""

from orchestrator.client.client import FINAL_STATES, Client
from orchestrator.client.errors import (
    BadRequest,
    BadResponse,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    ServerError,
    SettingsError,
    SpotwiseError,
    TimedOut,
    Unauthorized,
    Unavailable,
    Unreachable,
    UsageError,
    WaitTimeout,
)
from orchestrator.client.narrate import WaitEvent

__all__ = [
    "FINAL_STATES", "BadRequest", "BadResponse", "Client", "Conflict", "Forbidden", "Invalid", "NotFound",
    "RateLimited", "ServerError", "SettingsError", "SpotwiseError", "TimedOut", "Unauthorized", "Unavailable",
    "Unreachable", "UsageError", "WaitEvent", "WaitTimeout",
]
