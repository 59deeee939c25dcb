"""Turn queued jobs into launched instances: place, record the attempt, then call the cloud.

The attempt (with its idempotency key) is committed BEFORE the launch call. If the daemon dies
during the call, the next pass finds the attempt still LAUNCHING and calls `launch` again with
the same key: the provider returns the instance it already made, never a second one.

A multi-node job (`resources.num_nodes` > 1) is placed the same way, then `plan_gang` puts every node
on one offer (one zone, one market); `launch_gang` launches the nodes in order with keys `<key>-<n>`,
recording each node's Instance row as it returns, and releases the partial gang on a failure, which
then fails over to the next offer exactly like a one-node launch. Price caps count the whole gang.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.alerts import emit
from orchestrator.catalog.pricing import OfferCache, refresh_due
from orchestrator.containment import describe, fail_job, job_errors, transient
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import (
    AttemptState,
    advance_attempt,
    close_instance,
    create_attempt,
    end_attempt,
    open_instances,
    record_instance,
)
from orchestrator.jobs.fair_queue import next_look_delay
from orchestrator.jobs.models import JobSpec, JobState
from orchestrator.jobs.queue import claim_runnable, has_runnable, job_by_id
from orchestrator.jobs.serialize import offer_from_json
from orchestrator.logs import get_logger
from orchestrator.provisioning.agentwheel import pinned_wheel
from orchestrator.provisioning.deadline import apply_deadline, deadline_applies
from orchestrator.provisioning.feasibility import unconfigured_providers, waiting_reason
from orchestrator.provisioning.gang import gang_note, launch_gang
from orchestrator.provisioning.placement_request import node_price, placement_request_for
from orchestrator.provisioning.placement_state import (
    load_blocks,
    recent_preemptions,
    save_block,
    spot_mode,
    waiting_since,
)
from orchestrator.provisioning.totalcost import deadline_data, rank_job
from orchestrator.provisioning.transfers import transfer_rates
from orchestrator.runtime import Runtime
from orchestrator.spending.budget import budget_gate
from orchestrator.spending.caps import limits_for
from orchestrator.spending.policy_store import current_policy
from orchestrator.spending.policyfile import PolicyFile
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, Job
from orchestrator.store.types import utcnow
from orchestrator.tokens import bootstrap_token
from policies.blocks import Block, Blocks, Pool
from policies.egress import TransferRates
from policies.gang import GangPlan, plan_gang
from policies.placement import OfferIndex, PlacementRequest, Priors, RankedOffer
from providers.base import AgentBootstrap, InstanceInfo, InstanceState, LaunchSpec
from providers.errors import AuthError, CapacityError, InvalidRequest, PriceError, ProviderError, QuotaError

if TYPE_CHECKING:
    from orchestrator.config import Settings

log = get_logger(__name__)

MAX_LAUNCH_TRIES = 5  # transient failures of one attempt before it is given up
CLAIM_BATCH = 20
Candidate = RankedOffer | GangPlan  # both carry .offer and .reason
RELEASE_ON = (CapacityError, PriceError, QuotaError, AuthError, InvalidRequest)  # a gang failing so gives up its nodes


def backoff_seconds(failures: int) -> float:
    return float(min(300, 5 * 2 ** min(failures, 6)))


def consecutive_launch_failures(session: Session, job_id: str) -> int:
    """The job's launch failures since its last attempt that got an instance: what the backoff doubles on.

    Why not `attempts_count`: it counts every attempt of the job's life, so a job preempted or crashed ten
    times backed off 300 s on its first capacity miss (seen in a chaos run: WAITING_CAPACITY for minutes
    with 11 attempts, its pools' 2 s blocks long expired). A streak of failed launches is what says the
    cloud has no room; a new streak starts at the base delay.
    """
    states = session.scalars(select(Attempt.state).where(Attempt.job_id == job_id).order_by(Attempt.number.desc()))
    streak = 0
    for state in states:
        if state != AttemptState.LAUNCH_FAILED:
            break
        streak += 1
    return streak


def request_now(s: Session, job: Job, spec: JobSpec, settings: Settings, policy: PolicyFile) -> PlacementRequest:
    """The job's request as a launcher pass would rank it now: `spot: auto` asks spot first until the fallback, and
    the policy file's price cap (for N nodes together) filters besides the job's own. `/v1/offers?for_job=` shows
    this same request, so what it answers is what the launcher weighs."""
    waited = (utcnow() - waiting_since(s, job)).total_seconds()
    return placement_request_for(spec, spot=spot_mode(spec.resources.spot, waited, settings.spot_auto_fallback_seconds),
                                 carbon_prices=settings.carbon_prices, limits=limits_for(policy, job))


class Launcher:
    """Places claimed jobs on ranked offers and launches them, failing over within one pass.

    Launch outcomes: "launched"; "retry" (the offer failed in a way that blocks it: capacity,
    price, quota, auth -- try the next offer); "deferred" (a transient error: the same attempt is
    re-issued by the next pass); "failed" (the job is failed or gone).
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.blocks = Blocks()  # epoch-second expiries; mirrored in the pool_blocks table
        self.cache = OfferCache()
        self._rates: TransferRates | None = None  # the transfer rates of the current pass

    # -- placement -----------------------------------------------------------------------------

    def _view(self) -> tuple[OfferIndex, Blocks, Priors]:
        """Offers of the enabled providers (refreshed when due), active blocks and priors."""
        settings = self.rt.settings
        refresh_due(self.rt)
        self.cache.clouds = frozenset(self.rt.providers)
        index = self.cache.get(self.rt.sessions)
        with transaction(self.rt.sessions) as s:
            blocks = load_blocks(s)
            observed = recent_preemptions(s, settings.preemption_window_seconds)
        now = time.time()
        self.blocks.prune(now)
        for block in self.blocks.active(now):
            blocks.add(block)
        return index, blocks, Priors(lost_hours=settings.interruption_lost_hours, observed=observed)

    def _request(self, s: Session, job: Job, spec: JobSpec, policy: PolicyFile) -> PlacementRequest:
        return request_now(s, job, spec, self.rt.settings, policy)

    def place_queue(self) -> int:
        """Claim runnable jobs in queue order, start an attempt for each that can be placed, launch."""
        with transaction(self.rt.sessions) as s:
            if not has_runnable(s):
                return 0
        index, blocks, priors = self._view()
        limit = max(1, self.rt.settings.placement_max_launch_attempts)
        started: list[tuple[str, str, list[Candidate]]] = []
        with transaction(self.rt.sessions) as s:
            jobs = claim_runnable(s, CLAIM_BATCH)
            now = time.time()
            policy = current_policy(s)
            self._rates = transfer_rates(s, self.rt.settings) if jobs else None  # once a pass, not once a job
            for job in jobs:  # a job that raises (a stored spec that no longer validates) fails alone
                with job_errors(s, job.id, "placing the job"):
                    placed = self._place(s, job, policy, (index, blocks, priors), now, limit)
                    if placed is not None:
                        started.append(placed)
        for attempt_id, job_id, rest in started:
            try:
                self._launch_with_failover(attempt_id, job_id, rest, limit)
            except Exception as exc:  # the job's own fault (see launch): it fails, the others still launch
                if transient(exc):
                    raise
                with transaction(self.rt.sessions) as s:
                    fail_job(s, job_id, f"launching the job failed: {describe(exc)}", exc)
        return len(started)

    def _place(self, s: Session, job: Job, policy: PolicyFile, view: tuple[OfferIndex, Blocks, Priors], now: float,
               limit: int) -> tuple[str, str, list[Candidate]] | None:
        """Start an attempt for one claimed job: (attempt, job, other candidates), or None when it waits."""
        index, blocks, priors = view
        held = budget_gate(s, job)
        if held is not None:  # a budget's block_new/stop: wait in BLOCKED_BUDGET, unblocked by its sweep
            T.block_for_budget(s, job, held)
            return None
        spec = JobSpec.model_validate(job.spec)
        req = self._request(s, job, spec, policy)
        nodes = spec.resources.num_nodes
        prefer: str | None = None
        if deadline_applies(job, spec):  # the deadline policy picks spot, on-demand or a wait
            decided = apply_deadline(s, self.rt.settings, job, req, index, blocks, priors.observed, utcnow(),
                                     backoff_seconds(job.attempts_count + limit),
                                     deadline_data(s, self.rt, job, spec, self._rates))
            if decided is None:
                return None
            req, prefer = decided
        ranked = rank_job(s, self.rt, job, spec, req, index, blocks, prefer, priors=priors, now=now, limit=limit,
                          rates=self._rates)  # by expected cost to finish, unless the deadline policy chose a zone
        if not ranked:
            self._wait(s, job, req, blocks, index)
            return None
        plans: list[Candidate] = list(plan_gang(ranked, nodes)) if nodes > 1 else list(ranked)
        choice = plans[0]
        attempt = create_attempt(s, job, choice.offer, nodes)
        T.start_provisioning(s, job, attempt.id, choice.reason)
        return attempt.id, job.id, plans[1:]

    def _wait(self, s: Session, job: Job, req: PlacementRequest, blocks: Blocks, index: OfferIndex) -> None:
        waited = (utcnow() - waiting_since(s, job)).total_seconds()  # a job that keeps missing is looked at less
        delay = next_look_delay(backoff_seconds(consecutive_launch_failures(s, job.id)), waited)
        # What it waits for, honestly: nothing matches at all (say what exists) or every match is blocked (until when).
        reason = waiting_reason(req, index, blocks, time.time(),
                                unconfigured_providers(frozenset(self.rt.settings.providers)))
        if req.spot is True and JobSpec.model_validate(job.spec).resources.spot == "auto":
            reason += f"; spot: auto takes on-demand after {self.rt.settings.spot_auto_fallback_seconds:g}s"
        if job.state != JobState.WAITING_CAPACITY:
            T.wait_for_capacity(s, job, reason, utcnow() + timedelta(seconds=delay))
        else:
            job.not_before = utcnow() + timedelta(seconds=delay)
            job.reason = reason  # a job stored under an older reason gets today's

    def _launch_with_failover(self, attempt_id: str, job_id: str, rest: list[Candidate], limit: int) -> None:
        """Launch; on a blocking failure take the next ranked offer, up to `limit` tries this pass."""
        tried = 1
        outcome = self.launch(attempt_id)
        while outcome == "retry" and rest and tried < limit:
            candidate = rest.pop(0)
            block = self.blocks.why(candidate.offer.pool, time.time())
            if block is not None:
                continue
            with transaction(self.rt.sessions) as s:
                job = job_by_id(s, job_id)
                if job.state != JobState.WAITING_CAPACITY:
                    return
                held = budget_gate(s, job)
                if held is not None:  # a budget blocked the scope since this pass began: no new attempt
                    T.block_for_budget(s, job, held)
                    return
                attempt = create_attempt(s, job, candidate.offer, JobSpec.model_validate(job.spec).resources.num_nodes)
                T.start_provisioning(s, job, attempt.id, f"failover: {candidate.reason}")
                attempt_id = attempt.id
            tried += 1
            outcome = self.launch(attempt_id)
        if outcome != "retry":
            return
        with transaction(self.rt.sessions) as s:
            job = job_by_id(s, job_id)
            if job.state == JobState.WAITING_CAPACITY:
                delay = backoff_seconds(consecutive_launch_failures(s, job_id))
                job.not_before = utcnow() + timedelta(seconds=delay)
                T.record_event(s, job_id, f"tried {tried} offer(s) in this pass, none launched; "
                               f"placing again in {delay:g}s", kind="placement")

    def _block(self, scope: str, pool: Pool, seconds: float, reason: str, error: ProviderError | None = None) -> None:
        self.blocks.add(self._persist_block(scope, pool, seconds, reason, error))

    def _persist_block(self, scope: str, pool: Pool, seconds: float, reason: str,
                       error: ProviderError | None = None) -> Block:
        """Save the block; a quota or auth error also alerts, in the same transaction (once per block TTL)."""
        with transaction(self.rt.sessions) as s:
            block = save_block(s, scope, pool, seconds, reason)
            if isinstance(error, QuotaError | AuthError):
                kind = "quota.exceeded" if isinstance(error, QuotaError) else "provider.auth_failed"
                where = pool[0] if scope == "provider" else f"{pool[0]} {pool[1]}"
                what = "quota exhausted" if kind == "quota.exceeded" else "credentials refused; provider disabled"
                payload = {"cloud": pool[0], "region": pool[1], "zone": pool[2], "scope": scope,
                           "blocked_seconds": seconds, "error": str(error)}
                emit(s, kind, f"{where}: {what} for {seconds:g}s", body=reason, payload=payload,
                     severity="critical" if kind == "provider.auth_failed" else "warning",
                     dedup_key=f"{kind}:{where}:{int(time.time() // max(seconds, 1.0))}")
            return block

    # -- launch --------------------------------------------------------------------------------

    def launch(self, attempt_id: str) -> str:
        """(Re-)issue the launch of a recorded attempt. Safe to call any number of times.

        An error that is neither the provider's (handled in `_launch`) nor the database's (re-raised: the pass
        fails and the next one re-issues the launch) is the job's own, e.g. a stored spec that no longer
        validates: the attempt ends LAUNCH_FAILED and the job FAILED with the error, never blocking the pass."""
        try:
            return self._launch(attempt_id)
        except Exception as exc:
            if transient(exc):
                raise
            log.exception("launch_raised", attempt=attempt_id)
            self._launch_failed(attempt_id, f"launching the job failed: {describe(exc)}", fatal=True)
            return "failed"

    def _launch(self, attempt_id: str) -> str:
        with transaction(self.rt.sessions) as s:
            attempt = s.get(Attempt, attempt_id)
            if attempt is None or attempt.state != AttemptState.LAUNCHING:
                return "failed"
            attempt.launch_tries += 1
            tries, nodes = attempt.launch_tries, attempt.nodes
            job = job_by_id(s, attempt.job_id)
            spec = self._launch_spec(attempt, JobSpec.model_validate(job.spec))
        offer = spec.offer
        provider = self.rt.providers.get(offer.cloud)
        if provider is None:
            self._launch_failed(attempt_id, f"provider {offer.cloud} is not enabled", retry_at_once=True)
            return "retry"
        where = f"{offer.cloud} {'spot' if offer.spot else 'on-demand'} {offer.instance_type} in {offer.zone}"
        if nodes > 1:
            where = f"{nodes} x {where}"
        try:
            if nodes == 1:
                infos = [provider.launch(spec)]
            else:  # node by node, each recorded as it returns; a failure releases the partial gang
                tokens = [bootstrap_token(self.rt.agent_secret, attempt_id, n) for n in range(nodes)]
                infos = launch_gang(provider, spec, nodes, tokens=tokens, release_on=RELEASE_ON,
                                    on_launched=lambda n, info: self._record_node(attempt_id, n, info))
                dead = [n for n, i in enumerate(infos) if i.state.is_gone]
                if dead:  # released after a failure whose end a crash lost: that key cannot come back
                    self._launch_failed(attempt_id, f"gang node(s) {dead} of {where} came back terminated; "
                                        "launching a new gang", retry_at_once=True)
                    return "retry"
        except (CapacityError, PriceError, QuotaError, AuthError) as exc:
            scope, seconds = self._block_policy(exc)
            self._block(scope, offer.pool, seconds, f"{type(exc).__name__}: {exc}", exc)
            alert = isinstance(exc, QuotaError | AuthError)
            (log.error if alert else log.warning)(
                "launch_blocked", attempt=attempt_id, provider=offer.cloud, zone=offer.zone, scope=scope,
                error=str(exc), alert=alert)
            self._launch_failed(attempt_id, f"{type(exc).__name__} on {where}: {exc}{gang_note(exc)}; "
                                f"{scope} blocked for {seconds:g}s", retry_at_once=True)
            return "retry"
        except InvalidRequest as exc:
            self._launch_failed(attempt_id, f"the cloud rejected the request: {exc}{gang_note(exc)}", fatal=True)
            return "failed"
        except ProviderError as exc:
            if tries >= MAX_LAUNCH_TRIES:
                self._launch_failed(attempt_id, f"launch on {where} failed {tries} times: {exc}{gang_note(exc)}")
                return "failed"
            log.warning("launch_retry_later", attempt=attempt_id, error=str(exc))
            return "deferred"
        info = infos[0]
        with transaction(self.rt.sessions) as s:
            attempt = s.get(Attempt, attempt_id)
            if attempt is None:
                return "failed"
            for node, each in enumerate(infos):
                record_instance(s, attempt, each, node)
            if advance_attempt(s, attempt_id, AttemptState.LAUNCHING, AttemptState.LAUNCHED,
                               launched_at=utcnow()):
                job = job_by_id(s, attempt.job_id)
                self.rt.placement_latency.observe((utcnow() - waiting_since(s, job)).total_seconds())
                what = f"instance {info.id}" if nodes == 1 else \
                    f"{nodes}-node gang {', '.join(i.id for i in infos)}"
                T.record_event(s, attempt.job_id, f"launched {info.provider} {what} "
                               f"({info.instance_type}, {'spot' if info.spot else 'on-demand'}, {info.zone})",
                               kind="launch", attempt_id=attempt_id)
        log.info("launched", attempt=attempt_id, instance=info.id, provider=info.provider, zone=info.zone,
                 nodes=nodes)
        return "launched"

    def _record_node(self, attempt_id: str, node: int, info: InstanceInfo) -> None:
        """Commit node `node`'s Instance row before the next node is launched (kill -9 safe)."""
        with transaction(self.rt.sessions) as s:
            attempt = s.get(Attempt, attempt_id)
            if attempt is not None:
                record_instance(s, attempt, info, node)

    def _block_policy(self, exc: ProviderError) -> tuple[str, float]:
        """(scope, seconds) to block after a launch error: the error's scope, the configured TTL."""
        settings = self.rt.settings
        if isinstance(exc, AuthError):
            return "provider", settings.auth_block_seconds
        if isinstance(exc, QuotaError):
            scope = exc.scope.value if exc.scope.value in ("region", "provider") else "region"
            return scope, settings.quota_block_seconds
        scope = exc.scope.value if exc.scope.value in ("pool", "zone", "region") else "pool"
        return scope, settings.capacity_block_seconds

    def _launch_spec(self, attempt: Attempt, job_spec: JobSpec) -> LaunchSpec:
        return LaunchSpec(
            idempotency_key=attempt.idempotency_key, cluster_id=self.rt.cluster_id, job_id=attempt.job_id,
            attempt_id=attempt.id, offer=offer_from_json(attempt.offer),
            bootstrap=AgentBootstrap(api_url=self.rt.settings.effective_public_url, attempt_id=attempt.id,
                                     token=bootstrap_token(self.rt.agent_secret, attempt.id),
                                     **pinned_wheel(self.rt.settings, attempt.provider)),  # the daemon's agent wheel
            max_price_per_hour=node_price(job_spec.resources.max_price_per_hour, attempt.nodes),
            team=job_spec.team, team_job=job_spec.submitted_by == "team", disk_gb=job_spec.resources.disk_gb,
        )

    def _launch_failed(self, attempt_id: str, reason: str, *, fatal: bool = False,
                       retry_at_once: bool = False) -> None:
        with transaction(self.rt.sessions) as s:
            attempt = s.get(Attempt, attempt_id)
            if attempt is None or not end_attempt(s, attempt_id, AttemptState.LAUNCH_FAILED, reason):
                return
            for row in open_instances(s, attempt_id):  # nodes of a partial gang, released by launch_gang
                close_instance(s, row, InstanceState.TERMINATED.value)
            job = job_by_id(s, attempt.job_id)
            if JobState(job.state).is_final:
                return
            if fatal:
                T.mark_failed(s, job, reason, attempt_id=attempt_id)
            else:
                delay = 0.0 if retry_at_once else backoff_seconds(consecutive_launch_failures(s, job.id))
                T.wait_for_capacity(s, job, reason, utcnow() + timedelta(seconds=delay))
        log.warning("launch_failed", attempt=attempt_id, reason=reason)
