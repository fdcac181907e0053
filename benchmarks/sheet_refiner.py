"""Can a refiner mend a character whose trait changes in a few frames? The plain refiner against the sheet
refiner (models/refiner.SheetRefiner), both trained the same way on the built-in walkers' sheets (the generic
corruptions of train/refine.py: pixel noise and small patches, never a whole frame), then given held-out
characters (trait sets no training sheet has) with 1-4 of their 16 frames replaced by the same poses of the
character with one trait changed: the failure that keeps generated characters from reading as one
(docs/walkers.md). Each of those frames is a valid frame on its own, so only a refiner that relates the frames
can tell which way is wrong.

usage: python benchmarks/sheet_refiner.py [--steps 300] [--characters 300] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from spritegan.bench import loadavg, machine, markdown_table
from spritegan.data import walkers
from spritegan.metrics import walkers as walker_measures
from spritegan.models.refiner import PaletteRefiner, SheetRefiner
from spritegan.train.refine import corrupt_indices, train_refiner

BROKEN = ("hair", "accessory", "outfit", "skin", "hair_colour", "outfit_colour")


def to_index(sheets: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 4) walker sheets -> (N, H, W) indices into walkers.PALETTE."""
    keys = (walkers.PALETTE.astype(np.uint32) << walkers._KEY).sum(1)
    order = np.argsort(keys)
    pixels = (sheets.astype(np.uint32) << walkers._KEY).sum(-1)
    return torch.as_tensor(order[np.searchsorted(keys[order], pixels)], dtype=torch.long)


def broken_characters(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """n held-out characters' sheets as indices, the same with 1-4 frames from the character with one trait
    changed, and which trait."""
    seen = {tuple(sorted(t.items())) for t in walkers.make_walkers(4096, seed=0)[1]}
    _, everyone = walkers.make_walkers(walkers.N_COMBINATIONS, seed=seed)
    rng = np.random.default_rng(seed)
    clean, broken, which = [], [], []
    for traits in everyone:
        if tuple(sorted(traits.items())) in seen:
            continue
        trait = str(rng.choice(BROKEN))
        other = {**traits, trait: rng.choice([v for v in walkers.TRAITS[trait] if v != traits[trait]])}
        sheet = walkers.render_sheet(traits)
        frames = walkers.sheet_frames(sheet[None])[0].copy()
        swap = walkers.sheet_frames(walkers.render_sheet(other)[None])[0]
        for j in rng.choice(16, int(rng.integers(1, 5)), replace=False):
            frames[j] = swap[j]
        rows = [np.concatenate(list(frames[r * 4 : r * 4 + 4]), 1) for r in range(4)]
        clean.append(sheet)
        broken.append(np.concatenate(rows, 0))
        which.append(trait)
        if len(clean) == n:
            break
    return to_index(np.stack(clean)), to_index(np.stack(broken)), which


def scores(index: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
    rgba = walkers.PALETTE[index.numpy()]
    read = walker_measures.readable(np.ascontiguousarray(walkers.sheet_frames(rgba)))
    return {
        "restored exactly": float((index == clean).all(dim=(1, 2)).float().mean()),
        "readable characters": read["walker_readable_share"],
        "frames readable": read["walker_frame_readable_share"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300, help="refiner training steps (batch 32), each refiner")
    p.add_argument("--characters", type=int, default=300, help="held-out characters to break and mend")
    p.add_argument("--width", type=int, default=48, help="refiner width")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(machine(), f"load before: {loadavg()}")
    train = to_index(walkers.make_walkers(4096, seed=0)[0])
    clean, broken, which = broken_characters(args.characters, seed=123)
    noisy = corrupt_indices(broken, torch.Generator().manual_seed(9), pixel_rate=0.01, patches=0)
    colours = len(walkers.PALETTE)
    rows = [["input: traits changed in 1-4 frames", "", "", *scores(broken, clean).values()]]
    rows.append(["the same + 0-1% pixel noise", "", "", *scores(noisy, clean).values()])
    per_trait = {}
    for name, refiner in (
        ("plain refiner (the sheet as one image)", PaletteRefiner(colours, args.width)),
        ("sheet refiner (frames stacked)", SheetRefiner(colours, args.width, (4, 4))),
    ):
        torch.manual_seed(0)
        start = time.process_time()
        train_refiner(refiner, train, args.steps, seed=1, batch_size=32)
        cpu = time.process_time() - start
        params = sum(p.numel() for p in refiner.parameters())
        for label, source in (("", broken), (", with pixel noise", noisy)):
            out = refiner.refine(source, passes=2, max_colours=12)
            rows.append([name + label, f"{cpu:.0f}", f"{params:,}", *scores(out, clean).values()])
        out = refiner.refine(broken, passes=2, max_colours=12)
        exact = (out == clean).all(dim=(1, 2))
        per_trait[name] = {t: float(exact[[w == t for w in which]].float().mean()) for t in BROKEN}
    print(
        f"\n{args.characters} held-out characters, refiners trained {args.steps} steps at batch 32, 2 rounds"
    )
    head = [
        "sheets",
        "training CPU-s",
        "parameters",
        "restored exactly",
        "readable characters",
        "frames readable",
    ]
    print(markdown_table(head, rows))
    print("\nrestored exactly, by the trait changed:")
    print(markdown_table(["refiner", *BROKEN], [[k, *v.values()] for k, v in per_trait.items()]))
    print(f"load after: {loadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
