"""Where a client finds the daemon (URL and token), read without the daemon's settings model.

Used by `spotwise.Client` when no URL or token is given, and so by every CLI command. Why: a client command (`jobs
list`, `offers`, ...) needs four settings: url, token, port and home. Building the daemon's `Settings` for them
(pydantic-settings, the whole config model and its validators) was about a third of each `spotwise jobs list`. The
sources and their precedence are the same as `Settings`: the environment (SPOTWISE_URL, SPOTWISE_TOKEN,
SPOTWISE_PORT, SPOTWISE_HOME), then the YAML file (SPOTWISE_CONFIG, or $SPOTWISE_HOME/config.yaml), then the
defaults; a missing or broken file is the same one-line error. Settings a client never uses are the daemon's to
validate, when `spotwise serve` starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from orchestrator.client.errors import SettingsError
from orchestrator.configfile import ConfigError, config_path, default_home, read_config_file

DEFAULT_PORT = 8470  # Settings.port's default


class Endpoint(Protocol):
    """Where the daemon is and how to sign in: `ClientSettings` or the daemon's full `Settings`."""

    @property
    def token(self) -> str: ...

    @property
    def effective_url(self) -> str: ...

    @property
    def admin_token_file(self) -> Path: ...


@dataclass(frozen=True)
class ClientSettings:
    """What `Client.from_settings` reads; the full `Settings` has the same attributes."""

    url: str = ""
    token: str = ""
    port: int = DEFAULT_PORT
    home: Path = Path()

    @property
    def effective_url(self) -> str:
        return self.url or f"http://127.0.0.1:{self.port}"

    @property
    def admin_token_file(self) -> Path:
        return self.home / "admin-token"


def _environment() -> dict[str, str]:
    """SPOTWISE_* variables by lower-case setting name (pydantic-settings matches them case-insensitively)."""
    found: dict[str, str] = {}
    for key, value in os.environ.items():
        lower = key.lower()
        if lower.startswith("spotwise_"):
            found[lower.removeprefix("spotwise_")] = value
    return found


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: must be a string, not {type(value).__name__}")
    return value


def _port(value: Any, where: str) -> int:
    try:
        port = int(value.strip() if isinstance(value, str) else value)
        if isinstance(value, bool | float) or not 1 <= port <= 65535:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: must be a TCP port from 1 to 65535, not {value!r}") from None
    return port


def load_client_settings() -> ClientSettings:
    """url, token, port and home from the environment, the config file and the defaults (in that order)."""
    env = _environment()
    path = config_path()
    file = read_config_file(path) if path is not None else {}

    def pick(name: str) -> tuple[Any, str] | None:
        if name in env:
            return env[name], f"SPOTWISE_{name.upper()}"
        if name in file:
            return file[name], f"{name} in {path}"
        return None

    values: dict[str, Any] = {}
    for name in ("url", "token"):
        if found := pick(name):
            values[name] = _text(*found)
    if found := pick("port"):
        values["port"] = _port(*found)
    found = pick("home")
    home = _text(*found) if found else ""
    values["home"] = Path(home) if home else default_home()
    return ClientSettings(**values)


def check_token(token: str, source: str) -> str:
    """Tokens are printable ASCII; anything else would fail deep in the HTTP library with a Python error."""
    if token and not all(33 <= ord(c) < 127 for c in token):
        raise SettingsError(f"{source} is not a valid API token: tokens are printable ASCII without spaces; copy "
                            "it again from where you got it (an admin makes tokens with 'spotwise tokens create')")
    return token


def resolve_token(settings: Endpoint) -> str:
    """The configured token, else the admin token the local daemon wrote into its home, else none."""
    if settings.token:
        return check_token(settings.token, "SPOTWISE_TOKEN")
    path = settings.admin_token_file
    try:
        return check_token(path.read_text().strip(), str(path))
    except (OSError, UnicodeDecodeError):
        return ""
