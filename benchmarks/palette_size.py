"""How many k-means colours painted art needs: what a K-colour palette does to the real images.

A palette head on data with more than 256 colours chooses from a k-means palette of K colours
(`model.palette_kmeans`), so the best it can draw is the real images quantised to that palette. For each K this
prints the quantisation error of the real images (mean absolute error per RGB channel over visible pixels, its
99th percentile, PSNR), the alpha levels left (k-means runs on RGBA, so soft alpha is quantised with the
colours), the share of pixels whose colour moves by more than 8 levels, and with --fid N the FID of N quantised
images against the same N originals (FID-N, an in-training-style signal: it only ranks K).

    python benchmarks/palette_size.py --data ../shared/datasets/pokemon/images --resize 64 --resample area \\
        --k 16,32,64,128,256 --fid 300
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from spritegan.data.palette import quantise


def errors(real: torch.Tensor, quant: torch.Tensor) -> dict:
    """Per-channel RGB error over pixels visible in the original (alpha > 0 or no alpha channel)."""
    c = real.shape[1]
    visible = (real[:, 3] > 0) if c == 4 else torch.ones_like(real[:, 0], dtype=torch.bool)
    diff = (real[:, :3].float() - quant[:, :3].float()).abs().permute(0, 2, 3, 1)[visible]
    mse = float(diff.square().mean())
    alpha = (real[:, 3].float() - quant[:, 3].float()).abs()[visible] if c == 4 else torch.zeros(1)
    return {
        "mae": float(diff.mean()),
        "p99": float(torch.quantile(diff.max(1).values[:: max(1, len(diff) // 500_000)], 0.99)),
        "psnr": 10 * np.log10(255.0**2 / max(mse, 1e-12)),
        "moved_8": float((diff.max(1).values > 8).float().mean()),
        "alpha_mae": float(alpha.mean()),
        "alpha_levels": int(torch.unique(quant[:, 3]).numel()) if c == 4 else 0,
    }


def main(argv: list[str] | None = None) -> int:
    from spritegan.data.dataset import open_dataset
    from spritegan.data.palette import kmeans_palette

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="dataset (as for spritegan train)")
    ap.add_argument("--resize", help="resize as spritegan train --resize does, e.g. 64")
    ap.add_argument("--resample", default="area", help="resize filter (default area)")
    ap.add_argument("--tile", help="tile size for a sprite sheet")
    ap.add_argument("--k", default="16,32,64,128,256", help="palette sizes, comma-separated")
    ap.add_argument(
        "--fid", type=int, default=0, help="N: FID-N of N quantised vs the same N originals (0: off)"
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = open_dataset(args.data, tile=args.tile, resize=args.resize, resample=args.resample)
    real = data.images
    c = real.shape[1]
    pix = real.permute(0, 2, 3, 1).reshape(-1, c)
    distinct = len(torch.unique(pix, dim=0))
    alpha_levels = int(torch.unique(real[:, 3]).numel()) if c == 4 else 0
    print(f"{args.data}: {len(real)} images {tuple(real.shape[1:])}, {distinct} distinct colours")
    print(f"alpha levels in the data: {alpha_levels}\n")
    ref = None
    subset = None
    if args.fid:
        from spritegan.metrics.features import inception_features

        subset = torch.randperm(len(real), generator=torch.Generator().manual_seed(0))[: args.fid]
        t0 = time.perf_counter()
        ref = inception_features(real[subset].numpy(), progress=False)
        print(f"features of {len(subset)} originals: {time.perf_counter() - t0:.0f} s")
    head = "| K | colours | MAE (0-255) | p99 | PSNR dB | pixels moved > 8 | alpha MAE | alpha levels |"
    if args.fid:
        head += f" FID-{args.fid} vs originals |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for k in [int(x) for x in args.k.split(",")]:
        t0 = time.perf_counter()
        palette = kmeans_palette(real, k, seed=0)
        quant = quantise(real, palette)
        e = errors(real, quant)
        row = (
            f"| {k} | {len(palette)} | {e['mae']:.2f} | {e['p99']:.0f} | {e['psnr']:.1f} | {e['moved_8']:.3f} |"
            f" {e['alpha_mae']:.2f} | {e['alpha_levels']} |"
        )
        if args.fid:
            from spritegan.metrics.features import inception_features
            from spritegan.metrics.frechet import fid_from_features

            feats = inception_features(quant[subset].numpy(), progress=False)
            row += f" {fid_from_features(feats, ref):.2f} |"
        print(row + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
