"""`spritegan curves`: FID/KID against step for several runs on one chart, and the same as a table."""

from __future__ import annotations

import argparse
from pathlib import Path

from spritegan.commands import add_command

EXAMPLES = """  spritegan curves runs/poke-scratch runs/poke-transfer --out curves.png
  spritegan curves runs/a runs/b --names scratch,transfer --metric kid --out kid.png
"""


def register(subparsers) -> None:
    p = add_command(
        subparsers,
        "curves",
        "Plot the FID (or KID) recorded during training (--eval-every) of runs side by side.",
        EXAMPLES,
    )
    p.add_argument("runs", nargs="+", help="run folders trained with --eval-every N (they hold eval.jsonl)")
    p.add_argument("--names", help="comma-separated legend names (default: the folder names)")
    p.add_argument("--metric", choices=("fid", "kid"), default="fid", help="what to plot (default fid)")
    p.add_argument("--out", default="curves.png", help="PNG to write (default curves.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spritegan.errors import SpriteganError
    from spritegan.metrics.curves import curve_table, plot_curves, read_eval_curve

    names = args.names.split(",") if args.names else [Path(r).name for r in args.runs]
    if len(names) != len(args.runs):
        raise SpriteganError(f"--names has {len(names)} names for {len(args.runs)} runs")
    if len(set(names)) != len(names):
        raise SpriteganError("two runs have the same name; give distinct --names")
    curves = {name: read_eval_curve(r) for name, r in zip(names, args.runs, strict=True)}
    print(curve_table(curves, args.metric))
    print(f"wrote {plot_curves(curves, args.out, args.metric)}")
    return 0
