"""Check the agent's NVML readings on a real GPU: idle, under load, and idle again.

Run on a machine with an NVIDIA GPU: `python bench/gpu_probe.py [--out FILE]`. It samples
through the same `orchestrator.agent.gpu.NvmlReader` the agent uses for heartbeats and idle
detection, while a PyTorch matrix-multiply loop (if torch with CUDA is present) loads the GPU,
and prints one row per phase: utilisation and power as NVML reports them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.agent.gpu import GpuSample, NvmlReader, mean_utilization  # noqa: E402

IDLE_THRESHOLD_PERCENT = 5.0


def sample_for(reader: NvmlReader, seconds: float, period: float = 0.25) -> list[list[GpuSample]]:
    rounds = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rounds.append(reader.sample())
        time.sleep(period)
    return rounds


def load_gpu(stop: threading.Event, ready: threading.Event) -> None:
    import torch

    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    torch.cuda.synchronize()
    ready.set()
    while not stop.is_set():
        for _ in range(20):
            a @ b
        torch.cuda.synchronize()


def _first(rounds: list[list[GpuSample]], test: object, period: float) -> float | None:
    """Seconds until the first sampling round whose mean utilisation passes `test`."""
    for i, r in enumerate(rounds):
        if test(mean_utilization(r) or 0.0):  # type: ignore[operator]
            return round(i * period, 2)
    return None


def summarise(phase: str, rounds: list[list[GpuSample]]) -> dict[str, object]:
    utils = [mean_utilization(r) or 0.0 for r in rounds]
    powers = [s.power_watts for r in rounds for s in r if s.power_watts is not None]
    return {
        "phase": phase, "samples": len(rounds),
        "util_mean": round(statistics.fmean(utils), 1) if utils else None,
        "util_max": max(utils) if utils else None,
        "power_mean_w": round(statistics.fmean(powers), 1) if powers else None,
        "power_max_w": round(max(powers), 1) if powers else None,
        "idle_verdict": bool(utils) and statistics.fmean(utils) < IDLE_THRESHOLD_PERCENT,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    reader = NvmlReader.open()
    if reader is None:
        print("NVML not available: no NVIDIA driver or nvidia-ml-py here", file=sys.stderr)
        return 2
    first = reader.sample()
    for s in first:
        print(f"GPU {s.index}: {s.name}, {s.memory_total_mib:.0f} MiB, power limit {s.power_limit_watts} W")
    rows = [summarise("idle before", sample_for(reader, args.seconds))]
    stop, ready = threading.Event(), threading.Event()
    worker = threading.Thread(target=load_gpu, args=(stop, ready), daemon=True)
    worker.start()
    ready.wait(120)  # torch import and CUDA start-up are not GPU load
    started = time.monotonic()
    rise = sample_for(reader, 2.0, period=0.1)  # how fast NVML's figure follows the load
    rows.append(summarise("matmul load", sample_for(reader, args.seconds)))
    stop.set()
    worker.join()
    stopped = time.monotonic()
    fall = sample_for(reader, 3.0, period=0.1)  # how long the figure lags after the load stops
    rows.append(summarise("idle after", sample_for(reader, args.seconds)))
    lag = {
        "rise_first_busy_s": _first(rise, lambda u: u >= 50, 0.1),
        "fall_first_idle_s": _first(fall, lambda u: u < IDLE_THRESHOLD_PERCENT, 0.1),
    }
    print(f"NVML utilisation follows the load after {lag['rise_first_busy_s']} s and drops below "
          f"{IDLE_THRESHOLD_PERCENT}% {lag['fall_first_idle_s']} s after it stops "
          f"(load window {stopped - started:.1f} s)")
    reader.close()
    header = f"{'phase':<12} {'n':>3} {'util%':>6} {'max%':>5} {'W mean':>7} {'W max':>7}  idle?"
    print(header)
    for r in rows:
        print(f"{r['phase']:<12} {r['samples']:>3} {r['util_mean']:>6} {r['util_max']:>5} "
              f"{r['power_mean_w']!s:>7} {r['power_max_w']!s:>7}  {r['idle_verdict']}")
    if args.out:
        args.out.write_text(json.dumps({"gpus": [s.__dict__ for s in first], "phases": rows, "lag": lag},
                                       indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
