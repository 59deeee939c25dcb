"""The `azure` provider: Spot VMs through azure-mgmt-compute / azure-mgmt-network.

Module map: config (the config section), clients (SDK client factory), calls (classified retries),
errors (code table), offers (sizes, zones, GPU names), pricing (Retail Prices API + fallback),
launch (names and request bodies), instances (VM -> InstanceInfo, eviction). This class wires them to
the Provider protocol and translates; it decides nothing about placement.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from azure.core.credentials import TokenCredential
from azure.mgmt.compute.models import VirtualMachine
from azure.mgmt.network.models import NetworkInterface

from providers.azure.calls import Caller
from providers.azure.clients import AzureClients, make_clients
from providers.azure.config import AzureConfig
from providers.azure.errors import classify, is_not_found
from providers.azure.instances import gone_info, vm_to_info
from providers.azure.launch import nic_body, nic_name, os_disk_name, resource_id, vm_body, vm_name
from providers.azure.leftovers import RESERVED_CODE, NicReserved, find_leftovers, reserved_seconds
from providers.azure.offers import build_offers, parse_sku
from providers.azure.pricing import PriceBook, PriceFetchError
from providers.azure.quotas import Quotas, quotas_from_usages
from providers.base import (
    TAG_CLUSTER,
    Capability,
    Identity,
    InstanceInfo,
    Interruption,
    InvalidRequest,
    LaunchSpec,
    Offer,
    OfferQuery,
    PreflightRow,
    ProviderError,
    SpotPrice,
    TransientError,
)

__all__ = ["AzureConfig", "AzureProvider"]

log = logging.getLogger(__name__)


def _default_credential() -> TokenCredential:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


class AzureProvider:
    """Azure Spot (and regular) VMs in one subscription and resource group."""

    name: ClassVar[str] = "azure"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.SPOT, Capability.ON_DEMAND})

    def __init__(
        self,
        config: AzureConfig,
        *,
        credential: TokenCredential | None = None,
        authentication_policy: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.credential = credential or _default_credential()
        self.clients: AzureClients = make_clients(
            self.credential,
            config.subscription_id,
            base_url=config.base_url,
            polling_interval=config.polling_interval,
            connection_verify=config.connection_verify,
            authentication_policy=authentication_policy,
        )
        self.call = Caller(attempts=config.retry_attempts, sleep=sleep)
        self.prices = PriceBook(
            config.prices_url,
            ttl_seconds=config.price_ttl_seconds,
            catalog_path=config.catalog_path,
            currency=config.currency,
            verify=config.connection_verify,
        )
        # VMs this process deleted: a gone VM in this set was not evicted even if its NIC lingers.
        self._deleted: set[str] = set()
        # NICs ARM holds reserved for a failed VM: name -> clock() when the delete may be tried again.
        self._nic_retry_at: dict[str, float] = {}
        self._clock = clock

    @classmethod
    def from_config(cls, config: dict[str, Any], *, home: Path) -> AzureProvider:
        """Build from the daemon's `azure` config section; credentials come from DefaultAzureCredential."""
        return cls(AzureConfig.from_dict(config, home=home))

    @property
    def _rg(self) -> str:
        return self.config.resource_group

    # -- Provider protocol ---------------------------------------------------------------------

    def check_credentials(self) -> Identity:
        """List VM sizes in the first location: cheap, and needs a token valid for the subscription."""
        location = self.config.locations[0]
        sizes = self.call(lambda: list(self.clients.compute.virtual_machine_sizes.list(location)))
        return Identity(
            provider=self.name,
            account=self.config.subscription_id,
            detail=f"resource group {self._rg}; {len(sizes)} VM sizes in {location}",
        )

    def list_offers(self, query: OfferQuery) -> list[Offer]:
        """Resource SKUs and prices per location, fetched in parallel (one thread per location)."""
        locations = [
            loc
            for loc in self.config.locations
            if (not query.regions or loc in query.regions) and self.config.subnet_for(loc)
        ]  # a location without a subnet cannot launch, so it offers nothing
        if not locations:
            return []
        fetched = datetime.now(UTC)
        with ThreadPoolExecutor(max_workers=min(8, len(locations))) as pool:
            per_location = list(pool.map(lambda loc: self._offers_in(loc, query, fetched), locations))
        return [offer for offers in per_location for offer in offers]

    def _offers_in(self, location: str, query: OfferQuery, fetched: datetime) -> list[Offer]:
        skus = self.call(
            lambda: list(self.clients.compute.resource_skus.list(filter=f"location eq '{location}'"))
        )
        sizes = [size for sku in skus if (size := parse_sku(sku, location)) is not None]
        quotas = self._quotas(location)
        return build_offers(sizes, query, self.prices.price, fetched, quotas.allows if quotas else None)

    def _quotas(self, location: str) -> Quotas | None:
        """The location's vCPU quotas, read with the SKU listing; None (no filter) when unreadable."""
        try:
            return quotas_from_usages(self.call(lambda: list(self.clients.compute.usage.list(location))))
        except ProviderError as exc:
            log.warning("azure: cannot read quotas in %s (%s); offers are not filtered by quota", location, exc)
            return None

    def spot_prices(self, pools: Sequence[Offer]) -> list[SpotPrice]:
        """Price-only refresh: the Retail Prices API per location, no ARM call (sizes and zones are the
        instance-type refresh's). Locations whose prices fail keep their last price unless all fail."""
        mine = [p for p in pools if p.cloud == self.name and p.spot]
        locations = sorted({p.region for p in mine})
        if not locations:
            return []
        fetched = datetime.now(UTC)

        def one(location: str) -> dict[tuple[str, bool], float] | PriceFetchError:
            try:
                return self.prices.fetch(location)
            except PriceFetchError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=min(8, len(locations))) as pool:
            books = dict(zip(locations, pool.map(one, locations), strict=True))
        failed = [v for v in books.values() if isinstance(v, PriceFetchError)]
        if len(failed) == len(books):
            raise TransientError(f"retail prices unavailable: {failed[0]}", provider=self.name)
        quotes = []
        for offer in mine:
            book = books[offer.region]
            price = None if isinstance(book, PriceFetchError) else book.get((offer.instance_type, True))
            if price:
                quotes.append(SpotPrice(offer.region, offer.zone, offer.instance_type, price, fetched))
        return quotes

    def launch(self, spec: LaunchSpec) -> InstanceInfo:
        """Create (or find) the VM named after the idempotency key; see launch.py for the bodies.

        A failed create leaves a Failed VM and our NIC behind in Azure; both are removed before the
        classified error is raised, so the pool can be retried with the same key. Transient
        failures leave them: the create may still be running, and a repeat finds the VM by name.
        """
        if not self.config.subnet_for(spec.offer.region):
            raise InvalidRequest(
                f"azure: no subnet for {spec.offer.region}: add it to subnet_id in the azure config "
                "(a map of location to the subnet VMs there join)",
                provider=self.name,
            )
        name = vm_name(spec.idempotency_key)
        existing = self._get_vm(name)
        if existing is not None:
            return vm_to_info(existing)
        compute, network = self.clients.compute, self.clients.network
        try:
            nic = self.call(
                lambda: network.network_interfaces.begin_create_or_update(
                    self._rg, nic_name(name), NetworkInterface(nic_body(self.config, spec))
                ).result()
            )
            nic_id = nic.id or resource_id(
                self.config.subscription_id, self._rg, "Microsoft.Network/networkInterfaces", nic_name(name)
            )
            body = VirtualMachine(vm_body(self.config, spec, name, nic_id))
            self.call(lambda: compute.virtual_machines.begin_create_or_update(self._rg, name, body).result())
        except TransientError:
            raise
        except ProviderError:
            self._deleted.add(name)
            self._cleanup([name])
            raise
        self._tag_disk(name, spec.tags)
        created = self._get_vm(name)
        if created is None:  # evicted within seconds of creation: report it as such
            return self.describe([name])[0]
        return vm_to_info(created)

    def describe(self, ids: Sequence[str]) -> list[InstanceInfo]:
        """Per id: the VM with its instance view, or a TERMINATED record (preempted if evicted)."""
        infos: list[InstanceInfo] = []
        for raw_id in ids:
            name = raw_id.rsplit("/", 1)[-1]
            vm = self._get_vm(name)
            if vm is not None:
                infos.append(vm_to_info(vm))
                continue
            nic = self._get_nic(nic_name(name))
            infos.append(gone_info(name, nic, deleted_by_us=name in self._deleted))
        return infos

    def list_managed(self, cluster_id: str) -> list[InstanceInfo]:
        """Every VM in the resource group tagged with the cluster, with power state, across all pages;
        plus, as TERMINATED instances named after their VM, the NICs and disks gone VMs left behind
        (leftovers.py), so that the orphan sweep deletes them once no active attempt owns them."""

        def fetch() -> list[Any]:
            pages = self.clients.compute.virtual_machines.list(self._rg, expand="instanceView")
            return [vm for vm in pages if (vm.tags or {}).get(TAG_CLUSTER) == cluster_id]

        vms = self.call(fetch)
        infos = [vm_to_info(vm) for vm in vms]
        nics = self.call(lambda: list(self.clients.network.network_interfaces.list(self._rg)))
        disks = self.call(lambda: list(self.clients.compute.disks.list_by_resource_group(self._rg)))
        now = self._clock()
        for left in find_leftovers(cluster_id, {str(vm.name) for vm in vms}, nics, disks):
            if self._nic_retry_at.get(left.vm, now) > now:
                continue  # ARM still holds its NIC; reported again once the reservation has passed
            trace = left.nic if left.nic is not None else left.disk
            infos.append(gone_info(left.vm, trace, deleted_by_us=left.nic is None or left.vm in self._deleted))
        return infos

    def terminate(self, ids: Sequence[str]) -> None:
        """Delete the VMs, then their NICs and OS disks; a resource already gone is fine."""
        names = [raw_id.rsplit("/", 1)[-1] for raw_id in ids]
        self._deleted.update(names)
        self._cleanup(names, strict=True)

    def preflight(self, api_url: str, *, cloud_calls: bool = True) -> list[PreflightRow]:
        """Will a launch work: every resource a VM create references, read (providers/azure/preflight.py)."""
        from providers.azure.preflight import preflight

        return preflight(self, cloud_calls=cloud_calls)

    def interruption_events(self) -> list[Interruption]:
        """Azure has no out-of-VM eviction feed we can drain; the agent watches Scheduled Events and
        describe() recognises evicted VMs."""
        return []

    # -- helpers ---------------------------------------------------------------------------------

    def _get_vm(self, name: str) -> Any | None:
        def get() -> Any | None:
            try:
                return self.clients.compute.virtual_machines.get(self._rg, name, expand="instanceView")
            except Exception as exc:
                if is_not_found(exc):
                    return None
                raise

        return self.call(get)

    def _get_nic(self, name: str) -> Any | None:
        def get() -> Any | None:
            try:
                return self.clients.network.network_interfaces.get(self._rg, name)
            except Exception as exc:
                if is_not_found(exc):
                    return None
                raise

        return self.call(get)

    def _delete(self, begin: Callable[[], Any]) -> None:
        def run() -> None:
            try:
                begin().result()
            except Exception as exc:
                if is_not_found(exc):
                    return
                error = classify(exc)
                if error.raw_code == RESERVED_CODE:  # retrying now cannot help: ARM named the wait
                    raise NicReserved(error.message, reserved_seconds(error.message)) from exc
                raise

        self.call(run)

    def _cleanup(self, names: Sequence[str], *, strict: bool = False) -> None:
        """Delete VM -> NIC -> OS disk for each name, in that order (a NIC in use cannot be deleted).

        `strict` raises the first failure (terminate must not report success falsely); otherwise the
        cleanup after a failed launch is best effort and only logged. A NIC that ARM holds reserved
        is neither: the VM is gone, so the NIC is noted and deleted by a later sweep (leftovers.py).
        """
        compute, network, rg = self.clients.compute, self.clients.network, self._rg
        for name in names:
            self._nic_retry_at.pop(name, None)
            steps = (
                lambda n=name: compute.virtual_machines.begin_delete(rg, n),
                lambda n=name: network.network_interfaces.begin_delete(rg, nic_name(n)),
                lambda n=name: compute.disks.begin_delete(rg, os_disk_name(n)),
            )
            for step in steps:
                try:
                    self._delete(step)
                except NicReserved as exc:
                    self._nic_retry_at[name] = self._clock() + exc.seconds
                    log.info("azure: NIC of %s is reserved by ARM for %gs; deleting it later", name, exc.seconds)
                except ProviderError as exc:
                    if strict:
                        raise
                    log.warning("azure cleanup of %s failed: %s", name, exc)

    def _tag_disk(self, name: str, tags: dict[str, str]) -> None:
        """ARM does not copy VM tags to the OS disk made from the image; tag it so it can be found."""
        try:
            self.call(
                lambda: self.clients.compute.disks.begin_update(
                    self._rg, os_disk_name(name), {"tags": dict(tags)}
                ).result()
            )
        except ProviderError as exc:  # the VM runs; a missing disk tag must not fail the launch
            log.warning("azure: could not tag OS disk of %s: %s", name, exc)
