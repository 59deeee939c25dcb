"""Spotwise's Python client: `from spotwise import Client`.

Only re-exports `orchestrator.client`, where the client lives (the product's packages are orchestrator/,
providers/ and policies/); see docs/client.md.
"""

from orchestrator.client import (
    FINAL_STATES,
    BadRequest,
    BadResponse,
    Client,
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
    WaitEvent,
    WaitTimeout,
)

__all__ = [
    "FINAL_STATES", "BadRequest", "BadResponse", "Client", "Conflict", "Forbidden", "Invalid", "NotFound",
    "RateLimited", "ServerError", "SettingsError", "SpotwiseError", "TimedOut", "Unauthorized", "Unavailable",
    "Unreachable", "UsageError", "WaitEvent", "WaitTimeout",
]
