"""The contract every provider must pass, whatever cloud it talks to.

Usage: subclass `ProviderContract` in a test module and provide a `harness` fixture that
returns a `ContractHarness` (a provider wired to moto, a fake server, or the local machine).
The suite terminates whatever it launched and checks that nothing tagged is left behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from providers.base import (
    PREFLIGHT_KEY,
    TAG_ATTEMPT,
    TAG_CLUSTER,
    TAG_JOB,
    AgentBootstrap,
    Identity,
    InstanceInfo,
    InstanceState,
    LaunchSpec,
    Offer,
    OfferQuery,
    PreflightRow,
    Provider,
    run_preflight,
)


def _cheapest_gpu_spot(offers: list[Offer]) -> Offer:
    spot = [o for o in offers if o.spot and o.gpu_count > 0] or [o for o in offers if o.spot] or offers
    return min(spot, key=lambda o: o.price_per_hour)


@dataclass
class ContractHarness:
    provider: Provider
    offer_query: OfferQuery = field(default_factory=OfferQuery)
    choose_offer: Callable[[list[Offer]], Offer] = _cheapest_gpu_spot
    api_url: str = "http://127.0.0.1:9"  # nothing listens: agents on real instances just retry


class ProviderContract:
    """Subclass and provide a `harness` fixture."""

    @pytest.fixture
    def cluster_id(self) -> str:
        return "contract-" + uuid.uuid4().hex[:8]

    @pytest.fixture
    def ctx(self, harness: ContractHarness, cluster_id: str) -> Iterator[ContractHarness]:
        yield harness
        leftover = harness.provider.list_managed(cluster_id)
        harness.provider.terminate([i.id for i in leftover])
        assert harness.provider.list_managed(cluster_id) == [], "terminate left tagged instances"

    def _spec(self, ctx: ContractHarness, cluster_id: str, key: str | None = None) -> LaunchSpec:
        offer = ctx.choose_offer(ctx.provider.list_offers(ctx.offer_query))
        key = key or uuid.uuid4().hex
        attempt = f"att-{key[:8]}"
        return LaunchSpec(
            idempotency_key=key, cluster_id=cluster_id, job_id=f"job-{key[:8]}", attempt_id=attempt,
            offer=offer, bootstrap=AgentBootstrap(api_url=ctx.api_url, attempt_id=attempt, token="t0k"),
        )

    def test_check_credentials_names_the_provider(self, ctx: ContractHarness) -> None:
        identity = ctx.provider.check_credentials()
        assert isinstance(identity, Identity)
        assert identity.provider == ctx.provider.name

    def test_offers_are_priced_pools_of_this_cloud(self, ctx: ContractHarness) -> None:
        offers = ctx.provider.list_offers(ctx.offer_query)
        assert offers, "a provider under contract must offer something"
        for offer in offers:
            assert offer.cloud == ctx.provider.name
            assert offer.price_per_hour > 0
            assert offer.region and offer.zone and offer.instance_type
            assert offer.gpu_count >= 0 and offer.vcpus > 0
            assert offer.price_fetched_at.tzinfo is not None
        assert len({o.pool for o in offers}) == len(offers), "each pool is offered once"

    def test_spot_query_returns_only_spot(self, ctx: ContractHarness) -> None:
        query = OfferQuery(gpu_model=ctx.offer_query.gpu_model, regions=ctx.offer_query.regions, spot=True)
        offers = ctx.provider.list_offers(query)
        assert offers and all(o.spot for o in offers)

    def test_launch_tags_the_instance(self, ctx: ContractHarness, cluster_id: str) -> None:
        spec = self._spec(ctx, cluster_id)
        info = ctx.provider.launch(spec)
        assert isinstance(info, InstanceInfo)
        assert info.provider == ctx.provider.name
        assert info.tags[TAG_CLUSTER] == cluster_id
        assert info.tags[TAG_JOB] == spec.job_id
        assert info.tags[TAG_ATTEMPT] == spec.attempt_id
        assert info.zone == spec.offer.zone and info.instance_type == spec.offer.instance_type
        assert info.spot == spec.offer.spot
        assert info.state in (InstanceState.PENDING, InstanceState.RUNNING)

    def test_launch_is_idempotent_on_the_key(self, ctx: ContractHarness, cluster_id: str) -> None:
        spec = self._spec(ctx, cluster_id)
        first = ctx.provider.launch(spec)
        second = ctx.provider.launch(spec)
        assert first.id == second.id
        mine = [i for i in ctx.provider.list_managed(cluster_id) if i.attempt_id == spec.attempt_id]
        assert [i.id for i in mine] == [first.id]

    def test_list_managed_sees_only_its_cluster(self, ctx: ContractHarness, cluster_id: str) -> None:
        other_cluster = cluster_id + "-other"
        mine = ctx.provider.launch(self._spec(ctx, cluster_id))
        theirs = ctx.provider.launch(self._spec(ctx, other_cluster))
        try:
            assert [i.id for i in ctx.provider.list_managed(cluster_id)] == [mine.id]
            assert [i.id for i in ctx.provider.list_managed(other_cluster)] == [theirs.id]
        finally:
            ctx.provider.terminate([theirs.id])

    def test_describe_reports_launched_and_tolerates_unknown(self, ctx: ContractHarness, cluster_id: str) -> None:
        info = ctx.provider.launch(self._spec(ctx, cluster_id))
        described = {i.id: i for i in ctx.provider.describe([info.id])}
        assert described[info.id].state in (InstanceState.PENDING, InstanceState.RUNNING)
        assert described[info.id].price_per_hour > 0
        unknown = ctx.provider.describe([self._unknown_id(ctx)])
        assert all(i.state is InstanceState.TERMINATED for i in unknown)

    def test_terminate_is_idempotent(self, ctx: ContractHarness, cluster_id: str) -> None:
        info = ctx.provider.launch(self._spec(ctx, cluster_id))
        ctx.provider.terminate([info.id])
        ctx.provider.terminate([info.id])
        ctx.provider.terminate([self._unknown_id(ctx)])
        assert ctx.provider.list_managed(cluster_id) == []
        for described in ctx.provider.describe([info.id]):
            assert described.state in (InstanceState.STOPPING, InstanceState.TERMINATED)

    def test_interruption_events_is_a_list(self, ctx: ContractHarness) -> None:
        assert isinstance(ctx.provider.interruption_events(), list)

    def test_preflight_answers_in_rows_and_launches_nothing(self, ctx: ContractHarness) -> None:
        rows = run_preflight(ctx.provider, "https://spotwise.example.com")
        assert rows and all(isinstance(r, PreflightRow) and r.provider == ctx.provider.name for r in rows)
        assert all(r.fix for r in rows if not r.ok), "a failing row must name its fix"
        assert all(isinstance(r, PreflightRow) for r in run_preflight(ctx.provider, "https://x", cloud_calls=False))
        assert ctx.provider.list_managed(PREFLIGHT_KEY) == []  # the preflight's own names: nothing was launched

    def _unknown_id(self, ctx: ContractHarness) -> str:
        """An id in the provider's own format that names nothing; override when the format matters."""
        return getattr(self, "unknown_instance_id", "i-0000000000000dead")
