"""vCPU quotas per location (`usage.list`), so that offers skip pools a launch would hit a quota wall in.

Azure counts vCPUs against three limits (https://learn.microsoft.com/en-us/azure/quotas/spot-quota and
https://learn.microsoft.com/en-us/azure/virtual-machines/quotas):
- every Spot VM against the regional Spot quota, usage name `lowPriorityCores`;
- every regular VM against its size family's quota (the resource SKU's `family`, e.g.
  `standardNCADSA100v4Family`) and against the regional total, `cores`.
A new subscription often has 0 Spot and 0 GPU-family vCPUs, and the launch then fails with a quota
error that blocks the region; reading the usage first keeps such pools out of the offers instead.
The usage is read with the SKU listing (one call per location per instance-type refresh); if it cannot
be read (the identity lacks `Microsoft.Compute/locations/usages/read`), nothing is filtered and a
launch still learns the quota the old way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from providers.azure.offers import SizeInfo, _get

SPOT_USAGE = "lowPriorityCores"
REGIONAL_USAGE = "cores"


@dataclass(frozen=True)
class Quotas:
    """Free vCPUs per usage name (lower-cased); a name not reported is unlimited."""

    free: dict[str, float]

    def _free(self, name: str) -> float:
        return self.free.get(name.lower(), math.inf)

    def allows(self, size: SizeInfo, spot: bool) -> bool:
        """True when one VM of `size` fits the quotas it draws on (module docstring)."""
        if spot:
            return self._free(SPOT_USAGE) >= size.vcpus
        family_ok = not size.family or self._free(size.family) >= size.vcpus
        return family_ok and self._free(REGIONAL_USAGE) >= size.vcpus


def quotas_from_usages(usages: Iterable[Any]) -> Quotas:
    """`usage.list` items (SDK models or dicts) -> free vCPUs per usage name."""
    free: dict[str, float] = {}
    for usage in usages:
        name = str(_get(_get(usage, "name", {}), "value", "")).lower()
        if name:
            free[name] = float(_get(usage, "limit", 0)) - float(_get(usage, "current_value", 0) or 0)
    return Quotas(free)
