"""Which colours a run on the built-in sprites draws where its nearest valid sprite has another: the top
(drawn, wanted) palette pairs by share of the wrong pixels, and the wrong share by band of rows. Tells a
near-colour swap (an outline drawn in the glasses' black) from a wrong shape.

usage: python benchmarks/sprite_confusions.py runs/demo -n 200 [--agree 1] [--top 12]
       python benchmarks/sprite_confusions.py runs/sprites-cond -n 200 --traits new   # a conditional run
"""

from __future__ import annotations

import argparse

import torch

from spritegan.generate.pipeline import SpritePipeline
from spritegan.metrics.sprites import colour_confusions


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run folder trained on builtin:sprites")
    p.add_argument("-n", "--samples", type=int, default=200, help="samples (seeds 0..n-1)")
    p.add_argument("--agree", type=float, help="palette head: neighbour agreement (default: the run's)")
    p.add_argument("--top", type=int, default=12, help="confusion pairs to list")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument(
        "--traits",
        help="conditional runs: as `generate --traits` (default: each seed's traits drawn from the labels)",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    pipe = SpritePipeline.from_run(args.run, agree=args.agree)
    seeds = list(range(args.samples))
    labels = pipe.labels_for(args.traits, seeds) if pipe.label_spec else None
    result = colour_confusions(pipe(seeds=seeds, labels=labels).numpy())
    print(f"{args.run}: mean agreement with the nearest valid sprite {result['mean_agreement']:.3f}")
    rows = result["wrong_by_row"]
    bands = ", ".join(f"rows {i}-{i + 7}: {sum(rows[i : i + 8]) / 8:.2f}" for i in range(0, len(rows), 8))
    print(f"wrong share by band: {bands}")
    print("| drawn | wanted | share of wrong pixels |\n|---|---|---:|")
    for c in result["confusions"][: args.top]:
        print(f"| {c['drawn']} | {c['wanted']} | {c['share']:.3f} |")


if __name__ == "__main__":
    main()
