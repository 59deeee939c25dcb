"""The `local` provider: the embedded default that needs no cloud account.

An "instance" is a process group on this machine running the Spotwise agent, priced from a
small built-in catalog of real GPU instance shapes (`providers/catalog/local.json`). It behaves
like a cloud where it matters to the daemon: launches are idempotent on the attempt's key,
records outlive the daemon, everything it starts is tagged (an environment marker), and a spot
instance can be preempted on request -- a notice first, then a kill after the grace period.

`pool_capacity` (config) makes a pool run out of room like a cloud zone does: {"ZONE:TYPE" or "ZONE": N}
allows at most N live instances there, and the next launch raises CapacityError (how a test makes the
second node of a gang fail). Every instance is told SPOTWISE_NODE_IP=127.0.0.1: its gang peers are here.

Who a job runs as and where its files live: providers/local/jobuser.py (a root daemon runs each team's jobs as
that team's own unprivileged uid, in private directories outside the daemon's home).

This module only declares the cloud (`PLUGIN`, read by providers/plugin.py); the provider class lives in
`provider.py` and is imported on first use, so reading the declaration (as the agent does on an instance)
imports no cloud SDK.
It never imports `orchestrator` or another cloud's package; the daemon reaches it through providers/registry.py by
name, and imports one of its modules directly only for a fact that only this cloud has.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from providers.notice import NoticeWatcher
from providers.plugin import CloudPlugin, Figure, lazy_exports

if TYPE_CHECKING:
    from providers.local.provider import LocalProvider

__all__ = ["LocalProvider", "PLUGIN"]

__getattr__ = lazy_exports(__name__, "provider", "LocalProvider")


def _notice_watcher(arg: str) -> NoticeWatcher | None:
    """SPOTWISE_NOTICE=local:PATH: the notice file the provider writes (no PATH: no watcher)."""
    from providers.local.notices import LocalFileNotice

    return LocalFileNotice(Path(arg)) if arg else None


_DISK = Figure(0.0, "local disk: no cloud bills it", "as of 2026-12-01")

PLUGIN = CloudPlugin(
    name="local",
    provider="providers.local.provider:LocalProvider",
    notice_watcher=_notice_watcher,
    grid_carbon=Path(__file__).resolve().parent / "grid_carbon.json",
    egress={"same_region": _DISK, "cross_region": _DISK, "internet": _DISK},
    bucket_schemes={"file": "file"},  # the local provider's checkpoint store: a directory on this machine
    bucket_region="local",  # one place: every file:// store is beside every local instance
    identity="providers.local.identity",
    skypilot_name="local",
)
