"""Finding and reading Spotwise's YAML config file, without the settings model.

Why a module of its own: the CLI's client commands read the same file as the daemon (where the daemon
listens, which token to send), and importing the daemon's settings model (pydantic-settings and every
validator) to read four keys cost each `spotwise jobs list` about a tenth of a second. Everything here
imports only the standard library until a file is actually there to parse.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the CLI's light path imports this module
    from importlib.abc import Traversable


class ConfigError(ValueError):
    """The configuration cannot be read (missing file, bad YAML, bad JSON in a variable): one line says which
    file or variable and what is wrong, for `spotwise serve` to print instead of a traceback."""


def default_home() -> Path:
    return Path(os.environ.get("SPOTWISE_HOME") or Path.home() / ".spotwise")


def config_path() -> Path | None:
    """The config file, if any. A SPOTWISE_CONFIG that names no file is an error: silently running on
    defaults (another database, no providers) is worse than not starting."""
    explicit = os.environ.get("SPOTWISE_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            why = "is a directory" if path.is_dir() else "does not exist"
            raise ConfigError(f"SPOTWISE_CONFIG names {path}, which {why}; point it at a YAML file or unset it")
        return path
    candidate = default_home() / "config.yaml"
    return candidate if candidate.exists() else None


def read_config_text(text: str, source: object) -> dict[str, Any]:
    """The settings mapping in a config file's `text`; a ConfigError naming `source` (and the line) otherwise."""
    import yaml

    from orchestrator.formats.strictyaml import load_strict

    try:
        data = load_strict(text)  # a second `providers:` silently replaced the first
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {source} is not valid YAML{_yaml_where(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {source} must be a mapping of settings (port: 8470, ...), "
                          f"not a {type(data).__name__}")
    return data


def read_config_file(path: Path | Traversable) -> dict[str, Any]:
    """The settings mapping in the config file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    return read_config_text(text, path)


def _yaml_where(exc: Exception) -> str:
    """' at line L, column C: problem' from a YAML error, as far as it says."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: {problem}"
