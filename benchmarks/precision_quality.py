"""FID of runs at one checkpoint step, in both Inception precisions: training and evaluation precision at once.

The real punks are split at random (seed 0) into two disjoint halves A and B of n images; each run's G_ema is
read from checkpoints/step-<step>.safetensors and samples seeds 0..n-1. Features of every set are computed in
fp32 and then in bf16, and FID(A, B), FID(run, A) and FID(run, B) are printed per mode as soon as it is done
(the fp32 lines compare the runs; the bf16 lines give what bf16 features change).

    OMP_NUM_THREADS=1 python benchmarks/precision_quality.py runs/fp32 runs/bf16 --step 1000 --n 500
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

PUNKS = "/work/shared/datasets/cryptopunks/punks.png"


def run_samples(run: str, step: int, n: int) -> np.ndarray:
    """n uint8 samples (seeds 0..n-1) of the run's G_ema as it was saved at `step`."""
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.train.checkpoint import load_checkpoint

    pipe = SpritePipeline.from_run(run)
    state = load_checkpoint(Path(run) / "checkpoints" / f"step-{step:06d}.safetensors")
    pipe.generator.load_state_dict(state["modules"]["G_ema"])
    return pipe(n=n, seed=0).numpy()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run folders with a checkpoint at --step")
    ap.add_argument("--step", type=int, required=True)
    ap.add_argument("--n", type=int, default=500, help="images per set")
    ap.add_argument("--data", default=PUNKS)
    args = ap.parse_args(argv)

    from spritegan.commands.eval import load_images
    from spritegan.metrics.features import inception_features
    from spritegan.metrics.frechet import fid_from_features

    torch.set_num_threads(1)
    real = load_images(args.data, "24" if args.data.endswith(".png") else None).numpy()
    perm = np.random.default_rng(0).permutation(len(real))
    sets = {"A": real[perm[: args.n]], "B": real[perm[args.n : 2 * args.n]]}
    for run in args.runs:
        sets[run] = run_samples(run, args.step, args.n)
    print(f"load {os.getloadavg()}", flush=True)
    for mode in ("fp32", "bf16"):
        t0 = time.perf_counter()
        feats = {k: inception_features(v, precision=mode, progress=False) for k, v in sets.items()}
        dt = time.perf_counter() - t0
        total = sum(map(len, sets.values()))
        print(f"{mode}: {total} images in {dt:.0f} s ({total / dt:.2f} img/s), load {os.getloadavg()}")
        print(f"  FID-{args.n} A vs B {fid_from_features(feats['A'], feats['B']):.3f}")
        for run in args.runs:
            fa, fb = (fid_from_features(feats[run], feats[h]) for h in ("A", "B"))
            print(f"  FID-{args.n} {run} (step {args.step}) vs A {fa:.3f}, vs B {fb:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
