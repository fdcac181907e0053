"""The real-vs-real FID floor: two random halves of a dataset against each other, from cached features.

FID-5k tables need a floor: the FID two disjoint halves of the real data score against each other (5,000 vs
5,000 for the 10,000 punks). The features are the same cached real features `spritegan eval` uses, so running
this first also fills the cache for every later FID-5k against that data.

usage: python benchmarks/real_floor.py --data ../shared/datasets/cryptopunks/punks.png --tile 24 [--splits 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from spritegan.data.dataset import open_dataset
    from spritegan.metrics.evaluate import real_features
    from spritegan.metrics.frechet import fid_from_features
    from spritegan.metrics.kid import kernel_inception_distance

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="dataset (as for spritegan train)")
    ap.add_argument("--tile", help="tile size for a sprite-sheet dataset, e.g. 24")
    ap.add_argument("--splits", type=int, default=3, help="random half/half splits (seeds 0..splits-1)")
    args = ap.parse_args(argv)
    data = open_dataset(args.data, tile=args.tile)
    t0 = time.perf_counter()
    feats, status = real_features(data.images.numpy(), progress=True)
    print(f"{len(feats)} real features ({status}) in {time.perf_counter() - t0:.0f} s")
    half = len(feats) // 2
    for seed in range(args.splits):
        order = np.random.default_rng(seed).permutation(len(feats))
        a, b = feats[order[:half]], feats[order[half : 2 * half]]
        kid_mean, kid_std = kernel_inception_distance(a, b, subset_size=min(1000, half))
        print(
            f"split {seed}: FID {fid_from_features(a, b):.3f} ({half} vs {half}), KID {kid_mean:.5f} +- {kid_std:.5f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
