"""What the CLI adds to the Python client (orchestrator/client, public as `spotwise`): `CliError`, the exit
codes, and how a client error is told on the terminal. Every command talks to the daemon through `Client`.

Imports only the standard library and the light client at module level: every command imports this module;
pydantic and the settings model are imported by the code that uses them (see `load_settings`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.client import Client, SpotwiseError, Unauthorized, UsageError
from orchestrator.client.http import segment
from orchestrator.configfile import ConfigError

if TYPE_CHECKING:
    from orchestrator.client.settings import ClientSettings
    from orchestrator.config import Settings

__all__ = ["CliError", "Client", "check_output", "client_settings", "failure", "load_settings", "segment"]


class CliError(Exception):
    """Printed as 'error: ...' with a non-zero exit, never as a traceback."""

    def __init__(self, message: str, exit_code: int = 1, status: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.status = status  # the HTTP status when the daemon refused, so a command can rephrase a 404


def check_output(output: str, *choices: str) -> None:
    """Refuse an unknown -o/--output before any request, so a typo never half-runs a command (a job submitted,
    a token made and never shown); exit 2 like every other usage error. `choices` default: table, json."""
    valid = choices or ("table", "json")
    if output not in valid:
        listed = ", ".join(valid[:-1]) + f" or {valid[-1]}"
        raise CliError(f"unknown --output {output!r}; use {listed}", exit_code=2)


def client_settings() -> ClientSettings:
    """The url, token, port and home a client command needs, without building the daemon's `Settings`."""
    from orchestrator.client.settings import load_client_settings

    try:
        return load_client_settings()
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def load_settings(**flags: Any) -> Settings:
    """The full settings (serve, submit), with `flags` (command-line options, e.g. serve's --port) on top,
    validated like the file and the environment. A bad value is one 'error:' line; a bad flag names the flag
    and exits 2 like any usage error."""
    from pydantic import ValidationError

    from orchestrator.config import Settings
    from orchestrator.jobs.specfile import describe_validation_error  # the spec loader is heavier than the client

    try:
        return Settings(**flags)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    except ValidationError as exc:
        flagged = [e for e in exc.errors() if e["loc"] and e["loc"][0] in flags]
        if flagged:
            name = str(flagged[0]["loc"][0])
            message = flagged[0]["msg"].removeprefix("Value error, ")
            raise CliError(f"--{name} {flags[name]}: {message}", exit_code=2) from None
        raise CliError("bad configuration: " + "; ".join(describe_validation_error(exc, Settings))) from None


UNAUTHORIZED_HINT = (" (set SPOTWISE_TOKEN to an API token: ask your Spotwise admin for one; an admin makes it "
                     "with 'spotwise tokens create --team NAME')")


def failure(exc: SpotwiseError) -> CliError:
    """A client error as the CLI reports it: the message (a 401 with how to get a token), exit 2 for a usage
    error (an empty or '/'-holding id, a body JSON cannot carry), else 1."""
    if isinstance(exc, Unauthorized):
        return CliError(f"{exc}{UNAUTHORIZED_HINT}", exit_code=1, status=exc.status)
    return CliError(str(exc), exit_code=2 if isinstance(exc, UsageError) else 1, status=exc.status)
