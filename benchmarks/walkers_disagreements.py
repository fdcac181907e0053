"""Which traits keep a walkers run's characters from reading as one: a table of frame-trait disagreements.

For each of the first `--samples` generated sheets (seeds 0..N-1, sampled as `generate` samples: a
conditional run's traits drawn from its training labels), every frame's nearest valid frame is found and
compared with the character's majority value of each trait (`metrics/walkers.trait_disagreements`).

usage: python benchmarks/walkers_disagreements.py RUN [--samples 100] [--max-colours 12]
"""

from __future__ import annotations

import argparse

from spritegan.data.walkers import DIRECTIONS
from spritegan.generate.pipeline import SpritePipeline
from spritegan.metrics.walkers import _frames, trait_disagreements


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a run trained on builtin:walkers")
    ap.add_argument("--samples", type=int, default=100, help="characters to read (about 50 ms each)")
    ap.add_argument("--max-colours", type=int, help="sample with this colour cap (default: the run's)")
    ap.add_argument("--refine", type=int, help="refiner rounds at sampling (default: the run's; 0: off)")
    args = ap.parse_args(argv)
    pipe = SpritePipeline.from_run(args.run, max_colours=args.max_colours, refine=args.refine)
    seeds = list(range(args.samples))
    sheets = pipe(seeds, labels=pipe.labels_for(None, seeds, 0))
    table = trait_disagreements(_frames(sheets))
    print(f"{args.run}: {args.samples} characters; frames whose trait differs from the character's majority")
    print(f"| trait | {' | '.join(DIRECTIONS)} | all frames | characters with one or more |")
    print("|---|" + "---:|" * (len(DIRECTIONS) + 2))
    for trait, row in sorted(table.items(), key=lambda kv: -kv[1]["characters"]):
        frames = sum(row[d] for d in DIRECTIONS)
        print(f"| {trait} | {' | '.join(str(row[d]) for d in DIRECTIONS)} | {frames} | {row['characters']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
