"""The README's "Seamless tiles" figures beyond `spritegan eval`: 3x3 repeat images, phase steps, materials.

For a conditional run on builtin:tiles: writes OUT/tiles-real-3x3.png (one real tile per material) and
OUT/tiles-generated-3x3.png (seeds 0-8, materials drawn from the data as `spritegan generate` does), each tile
repeated 3x3, x2; prints `metrics.tiles.phase_steps` of N generated tiles and of the real set, and the share of
generated tiles whose pixels sit nearest the asked material's palette (100 seeds per material; a palette
classifier that puts every real tile in its material).

usage: python benchmarks/tiles_figures.py runs/tiles --out docs/img [--samples 1000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from spritegan.data.tiles import MATERIALS, PALETTES, make_tiles, tile_repeat
from spritegan.generate.pipeline import SpritePipeline
from spritegan.generate.sheet import make_sheet
from spritegan.metrics.tiles import phase_steps


def classify(tiles_hwc: np.ndarray) -> list[str]:
    """Each (H, W, 3) tile's material: the one whose palette its pixels are nearest to on average."""
    px = tiles_hwc.reshape(len(tiles_hwc), -1, 3).astype(np.float64)
    scores = [
        np.sqrt(((px[:, :, None] - np.array(PALETTES[m], np.float64)) ** 2).sum(-1)).min(-1).mean(-1)
        for m in MATERIALS
    ]
    return [MATERIALS[i] for i in np.argmin(np.stack(scores, 1), 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run")
    parser.add_argument("--out", default=None, help="folder for the two PNGs (default: none written)")
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    pipe = SpritePipeline.from_run(args.run)
    real, materials = make_tiles(len(MATERIALS) * 256)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        order = sorted(MATERIALS)
        first = np.stack([real[materials.index(m)] for m in order]).transpose(0, 3, 1, 2).copy()
        seeds = list(range(9))
        fake = pipe(seeds, labels=pipe.labels_for(None, seeds))
        for name, images in (("real", torch.from_numpy(first)), ("generated", fake)):
            sheet = make_sheet(tile_repeat(images, 3), ncol=3, scale=2, pad=2, background="white")
            sheet.save(Path(args.out) / f"tiles-{name}-3x3.png")
    np.set_printoptions(precision=1, linewidth=120)
    print("phase steps, generated:", phase_steps(pipe(n=args.samples, seed=0).numpy()))
    print("phase steps, real:     ", phase_steps(real.transpose(0, 3, 1, 2)))
    print(
        "real tiles classified right:",
        np.mean([a == b for a, b in zip(classify(real), materials, strict=True)]),
    )
    if pipe.label_spec:
        hits = {}
        for m in MATERIALS:
            seeds = list(range(100))
            out = pipe(seeds, labels=pipe.labels_for(f"material={m}", seeds)).numpy().transpose(0, 2, 3, 1)
            hits[m] = float(np.mean([c == m for c in classify(out)]))
        print(
            "asked material drawn:",
            {k: round(v, 2) for k, v in hits.items()},
            round(np.mean(list(hits.values())), 3),
        )


if __name__ == "__main__":
    main()
