"""AWSProvider: the Provider protocol over EC2, the Pricing API, SSM, EventBridge and SQS.

The class wires the small modules of this package together and fans calls out per region in a
bounded thread pool. It translates, it does not decide: no placement logic lives here.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from providers.aws import instances as ec2i
from providers.aws import interruptions, scores
from providers.aws.advisor import SpotAdvisor
from providers.aws.config import AWSConfig
from providers.aws.errors import translated
from providers.aws.launch import TAG_LAUNCH_KEY, ImageResolver, build_run_request, client_token
from providers.aws.network import SubnetMap
from providers.aws.offers import RegionCatalog, latest_spot_prices, region_offers
from providers.aws.pricing import OnDemandPrices
from providers.aws.quotas import QuotaBook
from providers.aws.session import ClientFactory
from providers.aws.zones import ZoneNames, is_zone_id
from providers.base import (
    Capability,
    Identity,
    InstanceInfo,
    Interruption,
    InvalidRequest,
    LaunchSpec,
    Offer,
    OfferQuery,
    ProviderError,
    SpotPrice,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


class AWSProvider:
    """See the package docstring; configuration keys are the fields of `AWSConfig`."""

    name: ClassVar[str] = "aws"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SPOT, Capability.ON_DEMAND, Capability.INTERRUPTION_EVENTS, Capability.PLACEMENT_SCORES}
    )

    def __init__(self, config: AWSConfig | None = None) -> None:
        self.config = config or AWSConfig()
        self.clients = ClientFactory(self.config)
        self.catalog = RegionCatalog(self.clients, self.config)
        self.on_demand = OnDemandPrices(
            self.clients, enabled=self.config.use_pricing_api, region=self.config.pricing_region
        )
        self.advisor = SpotAdvisor(self.config.advisor_file)
        self.images = ImageResolver(self.clients, self.config)
        self.network = SubnetMap(self.clients, self.config)
        self.zones = ZoneNames(self.clients)
        self.quotas = QuotaBook(self.clients, enabled=self.config.service_quotas, ttl_s=self.catalog.ttl_s)
        self._lock = threading.Lock()
        self._spot_book: dict[tuple[str, str, str], float] = {}  # (region, type, zone) -> last spot price
        self._region_of: dict[str, str] = {}  # instance id -> region, learnt from launch and listings

    @classmethod
    def from_config(cls, config: dict[str, Any], *, home: Path) -> AWSProvider:
        return cls(AWSConfig.parse(config, home=home))

    # -- fan-out ---------------------------------------------------------------------------

    def _each_region(self, regions: Sequence[str], call: Callable[[str], T]) -> dict[str, T | ProviderError]:
        """Run `call` per region in a bounded pool; classified errors are returned, not raised."""
        def guarded(region: str) -> T | ProviderError:
            try:
                return call(region)
            except ProviderError as exc:
                return exc

        workers = max(1, min(len(regions), self.config.max_workers))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spotwise-aws") as pool:
            return dict(zip(regions, pool.map(guarded, regions), strict=True))

    def _all_or_raise(self, results: dict[str, T | ProviderError]) -> dict[str, T]:
        """For listings that must be complete: a partial view would make reconcile requeue live work."""
        for value in results.values():
            if isinstance(value, ProviderError):
                raise value
        return results  # type: ignore[return-value]

    def _remember(self, infos: list[InstanceInfo]) -> list[InstanceInfo]:
        with self._lock:
            self._region_of.update({i.id: i.region for i in infos})
        return infos

    def bucket_region(self, bucket: str) -> str:
        """The S3 bucket's region (placement weighs egress from it); ProviderError when S3 will not say."""
        from providers.aws.storage import bucket_region

        return bucket_region(self.clients.client("s3", self.config.regions[0]), bucket)

    # -- Provider protocol -----------------------------------------------------------------

    def check_credentials(self) -> Identity:
        with translated():
            who = self.clients.client("sts", self.config.regions[0]).get_caller_identity()
        return Identity(provider=self.name, account=str(who["Account"]), detail=str(who.get("Arn", "")))

    def list_offers(self, query: OfferQuery) -> list[Offer]:
        regions = [r for r in self.config.regions if not query.regions or r in query.regions]
        book: dict[tuple[str, str, str], float] = {}
        results = self._each_region(regions, lambda region: region_offers(
            region, query, catalog=self.catalog, on_demand=self.on_demand, advisor=self.advisor, spot_book=book,
            network=self.network, quotas=self.quotas,
        ))
        offers: list[Offer] = []
        failures = {r: v for r, v in results.items() if isinstance(v, ProviderError)}
        for region, value in results.items():
            if isinstance(value, ProviderError):
                log.warning("aws offers: region %s skipped: %s", region, value)
            else:
                offers.extend(value)
        if failures and len(failures) == len(results):
            raise next(iter(failures.values()))
        with self._lock:
            self._spot_book.update(book)
        return offers

    def spot_prices(self, pools: Sequence[Offer]) -> list[SpotPrice]:
        """Price-only refresh: DescribeSpotPriceHistory per region (types batched 100 a call), nothing else.

        Regions that fail are left out (their pools keep their last price) unless every region fails.
        """
        wanted: dict[str, set[str]] = {}
        for pool in pools:
            if pool.cloud == self.name and pool.spot and pool.region in self.config.regions:
                wanted.setdefault(pool.region, set()).add(pool.instance_type)
        if not wanted:
            return []
        fetched = datetime.now(UTC)
        results = self._each_region(sorted(wanted), lambda region: latest_spot_prices(
            self.clients, region, wanted[region]))
        failures = [v for v in results.values() if isinstance(v, ProviderError)]
        if failures and len(failures) == len(results):
            raise failures[0]
        for failure in failures:
            log.warning("aws spot prices: a region skipped: %s", failure)
        book = {(region, t, z): p for region, value in results.items() if not isinstance(value, ProviderError)
                for (t, z), p in value.items()}
        with self._lock:
            self._spot_book.update(book)
        return [SpotPrice(pool.region, pool.zone, pool.instance_type, price, fetched) for pool in pools
                if (price := book.get((pool.region, pool.instance_type, pool.zone))) is not None]

    def launch(self, spec: LaunchSpec) -> InstanceInfo:
        offer = spec.offer
        if offer.cloud != self.name:
            raise InvalidRequest(f"offer is for cloud {offer.cloud!r}, not aws", provider=self.name)
        region = offer.region
        if is_zone_id(offer.zone):  # an imported price row: EC2 takes this account's zone name
            offer = dataclasses.replace(offer, zone=self.zones.name_of(region, offer.zone))
            spec = dataclasses.replace(spec, offer=offer)
        # ClientToken makes EC2 itself idempotent; the tag lookup also covers endpoints that ignore it.
        existing = ec2i.list_raw(
            self.clients, region, {TAG_LAUNCH_KEY: client_token(spec.idempotency_key)},
            page_size=self.config.page_size, live_only=False,
        )
        if existing:
            return self._remember([ec2i.to_info(existing[0], region, self._price_lookup({}))])[0]
        subnet = self.network.subnet_for(region, offer.zone)
        if self.network.restricted and subnet is None:
            raise InvalidRequest(
                f"no configured subnet is in zone {offer.zone}: add one of that zone to `subnet_ids` in the aws "
                "config, or leave the zone out", provider=self.name, raw_code="NoSubnetInZone",
            )
        shape = self.catalog.shapes(region).get(offer.instance_type)
        if shape is None:  # e.g. an imported price row of a fractional, AMD or arm64 type
            raise InvalidRequest(
                f"{offer.instance_type} is not a type Spotwise launches in {region} (whole NVIDIA GPUs on x86_64, "
                "arm64 only with `ami_arm64`)", provider=self.name, raw_code="UnsupportedInstanceType",
            )
        image = self.images.image_for(region, shape.architecture)
        request = build_run_request(spec, self.config, image, subnet)
        with translated():
            response = self.clients.client("ec2", region).run_instances(**request)
        raw = response["Instances"][0]
        launched_price = offer.price_per_hour
        return self._remember([ec2i.to_info(raw, region, lambda *_: launched_price)])[0]

    def describe(self, ids: Sequence[str]) -> list[InstanceInfo]:
        wanted = [i for i in dict.fromkeys(ids) if ec2i.is_instance_id(i)]
        if not wanted:
            return []
        with self._lock:
            routed = {i: self._region_of.get(i) for i in wanted}
        per_region: dict[str, list[str]] = {r: [] for r in self.config.regions}
        for instance_id, region in routed.items():
            for target in ([region] if region in per_region else self.config.regions):
                per_region[target].append(instance_id)
        active = [r for r, region_ids in per_region.items() if region_ids]
        results = self._all_or_raise(self._each_region(active, lambda region: self._infos(
            region, ec2i.describe_raw(self.clients, region, per_region[region])
        )))
        return self._remember([info for region in active for info in results[region]])

    def list_managed(self, cluster_id: str) -> list[InstanceInfo]:
        results = self._all_or_raise(self._each_region(list(self.config.regions), lambda region: self._infos(
            region, ec2i.list_cluster(self.clients, region, cluster_id, page_size=self.config.page_size)
        )))
        return self._remember([info for region in self.config.regions for info in results[region]])

    def terminate(self, ids: Sequence[str]) -> None:
        wanted = [i for i in dict.fromkeys(ids) if ec2i.is_instance_id(i)]
        if not wanted:
            return
        with self._lock:
            known = {i: self._region_of[i] for i in wanted if i in self._region_of}
        by_region: dict[str, list[str]] = {}
        for instance_id in wanted:
            region = known.get(instance_id)
            for target in [region] if region else self.config.regions:
                by_region.setdefault(target, []).append(instance_id)
        self._all_or_raise(self._each_region(
            list(by_region), lambda region: ec2i.terminate_ids(self.clients, region, by_region[region])
        ))

    def interruption_events(self) -> list[Interruption]:
        cfg = self.config

        def one(region: str) -> list[Interruption]:
            url = interruptions.queue_url(self.clients, region, cfg.interruption_queue)
            return [] if url is None else interruptions.drain(self.clients, region, url)

        results = self._each_region(list(cfg.regions), one)
        found: list[Interruption] = []
        for region, value in results.items():
            if isinstance(value, ProviderError):
                log.warning("aws interruption events: region %s skipped: %s", region, value)
            else:
                found.extend(value)
        return found

    # -- AWS-only extras -------------------------------------------------------------------

    def setup_interruption_events(self) -> dict[str, str]:
        """Idempotently create the EventBridge rule, SQS queue and target in every region; region -> queue URL."""
        cfg = self.config
        return self._all_or_raise(self._each_region(list(cfg.regions), lambda region: interruptions.setup_region(
            self.clients, region, queue=cfg.interruption_queue, rule=cfg.interruption_rule
        )))

    def zone_names(self, regions: Sequence[str]) -> dict[str, dict[str, str]]:
        """region -> {zone ID: this account's zone name}; regions that cannot be asked (not enabled) are left out."""
        results = self._each_region(sorted(set(regions)), self.zones.of_region)
        for region, value in results.items():
            if isinstance(value, ProviderError):
                log.warning("aws zone names: region %s skipped: %s", region, value)
        return {region: value for region, value in results.items() if not isinstance(value, ProviderError)}

    def placement_scores(self, instance_types: list[str], regions: Sequence[str] = ()) -> dict[tuple[str, str], int]:
        """(region, zone) -> AWS spot placement score 1-10; {} unless `placement_scores: true` is configured."""
        if not self.config.placement_scores or not instance_types:
            return {}
        return scores.placement_scores(self.clients, instance_types, list(regions or self.config.regions))

    # -- prices for described instances ----------------------------------------------------

    def _infos(self, region: str, raws: list[dict[str, Any]]) -> list[InstanceInfo]:
        """Normalise, first fetching spot prices for pools not seen by list_offers (one call per region)."""
        with self._lock:
            missing = {r["InstanceType"] for r in raws if r.get("InstanceLifecycle") == "spot"
                       and (region, r["InstanceType"], r.get("Placement", {}).get("AvailabilityZone", ""))
                       not in self._spot_book}
        fresh = {(region, t, z): p for (t, z), p in latest_spot_prices(self.clients, region, missing).items()}
        with self._lock:
            self._spot_book.update(fresh)
        return [ec2i.to_info(raw, region, self._price_lookup(fresh)) for raw in raws]

    def _price_lookup(self, fresh: dict[tuple[str, str, str], float]) -> ec2i.PriceLookup:
        def price(region: str, zone: str, instance_type: str, spot: bool) -> float:
            if spot:
                with self._lock:
                    known = fresh.get((region, instance_type, zone)) or self._spot_book.get(
                        (region, instance_type, zone))
                if known:
                    return known
            on_demand = self.on_demand.prices(region, [instance_type]).get(instance_type)
            return on_demand[0] if on_demand else 0.0

        return price
