"""Best of k latents per character on a builtin:walkers run, ranked by how much the sheet refiner changes them.

The curve behind `generate --best-of K`: for each of `--characters` characters (seeds 0..n-1), the `--k`
candidate latents `generate --best-of` draws (`candidate_latents`: the seed's own first); each is sampled with
the refiner off and on, and among its first k' (k' = 1, 2, 4, ... k) the one whose sheet the refiner changes
least is kept, as `--best-of k'` keeps it. No decoder is used for the choice, only the model's own refiner;
the walker measure then reads the kept sheets. The row for k' = K reads as `spritegan eval RUN --metrics
walkers --samples N --best-of K`.

usage: python benchmarks/walkers_best_of.py RUN --k 16 --characters 500
"""

from __future__ import annotations

import argparse
import json

import torch

from spritegan.generate.pipeline import SpritePipeline, candidate_latents, refiner_edits
from spritegan.metrics.walkers import walker_metrics

KEYS = (
    "walker_readable_share",
    "walker_readable_distinct",
    "walker_frame_readable_share",
    "walker_mean_agreement",
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a builtin:walkers run whose palette head has a trained sheet refiner")
    ap.add_argument("--k", type=int, default=8, help="latents per character (default 8)")
    ap.add_argument("--characters", type=int, default=500, help="characters (default 500)")
    ap.add_argument("--batch", type=int, default=25, help="characters per batch (default 25)")
    args = ap.parse_args(argv)
    raw = SpritePipeline.from_pretrained(args.run, refine=0)
    refined = SpritePipeline.from_pretrained(args.run)
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64) if k <= args.k]
    kept: dict[int, list[torch.Tensor]] = {k: [] for k in ks}
    for start in range(0, args.characters, args.batch):
        n = min(args.batch, args.characters - start)
        z = candidate_latents(range(start, start + n), raw.z_dim, args.k)
        a, b = raw(z=z), refined(z=z)
        edits = refiner_edits(a, b).view(n, args.k)
        sheets = b.view(n, args.k, *b.shape[1:])
        for k in ks:
            kept[k].append(sheets[torch.arange(n), edits[:, :k].argmin(1)])
    for k in ks:
        m = walker_metrics(torch.cat(kept[k]))
        print(f"best of {k}: " + json.dumps({key: m[key] for key in KEYS}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
