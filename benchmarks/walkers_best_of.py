"""Best of k latents per character on a builtin:walkers run, ranked by the refiner's edits and by the sheet reader.

The curve behind `generate --best-of K`: for each of `--characters` characters (seeds 0..n-1), the `--k`
candidate latents `generate --best-of` draws (`candidate_latents`: the seed's own first); each is sampled with
the refiner on (and off, for its edits), and among its first k' (k' = 1, 2, 4, ... k) one is kept by each
ranker: the sheet the refiner changes least, and (when the run has a trained sheet reader) the sheet whose
frames the reader reads surest as one set of traits, as `--best-of k'` keeps it. No decoder is used for the
choice, only the model's own refiner and reader; the walker measure then reads the kept sheets. The rows of
the run's own ranker (the reader when it has one) read as `spritegan eval RUN --metrics walkers --samples N
--best-of K`; the last line is the share of characters with at least one readable candidate among the k
(what a perfect ranker would keep).

usage: python benchmarks/walkers_best_of.py RUN --k 16 --characters 500
"""

from __future__ import annotations

import argparse
import json

import torch

from spritegan.generate.pipeline import (
    SpritePipeline,
    candidate_latents,
    reader_doubt,
    refiner_edits,
    sheet_reader,
)
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
    ap.add_argument(
        "--oracle", action="store_true", help="also read every candidate (slow: k times the reading)"
    )
    args = ap.parse_args(argv)
    raw = SpritePipeline.from_pretrained(args.run, refine=0)
    refined = SpritePipeline.from_pretrained(args.run)
    rankers = ["refiner"] + (["reader"] if sheet_reader(refined.generator) is not None else [])
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64) if k <= args.k]
    kept: dict[tuple[str, int], list[torch.Tensor]] = {(r, k): [] for r in rankers for k in ks}
    any_readable: list[torch.Tensor] = []
    for start in range(0, args.characters, args.batch):
        n = min(args.batch, args.characters - start)
        z = candidate_latents(range(start, start + n), raw.z_dim, args.k)
        a, b = raw(z=z), refined(z=z)
        scores = {"refiner": refiner_edits(a, b).view(n, args.k)}
        if "reader" in rankers:
            scores["reader"] = reader_doubt(refined.generator, b).view(n, args.k)
        sheets = b.view(n, args.k, *b.shape[1:])
        for r in rankers:
            for k in ks:
                kept[r, k].append(sheets[torch.arange(n), scores[r][:, :k].argmin(1)])
        if args.oracle:
            ok = [walker_metrics(b[i : i + 1])["walker_readable_share"] for i in range(len(b))]
            any_readable.append(torch.tensor(ok).view(n, args.k))
    for r in rankers:
        for k in ks:
            m = walker_metrics(torch.cat(kept[r, k]))
            print(f"by the {r}, best of {k}: " + json.dumps({key: m[key] for key in KEYS}), flush=True)
    if args.oracle:
        ok = torch.cat(any_readable)
        line = {k: round(float(ok[:, :k].amax(1).mean()), 4) for k in ks}
        print("characters with a readable candidate among the first k: " + json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
