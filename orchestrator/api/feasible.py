"""Honest answers at submit: refuse a job no configured provider could ever run, and show where a dry run would go.

The check reads the offers of the configured providers (the launcher's view, blocks ignored) from an index kept per
app. Why the index is re-validated at most once a second, in a worker thread: the submit path is the API's hot path
(api/submitbatch.py), and a store query per submission would cost more than the check itself (an index lookup,
microseconds, run in the event loop). A refusal is only ever given after a fresh look, so a catalog imported a
moment ago is never reported missing.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from orchestrator.api.errors import ApiError
from orchestrator.catalog.price_store import OfferCache
from orchestrator.jobs.models import JobSpec
from orchestrator.provisioning.feasibility import (
    Assessment,
    assess,
    gpu_name_problem,
    offered_models,
    unconfigured_providers,
    waiting_reason,
)
from orchestrator.provisioning.placement_request import placement_request_for
from orchestrator.runtime import Runtime
from policies.placement import OfferIndex, PlacementRequest, Priors
from providers.gpus import is_known_gpu

MEMO_LIMIT = 1024  # request shapes remembered per index
RECHECK_SECONDS = 1.0  # how stale the index may be for an acceptance (a refusal always looks again)


def configured_names(rt: Runtime) -> frozenset[str]:
    """Providers the daemon is configured for: its settings' (even one whose section failed to load) and those it
    runs (the launcher's)."""
    return frozenset(rt.settings.providers) | frozenset(rt.providers)


class Feasibility:
    """The configured providers' offers, indexed, for the submit-time check of one app."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.configured = configured_names(rt)
        self.cache = OfferCache(clouds=self.configured)
        self.checked_at = float("-inf")
        self.lock = threading.Lock()  # one reload at a time (worker threads); not an asyncio lock: tests run loops
        self.unconfigured = unconfigured_providers(self.configured)
        # Answers per request shape for the current index: a CPU-only job ranks a 60k-offer catalog in ~0.25 ms, and
        # submissions repeat a handful of shapes.
        self.memo: dict[tuple[PlacementRequest, int], Assessment] = {}
        self.memo_index: OfferIndex | None = None

    @classmethod
    def of(cls, request: Request, rt: Runtime) -> Feasibility:
        found = getattr(request.app.state, "feasibility", None)
        if found is None or found.rt is not rt:
            found = request.app.state.feasibility = cls(rt)
        return found  # type: ignore[no-any-return]

    async def index(self, force: bool = False) -> OfferIndex:
        """The index, re-validated against the store's generation when over a second old (or when forced)."""
        now = time.monotonic()
        if self.cache.index is not None and not force and now - self.checked_at < RECHECK_SECONDS:
            return self.cache.index
        return await run_in_threadpool(self._refresh)

    def _refresh(self) -> OfferIndex:
        with self.lock:
            index = self.cache.get(self.rt.sessions)  # reloads only when the store's generation changed
            self.checked_at = time.monotonic()
            return index

    async def check(self, spec: JobSpec, limit: int = 3) -> Assessment:
        """The assessment of a new job; raises the 422 when its GPU is unknown or nothing could ever run it."""
        result = await self._assess(spec, await self.index(), limit)
        if result.problem is not None:  # look again before refusing: an import may have landed within the second
            result = await self._assess(spec, await self.index(force=True), limit)
        if result.problem is not None:
            raise ApiError(422, "invalid_spec", result.problem, [result.problem])
        return result

    async def _assess(self, spec: JobSpec, index: OfferIndex, limit: int) -> Assessment:
        for acc in spec.resources.gpu_options():  # every candidate GPU type must be a real one
            if not is_known_gpu(acc.model):  # the offered models only for a name the table lacks
                problem = gpu_name_problem(acc.model, offered_models(index))
                if problem is not None:
                    return Assessment(problem=problem)
        req = placement_request_for(spec, carbon_prices=self.rt.settings.carbon_prices)  # could it ever run
        if self.memo_index is not index:  # new offers: every remembered answer is void
            self.memo, self.memo_index = {}, index
        found = self.memo.get((req, limit))
        if found is None:
            found = assess(req, index, self.unconfigured, limit)
            if len(self.memo) < MEMO_LIMIT:
                self.memo[(req, limit)] = found
        return found


    async def where_now(self, spec: JobSpec, assessed: Assessment) -> Assessment:
        """The dry run's offers as the launcher would rank them now: blocked pools left out, expected cost with the
        interruption priors, `spot: auto` asking spot first. Nothing ranked (all blocked, or only the other market):
        the feasible offers with a note on why the job would wait."""
        if not assessed.ranked:
            return assessed
        return await run_in_threadpool(self._where_now, spec, assessed)

    def _where_now(self, spec: JobSpec, assessed: Assessment) -> Assessment:
        from orchestrator.provisioning.placement_state import load_blocks, recent_preemptions, spot_mode
        from orchestrator.store.db import transaction

        settings = self.rt.settings
        with transaction(self.rt.sessions) as s:
            blocks = load_blocks(s)
            observed = recent_preemptions(s, settings.preemption_window_seconds)
        index = self.cache.index
        assert index is not None  # assessed.ranked came from it
        spot = spot_mode(spec.resources.spot, 0.0, settings.spot_auto_fallback_seconds)
        req = placement_request_for(spec, spot=spot, carbon_prices=settings.carbon_prices)
        now = time.time()
        priors = Priors(lost_hours=settings.interruption_lost_hours, observed=observed)
        if settings.transfer.enabled:  # as the launcher ranks: expected cost to finish, data moves included
            from orchestrator.provisioning.totalcost import as_ranked, profile_for, rank_total

            with transaction(self.rt.sessions) as s:
                rows = rank_total(s, self.rt, spec, req, index, blocks, priors=priors, now=now,
                                  limit=len(assessed.ranked))
                horizon = profile_for(s, self.rt, spec).horizon
            if rows:
                return Assessment(ranked=as_ranked(rows), note=assessed.note, totals=[r.cost for r in rows],
                                  winner_reason=rows[0].reason, horizon=horizon)
        ranked = index.rank(req, blocks, priors=priors, now=now, limit=len(assessed.ranked))
        if ranked:
            return Assessment(ranked=ranked, note=assessed.note)
        why = waiting_reason(req, index, blocks, now, self.unconfigured)
        if spec.resources.spot == "auto":
            why += f"; spot: auto takes on-demand after {settings.spot_auto_fallback_seconds:g}s"
        return Assessment(ranked=assessed.ranked, note=f"it would wait now ({why}); these offers match once it may")


def dry_run_view(result: Assessment, spec: JobSpec) -> dict[str, Any]:
    """What `?dry_run=true` answers: where the job would go now, cheapest expected cost first; nothing is queued."""
    from orchestrator.api.offers import offer_view
    from orchestrator.store.types import utcnow

    now_ts = utcnow().timestamp()
    return {"dry_run": True, "queued": False, "name": spec.name, "team": spec.team,
            "accelerators": " or ".join(str(a) for a in spec.resources.gpu_options()) or None,
            "note": result.note or None,
            "offers": [offer_view(r, now_ts, result.totals[i] if i < len(result.totals) else None)
                       for i, r in enumerate(result.ranked)],
            **({"winner_reason": result.winner_reason, "horizon": result.horizon} if result.totals else {})}
