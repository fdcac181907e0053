"""`spritegan export`: a run's generator as an ONNX model for game engines (uint8 sprites out)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spritegan.commands import add_command

EXAMPLES = """  spritegan export runs/demo --format onnx                 # runs/demo: made by `spritegan demo`
  spritegan export runs/demo --format onnx --out build/sprites.onnx --opset 17
  spritegan export runs/demo --format onnx --palette --out sprites-palette.onnx --overwrite
"""


def register(subparsers) -> None:
    """Add the `export` subcommand."""
    p = add_command(subparsers, "export", "Export a run's generator (ONNX, uint8 sprites out).", EXAMPLES)
    p.add_argument("run", help="run folder or generator.safetensors file")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="export format (onnx)")
    p.add_argument("--out", help="output file (default: RUN/generator.onnx); an existing file is refused")
    p.add_argument("--overwrite", action="store_true", help="replace the --out file if it exists")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")
    p.add_argument(
        "--palette", action="store_true", help="snap visible pixels to the dataset palette in the graph"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export and print where the file went."""
    from spritegan.commands import check_output_file
    from spritegan.errors import SpriteganError
    from spritegan.storage import read_metadata, resolve_generator_path

    if not 11 <= args.opset <= 21:
        raise SpriteganError(f"--opset {args.opset}: choose 11 to 21")
    try:
        from spritegan.export.onnx import export_onnx
    except ImportError as exc:
        raise SpriteganError(
            f"ONNX export needs the export extra: pip install 'spritegan[export]' ({exc})"
        ) from exc
    out = Path(args.out) if args.out else resolve_generator_path(args.run).parent / "generator.onnx"
    check_output_file(out, overwrite=args.overwrite)
    if args.palette:
        manifest = read_metadata(resolve_generator_path(args.run)).get("manifest") or {}
        if not manifest.get("palette"):
            print(
                f"warning: --palette: {args.run} was trained on data with more than 256 colours, so there "
                "is no palette to snap to; the graph leaves colours as they are",
                file=sys.stderr,
            )
    meta = export_onnx(args.run, out, opset=args.opset, palette=args.palette)
    inputs = "z, labels, truncation" if int(meta["cond_dim"]) else "z, truncation"
    print(f"wrote {out} (inputs: {inputs}; output: uint8 sprites (N, H, W, {meta['channels']}))")
    return 0
