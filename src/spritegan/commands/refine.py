"""`spritegan refine`: train (or add) a run's palette refiner and sheet reader, and write the generator elsewhere."""

from __future__ import annotations

import argparse

from spritegan.commands import add_command

EXAMPLES = """  spritegan refine runs/demo --out runs/demo-refined            # a run trained without a refiner
  spritegan refine runs/demo --out runs/demo-refined --mpix 30  # a shorter clean-up training
  spritegan refine runs/demo --out runs/demo-w32 --new --width 32 --mpix 20   # a new, narrower refiner
  spritegan generate runs/demo-refined -n 64 --out out/refined   # then sample it like any run
  spritegan generate runs/demo-refined -n 64 --refine 0 --out out/raw   # the same sprites, refiner off
  spritegan refine runs/walkers --out runs/walkers-refined --stack --mpix 40   # sheets: every frame at once
  spritegan refine runs/walkers --out runs/walkers-read --mpix 0 --reader   # only a sheet reader, for --best-of
  spritegan generate runs/walkers-read --seeds 1,2 --best-of 16 --atlas --out out/best16   # ranked by it
"""


def register(subparsers) -> None:
    p = add_command(
        subparsers,
        "refine",
        "Train a palette run's refiner (a learned clean-up of stray pixels) and, for character sheets, its sheet "
        "reader (ranks --best-of candidates), and write the generator to --out.",
        EXAMPLES,
    )
    p.add_argument("run", help="run folder or generator.safetensors of a palette-head run (only read)")
    p.add_argument("--out", required=True, help="folder for the refined generator.safetensors (a new one)")
    p.add_argument(
        "--mpix",
        type=float,
        default=100.0,
        help="millions of training pixels the refiner sees (default 100: 1,526 steps at 32x32, "
        "about 5 CPU-minutes there on 2 cores)",
    )
    p.add_argument(
        "--width", type=int, default=48, help="refiner width when the run has none or with --new (default 48)"
    )
    p.add_argument(
        "--new",
        action="store_true",
        help="train a new refiner from scratch (at --width) in place of the run's own; without it a run's "
        "refiner is trained further",
    )
    p.add_argument(
        "--stack",
        action="store_true",
        help="a posed run's character sheets: add a refiner that sees each pixel's place in every frame, "
        "so a trait drawn another way in a few frames is mended from the others",
    )
    p.add_argument(
        "--reader",
        nargs="?",
        const="labels",
        choices=("labels", "identity"),
        help="a posed run: also train a sheet reader (added when the run has none) that reads every frame as "
        "its sheet's labels (an identity reader, telling characters apart, when the data has none or with "
        "--reader identity); `--best-of K` then keeps the candidate whose frames agree",
    )
    p.add_argument(
        "--reader-mpix",
        type=float,
        default=100.0,
        help="millions of training pixels the reader sees (default 100: 1,526 steps at 64x64)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="fixes the refiner's and reader's batches and corruptions"
    )
    p.add_argument("--overwrite", action="store_true", help="replace a generator file already in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from spritegan.commands import check_finite, check_output_file
    from spritegan.errors import SpriteganError
    from spritegan.storage import GENERATOR_FILE, resolve_generator_path
    from spritegan.train.refine import refine_generator

    check_finite(args.mpix, "--mpix")
    check_finite(args.reader_mpix, "--reader-mpix")
    if args.new and args.mpix <= 0:
        raise SpriteganError(f"--new with --mpix {args.mpix}: a new refiner needs a positive --mpix")
    if args.mpix < 0 or (args.mpix == 0 and not args.reader):
        raise SpriteganError(
            f"--mpix {args.mpix}: choose a positive number of million pixels (0 with --reader)"
        )
    if args.reader and args.reader_mpix <= 0:
        raise SpriteganError(f"--reader-mpix {args.reader_mpix}: choose a positive number of million pixels")
    if args.width < 1:
        raise SpriteganError(f"--width {args.width}: choose 1 or more")
    source = resolve_generator_path(args.run)
    target = Path(args.out) / GENERATOR_FILE
    if target.resolve() == source.resolve():
        raise SpriteganError(f"--out {args.out}: is the run itself; give a new folder")
    check_output_file(target, overwrite=args.overwrite)
    done = refine_generator(
        args.run,
        args.out,
        args.mpix,
        args.width,
        args.seed,
        progress=not args.no_progress,
        stack=args.stack,
        reader_mpix=args.reader_mpix if args.reader else 0.0,
        reader_identity=args.reader == "identity",
        new=args.new,
    )
    for name, r, added in (
        ("refiner", done.result, done.added),
        ("sheet reader", done.reader, done.reader_added),
    ):
        if r is not None:
            what = "added and trained" if added else "trained further"
            print(f"{name} {what}: {r.steps} steps in {r.seconds:.0f} CPU-s (loss {r.loss:.4f})")
    print(f"wrote {done.path}")
    return 0
