"""A fault-injecting provider that wraps another one: for chaos tests and for trying a config safely.

Why a provider and not test hooks: the daemon's reconcile, placement and retry code must survive a
cloud that fails the way real clouds do, and the only honest way to show that is to feed it failures
through the same seam every cloud uses. Production code stays free of test switches; this wrapper is
opt-in by config only:

    providers:
      faulty:
        wraps: local              # any registered provider name
        wrapped_config: {}        # that provider's own section
        error_rate: 0.1           # probability per call of one injected fault
        kinds: [capacity, throttle, server, timeout, timeout_after_launch]
        timeout_seconds: 1.0      # how long a `timeout` fault hangs before failing
        seed: 7                   # per process: the seed is mixed with the pid
        fault_log: /path/faults.jsonl   # optional: one JSON line per injected fault

Offers and instances are relabelled `faulty` so the daemon routes everything through the wrapper.
`timeout_after_launch` makes the launch call really happen and then fail as if the answer were lost:
the ambiguous case that idempotency keys exist for.

This module only declares the cloud (`PLUGIN`, read by providers/plugin.py); the provider class lives in
`provider.py` and is imported on first use, so reading the declaration (as the agent does on an instance)
imports no cloud SDK.
It never imports `orchestrator` or another cloud's package; the daemon reaches it through providers/registry.py by
name, and imports one of its modules directly only for a fact that only this cloud has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.plugin import CloudPlugin, lazy_exports

if TYPE_CHECKING:
    from providers.faulty.provider import FaultyProvider

__all__ = ["FaultyProvider", "PLUGIN"]

__getattr__ = lazy_exports(__name__, "provider", "FaultyProvider")


PLUGIN = CloudPlugin(
    name="faulty",
    provider="providers.faulty.provider:FaultyProvider",
)
