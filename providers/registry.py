"""Provider name -> implementation, loaded lazily so a missing SDK disables only its provider.

Every cloud declares its provider class as a "module:Class" string in its plugin (providers/plugin.py: built-ins
and the entry-point group `spotwise.clouds`); a provider alone may still register under the older group
`spotwise.providers`. Each class builds itself from its config section with `from_config`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from providers.base import Provider
from providers.errors import NotSupported
from providers.plugin import plugin, plugins

ENTRY_POINT_GROUP = "spotwise.providers"


def available_names() -> list[str]:
    """Every provider name known: built-in plus installed plugins."""
    names = {p.name for p in plugins()}
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def load_class(name: str) -> type:
    """Import the provider class for `name`; a missing SDK becomes a clear NotSupported."""
    cloud = plugin(name)
    if cloud is None:
        matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not matches:
            raise NotSupported(
                f"unknown provider {name!r}; known providers: {', '.join(available_names())}",
                provider=name,
            )
        return matches[0].load()  # type: ignore[no-any-return]
    module_name, _, class_name = cloud.provider.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise NotSupported(
            f"provider {name!r} is not installed ({exc.name or exc}); "
            f"install it with: pip install 'spotwise[{name}]'",
            provider=name,
        ) from exc
    return getattr(module, class_name)  # type: ignore[no-any-return]


def create_provider(name: str, config: dict[str, Any], home: Path) -> Provider:
    """Build a configured provider instance."""
    cls = load_class(name)
    provider = cls.from_config(dict(config), home=home)  # type: ignore[attr-defined]
    if not isinstance(provider, Provider):
        raise NotSupported(f"{cls!r} does not implement the Provider protocol", provider=name)
    return provider
