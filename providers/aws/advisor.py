"""Interruption priors from the Spot Instance Advisor feed (optional; a file, never fetched here).

Why: the Advisor's per-region, per-type bucket is the only public interruption signal AWS
publishes; placement can weigh a cheap pool that is reclaimed often against a dearer stable one.
The feed is fetched out of band (its format: ../shared/data/aws-spot-advisor/SOURCE.md).

Conversion: a bucket is the share of spot capacity reclaimed over the trailing month. We take a
representative share per bucket and spread it evenly over a month (730 h), giving an expected
interruption rate per instance-hour. It is a prior, not a measurement.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

HOURS_PER_MONTH = 730.0
# Bucket index -> representative monthly share: the middle of each range; ">20%" taken as 25%.
_BUCKET_SHARE = {0: 0.025, 1: 0.075, 2: 0.125, 3: 0.175, 4: 0.25}


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, dict[str, int]]:
    """region -> type -> bucket index (Linux only)."""
    data = json.loads(Path(path).read_text())
    return {
        region: {itype: int(v["r"]) for itype, v in oses.get("Linux", {}).items() if "r" in v}
        for region, oses in data.get("spot_advisor", {}).items()
    }


def bucket_to_hourly_rate(bucket: int) -> float | None:
    share = _BUCKET_SHARE.get(bucket)
    return None if share is None else share / HOURS_PER_MONTH


class SpotAdvisor:
    def __init__(self, path: Path | None) -> None:
        self.path = path

    def prior(self, region: str, instance_type: str) -> float | None:
        """Expected interruptions per hour for a spot instance of this type in this region, if known."""
        if self.path is None or not self.path.exists():
            return None
        bucket = _load(str(self.path)).get(region, {}).get(instance_type)
        return None if bucket is None else bucket_to_hourly_rate(bucket)
