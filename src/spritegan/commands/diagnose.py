"""`spritegan diagnose`: a one-page report on whether a run collapsed, never learned, or is healthy."""

from __future__ import annotations

import argparse
from pathlib import Path

from spritegan.commands import add_command, check_output_file

EXAMPLES = """  spritegan diagnose runs/punks                        # writes runs/punks/diagnose.html
  spritegan diagnose runs/punks --overwrite            # replace an earlier report
  spritegan diagnose runs/punks --out punks-report.html --data my_sheet.png --tile 24
"""


def register(subparsers) -> None:
    p = add_command(
        subparsers,
        "diagnose",
        "Say whether a run is healthy, collapsing or not learning (verdict, curves, sheets, closest pairs).",
        EXAMPLES,
    )
    p.add_argument("run", help="run folder (holds generator.safetensors, metrics.csv, samples/)")
    p.add_argument("--out", help="HTML report to write (default RUN/diagnose.html)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    p.add_argument("--data", help="the training data, when the run's config.yaml no longer finds it")
    p.add_argument("--tile", help="tile size when --data is a sprite sheet, e.g. 24")
    p.add_argument(
        "--trait-samples",
        type=int,
        default=256,
        help="builtin:sprites runs: samples read for traits the generator never draws (default 256)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spritegan.errors import SpriteganError
    from spritegan.metrics.diagnose import diagnose_run
    from spritegan.metrics.diagnose_report import write_report

    if not Path(args.run).is_dir():
        raise SpriteganError(f"{args.run}: no such run folder")
    if args.trait_samples < 1:
        raise SpriteganError(f"--trait-samples {args.trait_samples}: must be at least 1")
    out = Path(args.out) if args.out else Path(args.run) / "diagnose.html"
    check_output_file(out, "--out", overwrite=args.overwrite)
    diag = diagnose_run(args.run, data=args.data, tile=args.tile, trait_samples=args.trait_samples)
    print(f"verdict: {diag.verdict}")
    for reason in diag.reasons:
        print(f"  - {reason}")
    for name, step in sorted(diag.first_flags.items(), key=lambda kv: kv[1]):
        print(f"  {name} first crossed its threshold at step {step:,} of {diag.total_steps:,}")
    if diag.dropped_note:
        print(f"dropped rare modes: {', '.join(diag.dropped) or 'none'} ({diag.dropped_note})")
    print(f"wrote {write_report(diag, out)}")
    return 0
