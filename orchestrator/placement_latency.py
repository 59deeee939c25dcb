"""The placement latency histogram: seconds from a job starting to wait for capacity to its instance launched.

Why in process and not read from the database at scrape time like the other gauges: a histogram is a set of
counters that only grow, and the observations happen where launches happen -- on the replica leading the launch
loop. Each replica exports what it observed (`spotwise_placement_latency_seconds_bucket{le}`, `_sum`, `_count`);
`sum by (le) (rate(...))` across replicas is the cluster's distribution, and a restart is a counter reset that
`rate()` already handles. "Waiting" starts at submission, or when the previous attempt was preempted or lost
(placement_state.waiting_since), so a resume after a spot reclaim is measured too.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client.core import HistogramMetricFamily

#: Upper bounds in seconds: a launch on the local provider takes well under a second, a cloud VM half a
#: minute to minutes, a job waiting for capacity or a budget hours.
BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0)


class PlacementLatency:
    """Thread-safe cumulative histogram (the launch loop observes, the /metrics handler reads)."""

    def __init__(self, buckets: tuple[float, ...] = BUCKETS) -> None:
        self.buckets = buckets
        self._counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        seconds = max(0.0, seconds)  # clocks of two replicas may disagree a little: never a negative sample
        with self._lock:
            self._counts[bisect_left(self.buckets, seconds)] += 1
            self._sum += seconds

    def collect(self) -> Iterator[HistogramMetricFamily]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, running = [], 0
        for bound, count in zip((*map(str, self.buckets), "+Inf"), counts, strict=True):
            running += count
            cumulative.append((bound, running))
        family = HistogramMetricFamily(
            "spotwise_placement_latency_seconds",
            "Seconds from a job waiting for capacity (submitted, or its attempt preempted or lost) to its "
            "instance launched, observed by this replica's launch loop")
        family.add_metric([], cumulative, sum_value=total)
        yield family
