"""The CLI's HTTP client of the API. Every failure becomes a `CliError` with a message to act on.

Imports only the standard library at module level: every command imports this module; the transport, pydantic
and the settings model are imported by the code that uses them (see `client_settings`, `transport.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from orchestrator.configfile import ConfigError

if TYPE_CHECKING:
    from orchestrator.cli.clientsettings import ClientSettings
    from orchestrator.config import Settings


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


class Endpoint(Protocol):
    """Where the daemon is and how to sign in: `ClientSettings` or the full `Settings`."""

    @property
    def token(self) -> str: ...

    @property
    def effective_url(self) -> str: ...

    @property
    def admin_token_file(self) -> Path: ...


def client_settings() -> ClientSettings:
    """The url, token, port and home a client command needs, without building the daemon's `Settings`."""
    from orchestrator.cli.clientsettings import load_client_settings

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
    from orchestrator.specfile import describe_validation_error  # the spec loader is heavier than the client

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


def segment(value: str, what: str = "id") -> str:
    """`value` as one URL path segment: every reserved character percent-encoded, '.' too.

    Why: ids are typed by users, and a raw '?x=1', '' or '../tokens' changed which URL was asked for
    (a query string, the list endpoint, a dot segment that httpx resolves). '/' cannot be sent at all:
    the server decodes %2F before routing, so such a name can never match; refuse it here instead.
    """
    if not value.strip():
        raise CliError(f"the {what} is empty; give one (see 'spotwise --help')", exit_code=2)
    if "/" in value:
        raise CliError(f"{what} {value!r} is not valid: it cannot contain '/'", exit_code=2)
    return quote(value, safe="").replace(".", "%2E")


def _check_token(token: str, source: str) -> str:
    """Tokens are printable ASCII; anything else would fail deep in the HTTP library with a Python error."""
    if token and not all(33 <= ord(c) < 127 for c in token):
        raise CliError(f"{source} is not a valid API token: tokens are printable ASCII without spaces; copy it "
                       "again from where you got it (an admin makes tokens with 'spotwise tokens create')")
    return token


def resolve_token(settings: Endpoint) -> str:
    if settings.token:
        return _check_token(settings.token, "SPOTWISE_TOKEN")
    path = settings.admin_token_file
    try:
        return _check_token(path.read_text().strip(), str(path))
    except (OSError, UnicodeDecodeError):
        return ""


class ApiClient:
    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        from orchestrator.cli.transport import StdlibHttp  # here, not at module level: `spotwise --help` never needs it

        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http: Any = StdlibHttp(self.url, headers, timeout)  # tests may swap in a TestClient

    @classmethod
    def from_settings(cls, settings: Endpoint, timeout: float = 30.0) -> ApiClient:
        return cls(settings.effective_url, resolve_token(settings), timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        from orchestrator.cli.transport import ConnectFailed, TimedOut, TransportError

        try:
            response = self._http.request(method, path, **kwargs)
        except ConnectFailed:
            raise CliError(f"cannot reach the Spotwise daemon at {self.url}; start it with 'spotwise serve' "
                           "or point SPOTWISE_URL at it") from None
        except TimedOut:
            raise CliError(f"the daemon at {self.url} did not answer in time") from None
        except TransportError as exc:
            raise CliError(f"request to {self.url} failed: {exc}") from None
        except (UnicodeError, ValueError) as exc:  # e.g. NaN or unpaired surrogates in a JSON body
            raise CliError(f"cannot send this request: {exc}", exit_code=2) from None
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                message = error["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:300] or response.reason_phrase
            hint = ""
            if response.status_code == 401:
                hint = (" (set SPOTWISE_TOKEN to an API token: ask your Spotwise admin for one; an admin makes "
                        "it with 'spotwise tokens create --team NAME')")
            raise CliError(f"{message}{hint}", exit_code=1, status=response.status_code)
        try:
            return response.json()
        except ValueError:
            raise CliError(f"the server at {self.url} did not answer {path} with JSON; is SPOTWISE_URL the "
                           "Spotwise daemon?") from None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {})
