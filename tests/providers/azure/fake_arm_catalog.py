"""Catalog routes of the fake ARM: VM sizes per location, resource SKUs and the Retail Prices API (paged)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from tests.providers.azure import fake_arm_data as data
from tests.providers.azure import fake_arm_rules as rules
from tests.providers.azure.fake_arm_state import Routes


class CatalogRoutes(Routes):
    """Mixed into `FakeArm`; called with its lock held."""

    def _sizes(self, method: str, p: dict, *_: Any) -> tuple[int, dict, Any]:
        return 200, {}, {"value": data.vm_sizes(p["loc"])}

    def _skus(self, method: str, p: dict, q: dict, *_: Any) -> tuple[int, dict, Any]:
        match = re.search(r"location eq '([^']+)'", q.get("$filter", ""))
        locations = [match.group(1)] if match else list(data.LOCATION_ZONES)
        return (
            200,
            {},
            {
                "value": [
                    s
                    for loc in locations
                    if loc in data.LOCATION_ZONES
                    for s in data.resource_skus(loc, self.state.spot_incapable)
                ]
            },
        )

    def _usages(self, method: str, p: dict, *_: Any) -> tuple[int, dict, Any]:
        """vCPU usage and limits per location (GET .../locations/{loc}/usages), counted from live VMs."""
        return 200, {}, {"value": [
            {"name": {"value": name, "localizedValue": name}, "unit": "Count", "currentValue": used,
             "limit": limit}
            for name, (used, limit) in rules.vcpu_usage(self.state.vms.values(), p["loc"], self.state.quota_limits,
                                                         data.SIZES, data.FAMILIES,
                                                         data.DEFAULT_QUOTA).items()
        ]}

    def _image_versions(self, method: str, p: dict, *_: Any) -> tuple[int, dict, Any]:
        """Marketplace image versions of publisher/offer/sku in a location
        (https://learn.microsoft.com/en-us/rest/api/compute/virtual-machine-images/list): a JSON array; an
        offer or sku the publisher does not have is 404 NotFound "Artifact: VMImage was not found."."""
        key = (p["publisher"].lower(), p["offer"].lower(), p["sku"].lower())
        if key not in self.state.images:
            return 404, {}, {"error": {"code": "NotFound", "message": "Artifact: VMImage was not found."}}
        return 200, {}, [{"name": version, "location": p["loc"],
                          "id": f"/Subscriptions/x/Providers/Microsoft.Compute/Locations/{p['loc']}/Publishers/"
                                f"{p['publisher']}/ArtifactTypes/VMImage/Offers/{p['offer']}/Skus/{p['sku']}/"
                                f"Versions/{version}"}
                         for version in ("2204.2025.0101", "2204.2026.1101")]

    def _prices(
        self, method: str, p: dict, q: dict, payload: Any, base: str, path: str
    ) -> tuple[int, dict, Any]:
        if self.state.prices_down:
            return 503, {}, {"error": {"code": "ServiceUnavailable", "message": "down"}}
        match = re.search(r"armRegionName eq '([^']+)'", q.get("$filter", ""))
        items = data.retail_items(match.group(1)) if match else []
        skip, size = int(q.get("$skip", "0")), self.state.price_page_size
        next_link = None
        if skip + size < len(items):
            next_link = f"{base}{path}?{urlencode({**q, '$skip': skip + size})}"
        return (
            200,
            {},
            {
                "BillingCurrency": "USD",
                "Items": items[skip : skip + size],
                "NextPageLink": next_link,
                "Count": len(items[skip : skip + size]),
            },
        )
