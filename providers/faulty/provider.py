"""`FaultyProvider`: the fault-injecting wrapper's Provider. Why it exists and its config are told in the package
docstring (providers/faulty/__init__.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from providers.base import (
    Capability,
    Identity,
    InstanceInfo,
    Interruption,
    LaunchSpec,
    Offer,
    OfferQuery,
    PreflightRow,
    Provider,
    run_preflight,
)
from providers.errors import CapacityError, InvalidRequest, NotSupported, ProviderError, ThrottledError, TransientError

KINDS = ("capacity", "throttle", "server", "timeout", "timeout_after_launch")


class FaultyProvider:
    """Delegates to `inner`, failing a random share of calls with classified provider errors."""

    name: ClassVar[str] = "faulty"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SPOT, Capability.ON_DEMAND, Capability.PREEMPT_ON_REQUEST}
    )

    def __init__(self, inner: Provider, *, error_rate: float = 0.1, kinds: Sequence[str] = KINDS,
                 timeout_seconds: float = 1.0, seed: int = 0, fault_log: Path | None = None) -> None:
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise InvalidRequest(f"unknown fault kinds {sorted(unknown)}; valid: {', '.join(KINDS)}", provider="faulty")
        if not 0.0 <= error_rate <= 1.0:
            raise InvalidRequest("error_rate must be between 0 and 1", provider="faulty")
        self.inner = inner
        self.error_rate = error_rate
        self.kinds = tuple(kinds)
        self.timeout_seconds = timeout_seconds
        self.fault_log = fault_log
        self._rng = random.Random(f"{seed}:{os.getpid()}")
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: dict[str, Any], *, home: Path) -> FaultyProvider:
        from providers.registry import create_provider  # late: the registry imports providers lazily

        inner_name = str(config.pop("wraps", "local"))
        if inner_name == cls.name:
            raise InvalidRequest("the faulty provider cannot wrap itself", provider="faulty")
        inner = create_provider(inner_name, dict(config.pop("wrapped_config", {}) or {}), home)
        log = config.pop("fault_log", None)
        return cls(inner, fault_log=Path(log) if log else None, **config)

    # -- fault injection -----------------------------------------------------------------------

    def _draw(self, operation: str, kinds: Sequence[str]) -> str | None:
        allowed = [k for k in self.kinds if k in kinds]
        with self._lock:
            if not allowed or self._rng.random() >= self.error_rate:
                return None
            kind = self._rng.choice(allowed)
        if self.fault_log is not None:
            line = json.dumps({"t": time.time(), "pid": os.getpid(), "op": operation, "kind": kind})
            with open(self.fault_log, "a") as fh:
                fh.write(line + "\n")
        return kind

    def _raise(self, kind: str, operation: str) -> None:
        where = f"injected {kind} fault in {operation}"
        if kind == "capacity":
            raise CapacityError(f"{where}: no capacity", provider=self.name, raw_code="InsufficientCapacity")
        if kind == "throttle":
            raise ThrottledError(f"{where}: rate exceeded", provider=self.name, raw_code="Throttling")
        if kind == "server":
            raise TransientError(f"{where}: internal error", provider=self.name, raw_code="500")
        time.sleep(self.timeout_seconds)
        raise TransientError(f"{where}: timed out", provider=self.name, raw_code="Timeout")

    def _maybe_fail(self, operation: str, kinds: Sequence[str] = ("throttle", "server", "timeout")) -> None:
        kind = self._draw(operation, kinds)
        if kind is not None:
            self._raise(kind, operation)

    # -- relabelling ---------------------------------------------------------------------------

    def _out(self, info: InstanceInfo) -> InstanceInfo:
        return dataclasses.replace(info, provider=self.name)

    def _in_offer(self, offer: Offer) -> Offer:
        if offer.cloud != self.name:
            raise InvalidRequest(f"offer is for cloud {offer.cloud!r}, not {self.name}", provider=self.name)
        return dataclasses.replace(offer, cloud=self.inner.name)

    # -- Provider protocol ---------------------------------------------------------------------

    def check_credentials(self) -> Identity:
        identity = self.inner.check_credentials()
        return dataclasses.replace(identity, provider=self.name)

    def list_offers(self, query: OfferQuery) -> list[Offer]:
        self._maybe_fail("list_offers")
        return [dataclasses.replace(o, cloud=self.name) for o in self.inner.list_offers(query)]

    def launch(self, spec: LaunchSpec) -> InstanceInfo:
        kind = self._draw("launch", ("capacity", "throttle", "server", "timeout", "timeout_after_launch"))
        if kind is not None and kind != "timeout_after_launch":
            self._raise(kind, "launch")
        info = self.inner.launch(dataclasses.replace(spec, offer=self._in_offer(spec.offer)))
        if kind == "timeout_after_launch":
            raise TransientError("injected timeout after launch: the answer was lost", provider=self.name,
                                 raw_code="Timeout")
        return self._out(info)

    def describe(self, ids: Sequence[str]) -> list[InstanceInfo]:
        self._maybe_fail("describe")
        return [self._out(i) for i in self.inner.describe(ids)]

    def list_managed(self, cluster_id: str) -> list[InstanceInfo]:
        self._maybe_fail("list_managed")
        return [self._out(i) for i in self.inner.list_managed(cluster_id)]

    def terminate(self, ids: Sequence[str]) -> None:
        self._maybe_fail("terminate")
        self.inner.terminate(ids)

    def interruption_events(self) -> list[Interruption]:
        return self.inner.interruption_events()

    def preflight(self, api_url: str, *, cloud_calls: bool = True) -> list[PreflightRow]:
        """The wrapped provider's preflight (never faulted: it is asked to tell the admin the truth)."""
        return [dataclasses.replace(row, provider=self.name)
                for row in run_preflight(self.inner, api_url, cloud_calls=cloud_calls)]

    def preempt(self, instance_id: str, grace_seconds: float | None = None) -> InstanceInfo:
        """Chaos preemption passes through (never faulted: it is the harness's own tool)."""
        preempt = getattr(self.inner, "preempt", None)
        if preempt is None:
            raise NotSupported(f"{self.inner.name} cannot preempt on request", provider=self.name)
        return self._out(preempt(instance_id, grace_seconds))


__all__ = ["KINDS", "FaultyProvider", "ProviderError"]
