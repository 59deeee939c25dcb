"""Cheapest in total, not per hour: where three placement rules put a 48 h H100:8 job whose checkpoint is in
us-east-1, and what each choice is expected to cost to finish (egress, transfer time and re-transfers included).

    .venv/bin/python bench/total_cost.py [--hours 48] [--checkpoint-gb 100] [--dataset-gb 1000]
                                         [--interruptions-per-hour 0.05]

Offers: the shared catalogs under ../shared/data/catalog (GCP, Azure, the AWS p5.48xlarge excerpt), both markets.
Rules compared, each evaluated with the same expected-total model (policies/totalcost.py):
- Spotwise: `place_by_total`, what the launcher calls: lowest expected cost to finish;
- cheapest per hour: the lowest expected $/h (`OfferIndex.rank`, what placement did before);
- SkyPilot's published rule: hourly x runtime + egress of the task's declared inputs only, counted when the
  input's cloud differs from the candidate's (sky/optimizer.py, `_egress_cost`; the checkpoint and transfer
  time are not part of it), at the list internet price of the input's cloud.
Interruptions: the catalogs carry no priors; every spot offer gets `--interruptions-per-hour` (0.05/h, about
the 2-3 preemptions per 48 h job the shared V100 traces show for a spot-only policy). Scenarios: the checkpoint
alone; with a declared data set of `--dataset-gb` in the same bucket region; and that data inside the
checkpoint instead (nothing declared: what SkyPilot's rule cannot see).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.catalog.vmscsv import parse_vms_csv  # noqa: E402
from policies.egress import TABLE_VERSION, TransferRates, move_kind  # noqa: E402
from policies.placement import OfferIndex, PlacementRequest, Priors, RankedOffer  # noqa: E402
from policies.totalcost import DataItem, DataProfile, TotalRanked, place_by_total, total_cost  # noqa: E402
from providers.base import Offer  # noqa: E402

CATALOG = ROOT.parent / "shared" / "data" / "catalog"
STORE = ("aws", "us-east-1")


def load(prior: float) -> list[Offer]:
    offers: list[Offer] = []
    for cloud in ("gcp", "azure", "aws"):
        for path in sorted((CATALOG / cloud).glob("*.csv")):
            offers.extend(parse_vms_csv(path.read_text(), cloud))
    return [dataclasses.replace(o, interruption_prior=prior) if o.spot else o for o in offers]


def skypilot_choice(ranked: list[RankedOffer], profile: DataProfile, rates: TransferRates) -> RankedOffer:
    """hourly x hours + egress of declared inputs (not the checkpoint) across clouds only."""
    def cost(r: RankedOffer) -> float:
        egress = sum(i.bytes / 1e9 * rates.egress_usd_per_gb(i.cloud, "internet") for i in profile.items
                     if i.what != "checkpoint" and i.cloud != r.offer.cloud)
        return r.offer.price_per_hour * profile.remaining_hours + egress
    return min(ranked, key=cost)


def row(rule: str, r: RankedOffer, profile: DataProfile, rates: TransferRates, priors: Priors) -> list[str]:
    t = total_cost(r, profile, rates, priors)
    o = r.offer
    kind = move_kind(STORE[0], STORE[1], o.cloud, o.region)
    return [rule, f"{o.cloud} {o.region} {o.instance_type} {'spot' if o.spot else 'on-demand'}",
            f"{o.price_per_hour:.2f}", kind, f"{t.transfer_gb:.0f}", f"{t.egress_usd:.2f}",
            f"{t.transfer_minutes:.0f}", f"{t.interruptions:.2f}", f"{t.retransfer_usd:.2f}", f"{t.total_usd:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=48.0)
    parser.add_argument("--checkpoint-gb", type=float, default=100.0)
    parser.add_argument("--dataset-gb", type=float, default=1000.0)
    parser.add_argument("--interruptions-per-hour", type=float, default=0.05)
    parser.add_argument("--gpu", default="H100:8")
    parser.add_argument("--jobs", type=int, default=10_000, help="mixed jobs for the ranking-speed figure")
    args = parser.parse_args()
    if not CATALOG.exists():
        raise SystemExit(f"the shared catalogs are not at {CATALOG}")
    model, _, count = args.gpu.partition(":")
    index = OfferIndex(load(args.interruptions_per_hour))
    req = PlacementRequest(gpu_model=model, gpu_count=int(count or 1))
    priors = Priors()
    rates = TransferRates()
    checkpoint = DataItem("checkpoint", *STORE, int(args.checkpoint_gb * 1e9))
    dataset = DataItem("s3://datasets/train", *STORE, int(args.dataset_gb * 1e9))
    head = ["rule", "choice", "$/h", "move", "GB moved", "egress $", "transfer min", "interruptions",
            "re-transfer $", "expected total $"]
    print(f"total-cost benchmark: {args.gpu}, {args.hours:g} h left, store {STORE[0]} {STORE[1]}, "
          f"spot prior {args.interruptions_per_hour:g}/h, egress table {TABLE_VERSION}, {index.size:,} offers")
    for name, items in ((f"{args.checkpoint_gb:g} GB checkpoint", (checkpoint,)),
                        (f"{args.checkpoint_gb:g} GB checkpoint + {args.dataset_gb:g} GB declared data set",
                         (checkpoint, dataset)),
                        (f"{args.checkpoint_gb + args.dataset_gb:g} GB checkpoint (data inside it, no declared "
                         "input)", (dataclasses.replace(checkpoint, bytes=checkpoint.bytes + dataset.bytes),))):
        profile = DataProfile(items, args.hours, "bench", startup_hours=120 / 3600)
        ranked = index.rank(req, priors=priors, limit=50)
        spotwise: list[TotalRanked] = place_by_total(index, req, profile, rates, priors=priors, limit=1)
        rows = [row("Spotwise (expected total)", spotwise[0].ranked, profile, rates, priors),
                row("cheapest per hour", ranked[0], profile, rates, priors),
                row("SkyPilot rule (inputs' egress)", skypilot_choice(ranked, profile, rates), profile, rates,
                    priors)]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        print(f"\n{name}:")
        print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for r in rows:
            print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
        print(f"why: {spotwise[0].reason}")
    _speed(index, priors, rates, checkpoint, args.jobs)


def _speed(index: OfferIndex, priors: Priors, rates: TransferRates, checkpoint: DataItem, n: int) -> None:
    """What pricing every candidate in full costs the launcher: the placement benchmark's mixed jobs ranked by
    the hourly index and by expected total (a checkpoint in us-east-1), same requests, same run."""
    import statistics
    import time

    from bench.placement import workload

    offers = [o for group in index.by_shape.values() for g in group for o in g[3]]
    jobs = workload(offers, n, 7)
    profile = DataProfile((checkpoint,), 48.0, "bench")
    timings: dict[str, list[float]] = {"hourly": [], "total": []}
    for req in jobs:
        t = time.perf_counter()
        index.rank(req, priors=priors, limit=3)
        timings["hourly"].append(time.perf_counter() - t)
        t = time.perf_counter()
        place_by_total(index, req, profile, rates, priors=priors, limit=3)
        timings["total"].append(time.perf_counter() - t)
    print(f"\nranking {n:,} mixed jobs (bench/placement.py's workload), limit 3:")
    for name, values in timings.items():
        values.sort()
        print(f"  {name:<6} total {sum(values):.3f} s, p50 {statistics.median(values) * 1e6:.0f} us, "
              f"p99 {values[int(len(values) * 0.99) - 1] * 1e6:.0f} us")


if __name__ == "__main__":
    main()
