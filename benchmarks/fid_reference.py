"""Reference FID/KID figures for the bundled real datasets: the split-half floor and simple baselines.

For each dataset, a random subset of at most --max-images real images is split into two disjoint halves
A and B. FID and KID are measured between A and: B (the floor two real samples reach), Gaussian-noise
images, the per-pixel mean image of A repeated, and B with each image's pixel positions shuffled.
Prints a markdown table with the sample counts and the time taken on this machine.

    python benchmarks/fid_reference.py --max-images 1000 > docs/fid_reference.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

DATASETS = {
    "cryptopunks": "cryptopunks/images",
    "pokemon": "pokemon/images",
    "game-characters": "game-characters/images",
}


def baselines(half_a: np.ndarray, half_b: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The comparison sets, each the size of half B."""
    n = len(half_b)
    noise = np.clip(rng.normal(127.5, 64.0, size=half_b.shape), 0, 255).astype(np.uint8)
    mean_image = np.rint(half_a.astype(np.float64).mean(0)).astype(np.uint8)
    flat = half_b.reshape(n, half_b.shape[1], -1)
    shuffled = np.stack([img[:, rng.permutation(flat.shape[2])] for img in flat]).reshape(half_b.shape)
    return {
        "real half B (floor)": half_b,
        "Gaussian noise": noise,
        "mean image repeated": np.repeat(mean_image[None], n, axis=0),
        "shuffled pixels of B": shuffled,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", default="/work/shared/datasets", help="folder holding the datasets")
    parser.add_argument("--max-images", type=int, default=1000, help="real images per dataset (split in two)")
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated subset")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from spritegan.commands.eval import load_images
    from spritegan.metrics.features import CONVENTION_TEXT, extractor_id, inception_features
    from spritegan.metrics.frechet import fid_from_features
    from spritegan.metrics.kid import kernel_inception_distance

    torch.set_num_threads(args.threads)
    rows = []
    speed = []
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        folder = Path(args.root) / DATASETS[name]
        if not folder.is_dir():
            print(f"skipping {name}: {folder} not found", file=sys.stderr)
            continue
        images = load_images(str(folder)).numpy()
        total = len(images)
        rng = np.random.default_rng(args.seed)
        picked = images[rng.permutation(total)[: args.max_images]]
        half = len(picked) // 2
        half_a, half_b = picked[:half], picked[half : 2 * half]
        t0 = time.perf_counter()
        feats_a = inception_features(half_a, batch_size=args.batch_size, progress=False)
        speed.append((len(half_a), time.perf_counter() - t0))
        print(f"{name}: {len(half_a)} images in {speed[-1][1]:.1f}s", file=sys.stderr, flush=True)
        subset = min(1000, half)
        for label, other in baselines(half_a, half_b, rng).items():
            t1 = time.perf_counter()
            if (other == other[:1]).all():
                one = inception_features(other[:1], progress=False)
                feats_b = np.repeat(one, len(other), axis=0)
            else:
                feats_b = inception_features(other, batch_size=args.batch_size, progress=False)
            fid = fid_from_features(feats_a, feats_b)
            kid_mean, kid_std = kernel_inception_distance(
                feats_a, feats_b, num_subsets=100, subset_size=subset, seed=args.seed
            )
            elapsed = time.perf_counter() - t1
            rows.append(
                (name, total, label, len(half_a), len(other), fid, kid_mean, kid_std, subset, elapsed)
            )
            print(f"  {label}: FID {fid:.2f} ({elapsed:.0f}s)", file=sys.stderr, flush=True)

    n_img = sum(n for n, _ in speed)
    secs = sum(s for _, s in speed)
    print("# FID/KID reference figures\n")
    print(f"Extractor `{extractor_id()}`; preprocessing: {CONVENTION_TEXT}.")
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} with "
        f"{args.threads} threads; feature extraction ran at {n_img / secs:.1f} images/s "
        f"(including preprocessing). Seed {args.seed}; KID is the mean +- std over 100 subsets.\n"
    )
    print(
        "| dataset (images available) | compared with half A | n A | n other | FID | KID x 10^3 | KID subset | time (s) |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, total, label, na, nb, fid, kid_mean, kid_std, subset, elapsed in rows:
        print(
            f"| {name} ({total}) | {label} | {na} | {nb} | {fid:.2f} | {1e3 * kid_mean:.2f} +- {1e3 * kid_std:.2f} "
            f"| {subset} | {elapsed:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
