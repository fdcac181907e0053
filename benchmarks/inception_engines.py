"""Inception features on ONNX Runtime against TorchScript: speed in one interleaved run, and FID on named pairs.

Speed: `inception_speed.speed` on the same batches of real images (every mode of that script, rotating
order, median of the repeats), in images per second of this process's CPU time, against TorchScript fp32. FID: every real image and `--n` samples of a run (seeds
0..n-1, as `spritegan eval RUN` draws them) through both engines; the table gives FID of two random halves
of the real data (split 0 of benchmarks/real_floor.py) and FID-n of the run against all real images, per
engine, with the relative change. The real TorchScript features come from the eval cache when they are
there (they are what `spritegan eval` computed before this engine existed).

    OMP_NUM_THREADS=1 python benchmarks/inception_engines.py --run runs/punks --n 5000
    OMP_NUM_THREADS=1 python benchmarks/inception_engines.py --data ../shared/datasets/cryptopunks/punks.png \\
        --tile 24 --speed-only
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inception_speed import speed  # noqa: E402  (the interleaved speed of every mode, one implementation)


def torch_real_features(real: np.ndarray) -> tuple[np.ndarray, str]:
    """TorchScript features of the real set, through the eval cache (computed and cached on a miss)."""
    from spritegan.metrics.evaluate import real_features

    before = os.environ.get("SPRITEGAN_FID_ENGINE")
    os.environ["SPRITEGAN_FID_ENGINE"] = "torch"
    try:
        return real_features(real, progress=True)
    finally:
        if before is None:
            os.environ.pop("SPRITEGAN_FID_ENGINE")
        else:
            os.environ["SPRITEGAN_FID_ENGINE"] = before


def main(argv: list[str] | None = None) -> int:
    import torch

    from spritegan.bench import median
    from spritegan.data.dataset import open_dataset
    from spritegan.metrics.features import inception_features
    from spritegan.metrics.frechet import fid_from_features

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="run folder: its data and --n samples are the FID pairs")
    ap.add_argument("--data", help="real data (default: the run's data source)")
    ap.add_argument("--tile", help="tile size for a sprite-sheet --data")
    ap.add_argument("--n", type=int, default=5000, help="samples of the run (default 5000: FID-5k)")
    ap.add_argument("--batches", type=int, default=2, help="batches of 32 per speed repeat")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved speed repeats")
    ap.add_argument("--speed-only", action="store_true", help="skip the FID pairs")
    args = ap.parse_args(argv)
    print(f"torch threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.1f}")

    pipe = None
    if args.run:
        from spritegan.generate.pipeline import SpritePipeline

        pipe = SpritePipeline.from_run(args.run)
    spec = args.data or (pipe.manifest.get("source") if pipe is not None else None)
    if not spec:
        ap.error("give --run or --data")
    if args.data:
        real = open_dataset(spec, tile=args.tile).images.numpy()
    else:
        from spritegan.metrics.evaluate import training_data_options

        real = open_dataset(spec, **training_data_options(pipe.manifest)).images.numpy()

    rates = speed(real, args.batches, 32, args.repeats, clock=time.process_time)
    base = median(rates["fp32"])
    print("| mode | img per CPU-s | min-max | x TorchScript fp32 |\n| --- | ---: | ---: | ---: |")
    for name, values in rates.items():
        print(
            f"| {name} | {median(values):.2f} | {min(values):.2f}-{max(values):.2f} | {median(values) / base:.2f} |"
        )
    if args.speed_only:
        return 0

    t0 = time.process_time()
    real_torch, status = torch_real_features(real)
    print(f"real, TorchScript: {len(real)} images ({status}) in {time.process_time() - t0:.0f} CPU-s")
    t0 = time.process_time()
    real_onnx = inception_features(real, engine="onnxruntime", progress=True)
    print(f"real, ONNX Runtime: {len(real)} images in {time.process_time() - t0:.0f} CPU-s")
    half = len(real) // 2
    order = np.random.default_rng(0).permutation(len(real))
    a, b = order[:half], order[half : 2 * half]
    rows = [("real half A vs real half B", fid_from_features(real_torch[a], real_torch[b]),
             fid_from_features(real_onnx[a], real_onnx[b]))]  # fmt: skip
    deviation = np.abs(real_onnx - real_torch).max() / np.abs(real_torch).max()
    if pipe is not None:
        fake = pipe(n=args.n, seed=0).numpy()
        feats = {}
        for engine in ("torch", "onnxruntime"):
            t0 = time.process_time()
            feats[engine] = inception_features(fake, engine=engine, progress=True)
            print(f"{args.n} samples, {engine}: {time.process_time() - t0:.0f} CPU-s")
        rows.append((f"{args.run} ({args.n} samples) vs all real", fid_from_features(feats["torch"], real_torch),
                     fid_from_features(feats["onnxruntime"], real_onnx)))  # fmt: skip
        fake_dev = np.abs(feats["onnxruntime"] - feats["torch"]).max() / np.abs(feats["torch"]).max()
        deviation = max(deviation, fake_dev)
    print(f"largest feature difference: {deviation:.2e} of the largest feature")
    print(
        "| pair | FID TorchScript | FID ONNX Runtime | difference | relative |\n| --- | ---: | ---: | ---: | ---: |"
    )
    for name, fid_torch, fid_onnx in rows:
        diff = fid_onnx - fid_torch
        print(f"| {name} | {fid_torch:.4f} | {fid_onnx:.4f} | {diff:+.4f} | {100 * diff / fid_torch:+.4f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
