"""Turn queued jobs into launched instances: place, record the attempt, then call the cloud.

The attempt (with its idempotency key) is committed BEFORE the launch call. If the daemon dies
during the call, the next pass finds the attempt still LAUNCHING and calls `launch` again with
the same key: the provider returns the instance it already made, never a second one.
"""

from __future__ import annotations

import time
from datetime import timedelta

from orchestrator import transitions as T
from orchestrator.attempts import AttemptState, advance_attempt, create_attempt, end_attempt, record_instance
from orchestrator.logs import get_logger
from orchestrator.models import JobSpec, JobState
from orchestrator.queue import claim_runnable, job_by_id
from orchestrator.runtime import Runtime
from orchestrator.serialize import offer_from_json
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt
from orchestrator.store.types import utcnow
from orchestrator.tokens import agent_token
from policies.placement import PlacementRequest, Pool, rank_offers
from providers.base import AgentBootstrap, LaunchSpec, Offer, OfferQuery
from providers.errors import AuthError, CapacityError, InvalidRequest, PriceError, ProviderError, QuotaError

log = get_logger(__name__)

CAPACITY_BLOCK_SECONDS = 180.0  # as Karpenter: a pool that just failed is skipped for 3 minutes
QUOTA_BLOCK_SECONDS = 1800.0
MAX_LAUNCH_TRIES = 5
CLAIM_BATCH = 20


def placement_request(spec: JobSpec) -> PlacementRequest:
    res = spec.resources
    acc = res.accelerators
    return PlacementRequest(
        gpu_model=acc.model if acc else None, gpu_count=acc.count if acc else 0, spot=res.spot,
        clouds=tuple(res.clouds), regions=tuple(res.regions), zones=tuple(res.zones),
        instance_type=res.instance_type, min_vcpus=res.cpus, min_memory_gb=res.memory_gb,
        max_price_per_hour=res.max_price_per_hour,
    )


def backoff_seconds(failures: int) -> float:
    return float(min(300, 5 * 2 ** min(failures, 6)))


class Launcher:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.blocked: dict[Pool, float] = {}  # pool -> monotonic time the block ends
        self.blocked_regions: dict[tuple[str, str], float] = {}

    # -- placement -----------------------------------------------------------------------------

    def _offers(self) -> list[Offer]:
        offers: list[Offer] = []
        for name, provider in self.rt.providers.items():
            try:
                offers.extend(provider.list_offers(OfferQuery()))
            except ProviderError as exc:
                log.warning("list_offers_failed", provider=name, error=str(exc))
        return offers

    def _blocked_pools(self, offers: list[Offer]) -> set[Pool]:
        now = time.monotonic()
        pools = {p for p, until in self.blocked.items() if until > now}
        regions = {r for r, until in self.blocked_regions.items() if until > now}
        pools.update(o.pool for o in offers if (o.cloud, o.region) in regions)
        return pools

    def place_queue(self) -> int:
        """Claim runnable jobs in queue order and start an attempt for each that can be placed."""
        offers: list[Offer] | None = None
        started: list[str] = []
        with transaction(self.rt.sessions) as s:
            jobs = claim_runnable(s, CLAIM_BATCH)
            if jobs:
                offers = self._offers()
                blocked = self._blocked_pools(offers)
            for job in jobs:
                assert offers is not None
                spec = JobSpec.model_validate(job.spec)
                ranked = rank_offers(placement_request(spec), offers, blocked)
                if not ranked:
                    delay = backoff_seconds(job.attempts_count)
                    reason = "no offer matches the job's resources right now" + (
                        " (some pools are blocked after launch failures)" if blocked else "")
                    if job.state != JobState.WAITING_CAPACITY:
                        T.wait_for_capacity(s, job, reason, utcnow() + timedelta(seconds=delay))
                    else:
                        job.not_before = utcnow() + timedelta(seconds=delay)
                    continue
                choice = ranked[0]
                attempt = create_attempt(s, job, choice.offer)
                T.start_provisioning(s, job, attempt.id, choice.reason)
                started.append(attempt.id)
        for attempt_id in started:
            self.launch(attempt_id)
        return len(started)

    # -- launch --------------------------------------------------------------------------------

    def launch(self, attempt_id: str) -> None:
        """(Re-)issue the launch of a recorded attempt. Safe to call any number of times."""
        with transaction(self.rt.sessions) as s:
            attempt = s.get(Attempt, attempt_id)
            if attempt is None or attempt.state != AttemptState.LAUNCHING:
                return
            attempt.launch_tries += 1
            tries = attempt.launch_tries
            job = job_by_id(s, attempt.job_id)
            spec = self._launch_spec(attempt, JobSpec.model_validate(job.spec))
        provider = self.rt.providers.get(spec.offer.cloud)
        if provider is None:
            self._launch_failed(attempt_id, f"provider {spec.offer.cloud} is not enabled", retry_at_once=True)
            return
        try:
            info = provider.launch(spec)
        except (CapacityError, PriceError) as exc:
            self.blocked[spec.offer.pool] = time.monotonic() + CAPACITY_BLOCK_SECONDS
            self._launch_failed(attempt_id, f"{type(exc).__name__} in {spec.offer.zone}: {exc}", retry_at_once=True)
            return
        except QuotaError as exc:
            self.blocked_regions[(spec.offer.cloud, spec.offer.region)] = time.monotonic() + QUOTA_BLOCK_SECONDS
            self._launch_failed(attempt_id, f"quota in {spec.offer.region}: {exc}", retry_at_once=True)
            return
        except InvalidRequest as exc:
            self._launch_failed(attempt_id, f"the cloud rejected the request: {exc}", fatal=True)
            return
        except (AuthError, ProviderError) as exc:
            if tries >= MAX_LAUNCH_TRIES:
                self._launch_failed(attempt_id, f"launch failed {tries} times: {exc}")
            else:
                log.warning("launch_retry_later", attempt=attempt_id, error=str(exc))
            return
        with transaction(self.rt.sessions) as s:
            attempt = s.get(Attempt, attempt_id)
            if attempt is None:
                return
            record_instance(s, attempt, info)
            if advance_attempt(s, attempt_id, AttemptState.LAUNCHING, AttemptState.LAUNCHED,
                               launched_at=utcnow()):
                T.record_event(s, attempt.job_id, f"launched {info.provider} instance {info.id} "
                               f"({info.instance_type}, {'spot' if info.spot else 'on-demand'}, {info.zone})",
                               kind="launch", attempt_id=attempt_id)
        log.info("launched", attempt=attempt_id, instance=info.id, provider=info.provider, zone=info.zone)

    def _launch_spec(self, attempt: Attempt, job_spec: JobSpec) -> LaunchSpec:
        return LaunchSpec(
            idempotency_key=attempt.idempotency_key, cluster_id=self.rt.cluster_id, job_id=attempt.job_id,
            attempt_id=attempt.id, offer=offer_from_json(attempt.offer),
            bootstrap=AgentBootstrap(api_url=self.rt.settings.effective_public_url, attempt_id=attempt.id,
                                     token=agent_token(self.rt.agent_secret, attempt.id)),
            max_price_per_hour=job_spec.resources.max_price_per_hour,
        )

    def _launch_failed(self, attempt_id: str, reason: str, *, fatal: bool = False,
                       retry_at_once: bool = False) -> None:
        with transaction(self.rt.sessions) as s:
            attempt = s.get(Attempt, attempt_id)
            if attempt is None or not end_attempt(s, attempt_id, AttemptState.LAUNCH_FAILED, reason):
                return
            job = job_by_id(s, attempt.job_id)
            if JobState(job.state).is_final:
                return
            if fatal:
                T.mark_failed(s, job, reason, attempt_id=attempt_id)
            else:
                delay = 0.0 if retry_at_once else backoff_seconds(job.attempts_count)
                T.wait_for_capacity(s, job, reason, utcnow() + timedelta(seconds=delay))
        log.warning("launch_failed", attempt=attempt_id, reason=reason)
