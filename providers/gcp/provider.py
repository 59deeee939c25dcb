"""The `gcp` provider: Spot (and standard) GPU VMs on Compute Engine through google-cloud-compute.

Module map: settings (config), clients (the one client factory), errors (code table), shapes +
offers + pricing + catalog + discovery (what can run where, at what price), launch (the insert
request), operations (waiting), instances (normalising what GCE returns), labels (tags <-> labels).
Every SDK call goes through `errors.guarded` and the shared retry helper, so callers only ever see
the Spotwise error taxonomy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from providers.base import (
    Capability,
    Identity,
    InstanceInfo,
    InstanceState,
    Interruption,
    InvalidRequest,
    LaunchSpec,
    Offer,
    OfferQuery,
    PreflightRow,
    SpotPrice,
)
from providers.errors import AuthError
from providers.gcp.clients import build_billing_client, build_compute_clients, load_credentials
from providers.gcp.discovery import Discovery
from providers.gcp.errors import guarded
from providers.gcp.instances import PREEMPTED_OPERATION, gone, make_id, parse_id, to_info
from providers.gcp.labels import cluster_filter
from providers.gcp.launch import NAME_PREFIX, build_instance, instance_name, request_id
from providers.gcp.offers import build_offers, shape_of_offer, spot_quotes
from providers.gcp.operations import wait_zone_operation
from providers.gcp.quotas import within_quota
from providers.gcp.settings import GCPSettings
from providers.gcp.shapes import tail
from providers.retry import with_retries

__all__ = ["GCPProvider", "GCPSettings"]
T = TypeVar("T")
_ALREADY_EXISTS = ("alreadyExists", "RESOURCE_ALREADY_EXISTS")
_PREEMPTED_FILTER = f'operationType = "{PREEMPTED_OPERATION}"'


class GCPProvider:
    """Compute Engine adapter; see the module docstring for where each concern lives."""

    name: ClassVar[str] = "gcp"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SPOT, Capability.ON_DEMAND, Capability.INTERRUPTION_EVENTS}
    )

    def __init__(self, settings: GCPSettings, *, credentials: Any, project: str) -> None:
        self.settings = settings
        self.project = project
        self.credentials = credentials
        self.clients = build_compute_clients(credentials, settings.endpoint)
        self.discovery = Discovery(settings, project, self.clients,
                                   lambda: build_billing_client(credentials, settings.billing_endpoint))
        self._seen_interruptions: set[str] = set()
        self._started = datetime.now(UTC)
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: dict[str, Any], *, home: Path) -> GCPProvider:
        """Build from the `gcp` config section; `home` is unused (GCP keeps no local state)."""
        settings = GCPSettings.parse(config)
        credentials, adc_project = load_credentials(settings)
        project = settings.project or adc_project
        if not project:
            raise AuthError("no GCP project: set gcp.project or `gcloud config set project ...`", provider="gcp")
        return cls(settings, credentials=credentials, project=project)

    def _call(self, call: Callable[[], T]) -> T:
        """One SDK call: classified at the boundary, transient failures retried by the shared helper."""
        return with_retries(lambda: guarded(call))

    # -- Provider protocol -------------------------------------------------------------------

    def check_credentials(self) -> Identity:
        from google.cloud import compute_v1

        request = compute_v1.ListZonesRequest(project=self.project, max_results=1)
        self._call(lambda: self.clients.zones.list(
            request=request, retry=None, timeout=self.settings.request_timeout_s))
        account = getattr(self.credentials, "service_account_email", "") or ""
        return Identity(provider=self.name, account=self.project, detail=account)

    def list_offers(self, query: OfferQuery) -> list[Offer]:
        zones = with_retries(self.discovery.zones)
        if query.regions:
            zones = [z for z in zones if z.rsplit("-", 1)[0] in query.regions]
        shapes = with_retries(lambda: self.discovery.shapes(zones))
        offers = build_offers(self.name, shapes, self.discovery.prices(), query)
        return within_quota(offers, self.discovery.quotas({o.region for o in offers}))  # no walking into quota

    def spot_prices(self, pools: Sequence[Offer]) -> list[SpotPrice]:
        """Price-only refresh: the Billing Catalog SKUs alone (GCE prices a pool from per-region unit prices;
        the Compute API's zones and machine types are the instance-type refresh's business)."""
        mine = [p for p in pools if p.cloud == self.name and p.spot]
        if not mine:
            return []
        prices = with_retries(self.discovery.fresh_prices)
        return spot_quotes(mine, prices, lambda p: self.discovery.known_shape(p.zone, p.instance_type)
                           or shape_of_offer(p))

    def launch(self, spec: LaunchSpec) -> InstanceInfo:
        offer = spec.offer
        if offer.cloud != self.name:
            raise InvalidRequest(f"offer is for cloud {offer.cloud!r}, not gcp", provider=self.name)
        zone, name = offer.zone, instance_name(spec.idempotency_key)
        from google.cloud import compute_v1

        request = compute_v1.InsertInstanceRequest(
            project=self.project, zone=zone, instance_resource=build_instance(spec, self.settings, self.project),
            request_id=request_id(spec.idempotency_key))
        try:
            operation = self._call(lambda: self.clients.instances.insert_unary(
                request=request, retry=None, timeout=self.settings.request_timeout_s))
        except InvalidRequest as exc:
            if exc.raw_code not in _ALREADY_EXISTS:
                raise
            operation = None  # the name is taken: by this key's own earlier launch, checked below
        if operation is not None:
            wait_zone_operation(self.clients, self.project, zone, operation,
                                timeout_s=self.settings.operation_timeout_s)
        found = self._get(zone, name)
        if found is None:  # created and already gone (e.g. preempted at once): reconcile sees it
            return gone(make_id(zone, name), zone, preempted=name in self._preempted_names(zone))
        info = to_info(found)
        if info.attempt_id != spec.attempt_id:
            raise InvalidRequest(f"instance {name} in {zone} belongs to attempt {info.attempt_id!r}, "
                                 f"not {spec.attempt_id!r}", provider=self.name, raw_code="alreadyExists")
        return info

    def preflight(self, api_url: str, *, cloud_calls: bool = True) -> list[PreflightRow]:
        """Will a launch work: every resource an insert references, read (providers/gcp/preflight.py)."""
        from providers.gcp.preflight import preflight

        return preflight(self, cloud_calls=cloud_calls)

    def describe(self, ids: Sequence[str]) -> list[InstanceInfo]:
        found: list[tuple[str, str, Any]] = []
        for instance_id in ids:
            parsed = parse_id(instance_id)
            if parsed is None:
                found.append((instance_id, "", None))
                continue
            found.append((instance_id, parsed[0], self._get(*parsed)))
        needs_ops = {zone for _, zone, inst in found if zone and (inst is None or inst.status == "TERMINATED")}
        preempted = {zone: self._preempted_names(zone) for zone in needs_ops}
        result = []
        for instance_id, zone, inst in found:
            name = instance_id.partition("/")[2]
            was_preempted = name in preempted.get(zone, set())
            result.append(gone(instance_id, zone, preempted=was_preempted) if inst is None
                          else to_info(inst, preempted=was_preempted))
        return result

    def list_managed(self, cluster_id: str) -> list[InstanceInfo]:
        from google.cloud import compute_v1

        request = compute_v1.AggregatedListInstancesRequest(
            project=self.project, filter=cluster_filter(cluster_id), max_results=self.settings.page_size)

        def listing() -> list[Any]:
            pager = self.clients.instances.aggregated_list(
                request=request, retry=None, timeout=self.settings.request_timeout_s)
            return [inst for _, scoped in pager for inst in scoped.instances]

        infos = [to_info(inst) for inst in self._call(listing)]
        return sorted((i for i in infos if i.state is not InstanceState.TERMINATED
                       and i.tags.get("spotwise-cluster") == cluster_id), key=lambda i: i.id)

    def terminate(self, ids: Sequence[str]) -> None:
        pending = []
        for instance_id in ids:
            parsed = parse_id(instance_id)
            if parsed is None:
                continue  # not an id we could have made: nothing to terminate
            zone, name = parsed
            delete = partial(self.clients.instances.delete_unary, project=self.project, zone=zone, instance=name,
                             retry=None, timeout=self.settings.request_timeout_s)
            operation = self._call(partial(_missing_ok, delete))
            if operation is not None:
                pending.append((zone, operation))
        for zone, operation in pending:
            wait_zone_operation(self.clients, self.project, zone, operation,
                                timeout_s=self.settings.operation_timeout_s)

    def interruption_events(self) -> list[Interruption]:
        from google.cloud import compute_v1

        request = compute_v1.AggregatedListGlobalOperationsRequest(
            project=self.project, filter=_PREEMPTED_FILTER, max_results=self.settings.page_size)

        def listing() -> list[Any]:
            pager = self.clients.global_operations.aggregated_list(
                request=request, retry=None, timeout=self.settings.request_timeout_s)
            return [op for _, scoped in pager for op in scoped.operations]

        cutoff = self._started - timedelta(seconds=self.settings.interruption_lookback_s)
        events = []
        for op in self._call(listing):
            name, zone = tail(op.target_link), tail(op.zone)
            noticed = _parse_time(op.insert_time) or datetime.now(UTC)
            if not name.startswith(NAME_PREFIX) or noticed < cutoff:
                continue
            with self._lock:
                if op.name in self._seen_interruptions:
                    continue
                self._seen_interruptions.add(op.name)
            events.append(Interruption(instance_id=make_id(zone, name), kind="preemption", noticed_at=noticed))
        return events

    # -- helpers -----------------------------------------------------------------------------

    def _get(self, zone: str, name: str) -> Any | None:
        return self._call(lambda: _missing_ok(lambda: self.clients.instances.get(
            project=self.project, zone=zone, instance=name, retry=None, timeout=self.settings.request_timeout_s)))

    def _preempted_names(self, zone: str) -> set[str]:
        """Names of instances in `zone` that GCE preempted (a compute.instances.preempted operation)."""
        from google.cloud import compute_v1

        request = compute_v1.ListZoneOperationsRequest(
            project=self.project, zone=zone, filter=_PREEMPTED_FILTER, max_results=self.settings.page_size)
        ops = self._call(lambda: _missing_ok(lambda: list(self.clients.zone_operations.list(
            request=request, retry=None, timeout=self.settings.request_timeout_s))))
        return {tail(op.target_link) for op in ops or ()}


def _missing_ok(call: Callable[[], T]) -> T | None:
    """Run a get/delete, treating 404 as "not there" (idempotent terminate, describe of the gone)."""
    from google.api_core.exceptions import NotFound

    try:
        return call()
    except NotFound:
        return None


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
