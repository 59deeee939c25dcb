"""Placement speed (BENCHMARKS.md section 2): load the shared catalogs, rank 10,000 mixed jobs.

    .venv/bin/python bench/placement.py [--jobs 10000] [--seed 7]

Offers: the GCP and Azure vms.csv files under ../shared/data/catalog (GCP GPU price = GPU row +
host row; Azure parsed positionally) and the AWS excerpt there (instead of moto: the figures
are about ranking, not about the AWS adapter's listing). The ranking is the production path:
`OfferIndex.rank`, the call the launcher makes per job, with the top 3 kept for failover.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.catalog.vmscsv import parse_vms_csv  # noqa: E402
from policies.placement import OfferIndex, PlacementRequest, Priors  # noqa: E402
from providers.base import Offer  # noqa: E402

CATALOG = ROOT.parent / "shared" / "data" / "catalog"


def load() -> list[Offer]:
    offers: list[Offer] = []
    for cloud in ("gcp", "azure", "aws"):
        for path in sorted((CATALOG / cloud).glob("*.csv")):
            offers.extend(parse_vms_csv(path.read_text(), cloud))
    return offers


def workload(offers: list[Offer], n: int, seed: int) -> list[PlacementRequest]:
    """Mixed jobs: GPU model/count pairs that exist, some region or cloud pins, markets, price caps."""
    rng = random.Random(seed)
    shapes = sorted({(o.gpu_model, o.gpu_count) for o in offers if o.gpu_count and not o.gpu_model.startswith("TPU")})
    regions = sorted({(o.cloud, o.region) for o in offers})
    jobs = []
    for _ in range(n):
        spot = rng.choice([True, True, False, "auto"])
        cloud, region = rng.choice(regions)
        pin = rng.random()
        common = dict(spot=spot, clouds=(cloud,) if pin < 0.3 else (), regions=(region,) if pin < 0.15 else (),
                      max_price_per_hour=rng.choice([None, None, 2.0, 10.0, 40.0]))
        if rng.random() < 0.8:
            model, count = rng.choice(shapes)
            jobs.append(PlacementRequest(gpu_model=model, gpu_count=count, **common))  # type: ignore[arg-type]
        else:
            jobs.append(PlacementRequest(min_vcpus=rng.choice([2, 8, 32]), min_memory_gb=rng.choice([4, 32, 128]),
                                         **common))  # type: ignore[arg-type]
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not CATALOG.exists():
        raise SystemExit(f"the shared catalogs are not at {CATALOG}")
    started = time.perf_counter()
    offers = load()
    parsed = time.perf_counter()
    index = OfferIndex(offers)
    load_s = time.perf_counter() - started
    jobs = workload(offers, args.jobs, args.seed)
    priors = Priors()
    latencies = []
    placed = 0
    rank_started = time.perf_counter()
    for req in jobs:
        t = time.perf_counter()
        ranked = index.rank(req, priors=priors, limit=3)
        latencies.append(time.perf_counter() - t)
        placed += bool(ranked)
    rank_s = time.perf_counter() - rank_started
    latencies.sort()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        ("offers loaded", f"{len(offers):,}"),
        ("load time (parse + index)", f"{load_s:.2f} s (parse {parsed - started:.2f} s)"),
        ("offers indexed per second", f"{len(offers) / load_s:,.0f}"),
        ("jobs ranked", f"{len(jobs):,} ({placed:,} with an offer)"),
        ("time to rank all jobs", f"{rank_s:.3f} s"),
        ("jobs ranked per second", f"{len(jobs) / rank_s:,.0f}"),
        ("per-job latency p50", f"{statistics.median(latencies) * 1e6:.0f} us"),
        ("per-job latency p99", f"{latencies[int(len(latencies) * 0.99) - 1] * 1e6:.0f} us"),
        ("peak RSS", f"{rss_mb:.0f} MB"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"placement benchmark ({sys.platform}, python {sys.version.split()[0]}, seed {args.seed})")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


if __name__ == "__main__":
    main()
