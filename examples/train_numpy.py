"""A small, deterministic training job that checkpoints: logistic regression with numpy.

The Spotwise job contract, in full:
- write checkpoints under $SPOTWISE_CHECKPOINT_DIR (atomically: temp file, then rename);
- when $SPOTWISE_RESUMED is 1 (or a checkpoint exists), continue from the latest checkpoint;
- on SIGTERM (a preemption notice), save a checkpoint and exit promptly.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np


def make_data(seed: int, n: int = 2000, features: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    true_w = rng.normal(size=features)
    y = (x @ true_w + 0.5 * rng.normal(size=n) > 0).astype(np.float64)
    return x, y


def loss_and_grad(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    p = 1.0 / (1.0 + np.exp(-(x @ w)))
    eps = 1e-12
    loss = -float(np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))
    return loss, x.T @ (p - y) / len(y)


def save(path: Path, step: int, w: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, step=step, w=w)
    os.replace(tmp, path)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--checkpoint-every", type=int, default=25)
    parser.add_argument("--step-seconds", type=float, default=0.03, help="simulated compute per step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=0.5)
    args = parser.parse_args()

    ckpt_dir = Path(os.environ.get("SPOTWISE_CHECKPOINT_DIR", "checkpoints"))
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    ckpt = ckpt_dir / "model.npz"
    x, y = make_data(args.seed)
    w, step = np.zeros(x.shape[1]), 0
    if ckpt.exists():
        with np.load(ckpt) as saved:
            w, step = saved["w"].copy(), int(saved["step"])
        print(f"resumed from checkpoint at step {step}", flush=True)

    stop = {"requested": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))

    while step < args.steps:
        loss, grad = loss_and_grad(w, x, y)
        w -= args.lr * grad
        step += 1
        time.sleep(args.step_seconds)
        if step % args.checkpoint_every == 0 or step == args.steps:
            save(ckpt, step, w)
            print(f"step {step:4d}  loss {loss:.5f}  checkpoint saved", flush=True)
        if stop["requested"]:
            save(ckpt, step, w)
            print(f"SIGTERM: checkpoint saved at step {step}; exiting for a resume elsewhere", flush=True)
            return 143
    accuracy = float(np.mean(((x @ w) > 0) == (y > 0.5)))
    digest = hashlib.sha256(w.tobytes()).hexdigest()  # bitwise: a resumed run must reproduce it exactly
    print(f"done: {step} steps, train accuracy {accuracy:.4f}, weights sha256 {digest}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
