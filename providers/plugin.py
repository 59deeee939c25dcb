"""A cloud as one package: the per-cloud declaration (`CloudPlugin`) and the registry that finds every cloud.

Why: the core used to choose a cloud's notice watcher, checkpoint store and catalog format through per-cloud
`if` chains, so adding a cloud meant editing files outside its package, and a provider installed by entry point
could not bring those parts at all. Now each cloud package exposes `PLUGIN` (built-ins: `providers/<cloud>/
__init__.py`; others: the entry-point group `spotwise.clouds`) and the core looks everything up by name here.

Declarations are cheap to import on purpose: the agent reads them on the instance, so a plugin names its
provider class as a "module:Class" string and its factories import their SDK only when called.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from providers.notice import NoticeWatcher
from providers.objectstore import ObjectStore

ENTRY_POINT_GROUP = "spotwise.clouds"

#: Built-in clouds, so an uninstalled checkout finds them too (their entry points name the same objects).
BUILTIN: dict[str, str] = {
    "aws": "providers.aws:PLUGIN",
    "gcp": "providers.gcp:PLUGIN",
    "azure": "providers.azure:PLUGIN",
    "local": "providers.local:PLUGIN",
    "faulty": "providers.faulty:PLUGIN",
}

NoticeFactory = Callable[[str], NoticeWatcher | None]
#: Builds the store for SCHEME://BUCKET/PREFIX: called as factory(bucket, prefix, **options).
StoreFactory = Callable[..., ObjectStore]


@dataclass(frozen=True)
class CloudPlugin:
    """Everything the core needs to know about one cloud, declared by its package.

    - `provider`: the Provider class as "module:Class" (imported only when the cloud is configured);
    - `notice_watcher`: builds the watcher for SPOTWISE_NOTICE=`name`[:ARG]; it gets ARG ("" when absent; a
      metadata address, or a file for file-based notices) and may return None when ARG is unusable;
    - `storage_schemes`: URL scheme -> store factory for checkpoint and workdir URLs;
    - `storage_extra`: the pip extra that brings the store SDK (for the error message when it is missing);
    - `vms_csv`: which variant of SkyPilot's `vms.csv` price lists this cloud's catalogs are imported as
      (orchestrator/catalog/vmscsv.py: "gcp", "azure", or "generic" for complete rows like AWS's); None: no import.
    """

    name: str
    provider: str
    notice_watcher: NoticeFactory | None = None
    storage_schemes: Mapping[str, StoreFactory] = field(default_factory=dict)
    storage_extra: str | None = None
    vms_csv: str | None = None


def lazy_exports(package: str, module: str, *names: str) -> Callable[[str], Any]:
    """A module `__getattr__` for a cloud package: `names` come from `package`.`module`, imported when first asked.

    Why: a cloud package's `__init__` is read wherever its `PLUGIN` is (the agent on an instance, every
    `plugins()` call), so it must not import its provider module -- and with it the cloud SDK -- up front, yet
    `from providers.aws import AWSProvider` should keep working. Use as
    `__getattr__ = lazy_exports(__name__, "provider", "AWSProvider")`, with the names also imported under
    `TYPE_CHECKING` for type checkers."""
    exported = frozenset(names)

    def __getattr__(name: str) -> Any:
        if name in exported:
            return getattr(importlib.import_module(f"{package}.{module}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


def _load(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


@cache
def plugins() -> tuple[CloudPlugin, ...]:
    """Every cloud plugin: built-ins first (in BUILTIN's order), then installed ones by name. Cached: entry points
    do not change while a process runs (tests that install one call `plugins.cache_clear()`).

    An installed plugin that cannot be loaded is left out with a warning (see `broken_plugins`): one broken
    third-party package must not stop the daemon, or an agent on an instance, from using every other cloud."""
    found: dict[str, CloudPlugin] = {}
    _BROKEN.clear()
    for name, target in BUILTIN.items():
        found[name] = _load(target)
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        if ep.name in found:
            continue  # a built-in's own entry point, or a plugin that would shadow one: the built-in wins
        try:
            loaded = ep.load()
        except Exception as exc:  # noqa: BLE001 - any failure of foreign code: report it, keep the rest
            _BROKEN[ep.name] = f"{ep.value} cannot be loaded: {type(exc).__name__}: {exc}"
        else:
            if isinstance(loaded, CloudPlugin) and loaded.name == ep.name:
                found[ep.name] = loaded
                continue
            _BROKEN[ep.name] = f"{ep.value} is not a CloudPlugin named {ep.name!r}"
        logging.getLogger(__name__).warning("cloud plugin %s left out: %s", ep.name, _BROKEN[ep.name])
    return tuple(found.values())


_BROKEN: dict[str, str] = {}


def broken_plugins() -> dict[str, str]:
    """Installed cloud plugins left out of `plugins()`, with why."""
    plugins()
    return dict(_BROKEN)


def plugin(name: str) -> CloudPlugin | None:
    """The plugin of the cloud called `name`, or None when no such cloud is known."""
    return next((p for p in plugins() if p.name == name), None)


def watcher_for(source: str) -> NoticeWatcher | None:
    """The notice watcher for SPOTWISE_NOTICE=KIND[:ARG] (None: no watcher, the job just runs)."""
    kind, _, arg = source.partition(":")
    found = plugin(kind)
    if found is None or found.notice_watcher is None:
        return None
    return found.notice_watcher(arg)


def storage_schemes() -> dict[str, tuple[CloudPlugin, StoreFactory]]:
    """URL scheme -> (the cloud that brings it, its store factory), over every plugin."""
    return {scheme: (p, factory) for p in plugins() for scheme, factory in p.storage_schemes.items()}
