"""A cloud as one package: the per-cloud declaration (`CloudPlugin`) and the registry that finds every cloud.

Why: the core used to choose a cloud's notice watcher, checkpoint store and catalog format through per-cloud
`if` chains, and kept its grid carbon, egress prices, bucket lookup and instance identity proof in tables keyed by
cloud name, so adding a cloud meant editing files outside its package, and a provider installed by entry point
could not bring those parts at all. Now each cloud package exposes `PLUGIN` (built-ins: `providers/<cloud>/
__init__.py`; others: the entry-point group `spotwise.clouds`) and the core looks everything up by name here.

Declarations are cheap to import on purpose: the agent reads them on the instance, so a plugin names its
provider class as a "module:Class" string and its factories import their SDK only when called.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
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
#: Locates a bucket by the cloud's API: called as locate(bucket_name, provider or None), returns its region; may
#: raise anything (the caller logs it and treats the region as unknown). `provider` is the configured Provider.
BucketLocator = Callable[[str, Any], str]
#: Why a row of the cloud's vms.csv is not an offer its provider would launch (None: it is): fn(GpuInfo, Arch).
RowFilter = Callable[[str, str], "str | None"]


@dataclass(frozen=True, slots=True)
class Figure:
    """One published number (a price, a rate) with where it was read and when: egress prices are declared so."""

    value: float
    source: str
    as_of: str = ""
    note: str = ""


@dataclass(frozen=True)
class CloudPlugin:
    """Everything the core needs to know about one cloud, declared by its package.

    - `provider`: the Provider class as "module:Class" (imported only when the cloud is configured);
    - `notice_watcher`: builds the watcher for SPOTWISE_NOTICE=`name`[:ARG]; it gets ARG ("" when absent; a
      metadata address, or a file for file-based notices) and may return None when ARG is unusable;
    - `storage_schemes`: URL scheme -> store factory for checkpoint and workdir URLs;
    - `storage_extra`: the pip extra that brings the store SDK (for the error message when it is missing);
    - `vms_csv`: which variant of SkyPilot's `vms.csv` price lists this cloud's catalogs are imported as
      (orchestrator/catalog/vmscsv.py: "gcp", "azure", or "generic" for complete rows like AWS's); None: no import;
    - `catalog_row_filter`: fn(GpuInfo, Arch) -> why a "generic" vms.csv GPU row is no offer the provider launches;
    - `grid_carbon`: the grid carbon intensity of the cloud's regions and its PUE (policies/energy.py), as a JSON
      file or the same mapping inline: {"source", "year", "pue", "pue_source", "regions": {REGION: {"g_per_kwh",
      "location"}}}; None: every region counts as the world average;
    - `egress`: USD per GB leaving the cloud's buckets per move kind ("same_region", "cross_region", "internet");
      a kind left out is priced as policies/egress.py's figure for an unknown cloud;
    - `bucket_schemes`: URL schemes of the cloud's buckets (data sets, checkpoint and workdir stores) -> the
      canonical spelling (`gcs` -> `gs`), so one bucket has one key whatever the spelling;
    - `bucket_region`: how a bucket's region is found when the settings do not say: a `BucketLocator` that asks
      the cloud (S3's GetBucketLocation), or a fixed region every bucket of the cloud is in (the local disk);
      None: unknown, priced as another region of the cloud;
    - `identity`: the module (dotted name) of the cloud's instance identity proof: the agent's fetcher and the
      daemon's check and signature verifier (providers/identity.py lists what it defines); None: the cloud's
      agents exchange their bootstrap token on the token alone;
    - `remote_instances`: its instances run on other machines than the daemon's, so they need a `public_url`
      they can reach (orchestrator/publicurl.py);
    - `skypilot_name`: the cloud's name in SkyPilot task files (`resources.cloud`/`infra`); None: not one.
    """

    name: str
    provider: str
    notice_watcher: NoticeFactory | None = None
    storage_schemes: Mapping[str, StoreFactory] = field(default_factory=dict)
    storage_extra: str | None = None
    vms_csv: str | None = None
    catalog_row_filter: RowFilter | None = None
    grid_carbon: Path | Mapping[str, Any] | None = None
    egress: Mapping[str, Figure] = field(default_factory=dict)
    bucket_schemes: Mapping[str, str] = field(default_factory=dict)
    bucket_region: BucketLocator | str | None = None
    identity: str | None = None
    remote_instances: bool = False
    skypilot_name: str | None = None


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


def grid_carbon() -> dict[str, Mapping[str, Any]]:
    """cloud -> its grid carbon table (see `CloudPlugin.grid_carbon`), files read from the cloud's package."""
    tables: dict[str, Mapping[str, Any]] = {}
    for p in plugins():
        if isinstance(p.grid_carbon, Path):
            tables[p.name] = json.loads(p.grid_carbon.read_text(encoding="utf-8"))
        elif p.grid_carbon is not None:
            tables[p.name] = p.grid_carbon
    return tables


def egress_prices() -> dict[str, Mapping[str, Figure]]:
    """cloud -> move kind -> its egress figure, for every cloud that declares one."""
    return {p.name: p.egress for p in plugins() if p.egress}


def bucket_schemes() -> dict[str, tuple[CloudPlugin, str]]:
    """Bucket URL scheme -> (the cloud it belongs to, its canonical spelling), over every plugin."""
    return {scheme: (p, canonical) for p in plugins() for scheme, canonical in p.bucket_schemes.items()}


def identity_module(name: str) -> ModuleType | None:
    """The identity-proof module of the cloud called `name` (imported now), or None when it declares none."""
    found = plugin(name)
    return importlib.import_module(found.identity) if found is not None and found.identity else None
