"""`spritegan data inspect|prepare`: look at a data source and turn it into a prepared dataset folder."""

from __future__ import annotations

import argparse

from spritegan.commands import add_command

EXAMPLES = """  spritegan data inspect builtin:sprites
  spritegan data inspect ../shared/datasets/cryptopunks/punks.png --tile 24 --labels ../shared/datasets/cryptopunks/labels.csv
  spritegan data prepare ../shared/datasets/pokemon/images --labels ../shared/datasets/pokemon/pokemon.csv \\
      --label-columns type1,type2 --resize 64 --resample area --out data/pokemon64
  spritegan data prepare ../shared/datasets/cryptopunks/punks.png --tile 24 --pad-to 32 --out data/punks32
"""


def _source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source", help="folder of images, one sprite-sheet image (with --tile), or builtin:sprites[:N]"
    )
    p.add_argument("--tile", help="cut a sprite sheet into tiles of this size: 24 or 24x24 (W x H)")
    p.add_argument("--resize", help="resize every image to SIZE or WxH")
    p.add_argument(
        "--resample",
        default="nearest",
        choices=["nearest", "area", "bicubic", "lanczos"],
        help="filter for --resize (default nearest, right for pixel art)",
    )
    p.add_argument(
        "--pad-to", help="pad centred with transparent/black pixels to SIZE or WxH (no resampling)"
    )
    p.add_argument("--labels", help="CSV of labels, joined by file name or an integer id column")
    p.add_argument("--label-columns", help="comma-separated label columns to keep (default: all usable ones)")


def _source_options(args: argparse.Namespace) -> dict:
    """The reading options both `inspect` and `prepare` pass on (tile, resize, padding, labels)."""
    columns = [c.strip() for c in args.label_columns.split(",") if c.strip()] if args.label_columns else None
    return {
        "tile": args.tile,
        "resize": args.resize,
        "resample": args.resample,
        "pad_to": args.pad_to,
        "labels_csv": args.labels,
        "label_columns": columns,
        "progress": True,
    }


def _load(args: argparse.Namespace):
    from spritegan.data.dataset import open_dataset

    return open_dataset(args.source, **_source_options(args))


def summary(ds) -> list[str]:
    """Short human-readable lines describing a PreparedDataset."""
    import torch

    m = ds.manifest
    h, w = ds.size
    palette = m.get("palette")
    alpha = m.get("alpha_levels")
    lines = [
        f"source:       {m['source']}",
        f"images:       {len(ds)}"
        + (f" ({m['dropped_empty']} empty tiles dropped)" if m.get("dropped_empty") else ""),
        f"size:         {w}x{h} {ds.mode}",
        f"palette:      {len(palette)} colours"
        if palette is not None
        else "palette:      more than 256 colours",
    ]
    if ds.mode == "RGBA":
        lines.append(f"alpha levels: {alpha}" if alpha is not None else "alpha levels: more than 16")
    if m.get("resize"):
        lines.append(f"resize:       {m['resize']}")
    for note in m.get("notes") or []:
        lines.append(f"note:         {note}")
    spec = ds.label_spec
    if not spec:
        lines.append("labels:       none")
    for name, col in spec.items():
        values = ds.labels[name]
        if col["kind"] == "binary":
            lines.append(f"label {name}: binary, {int(values.sum())} of {len(values)} set")
        else:
            counts = torch.bincount(values, minlength=len(col["classes"])).tolist()
            shown = ", ".join(f"{c}={k}" for c, k in zip(col["classes"], counts, strict=True))
            lines.append(f"label {name}: {len(col['classes'])} classes ({shown})")
    return lines


def _inspect(args: argparse.Namespace) -> int:
    print("\n".join(summary(_load(args))))
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from spritegan.data.dataset import prepare
    from spritegan.data.sources import load_source

    src = load_source(args.source, **_source_options(args))
    out = prepare(src, args.out)
    h, w = src.images.shape[1:3]
    print(f"prepared {len(src.images)} images of {w}x{h} {src.mode} in {out}")
    return 0


def register(subparsers) -> None:
    """Add `data` with its `inspect` and `prepare` subcommands."""
    parser = add_command(subparsers, "data", "Inspect a data source or prepare it for training.", EXAMPLES)
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    inspect = sub.add_parser("inspect", help="print a short summary of a data source or prepared folder")
    _source_args(inspect)
    inspect.set_defaults(func=_inspect)
    prep = sub.add_parser("prepare", help="read a source and write DIR/data.safetensors + manifest.json")
    _source_args(prep)
    prep.add_argument("--out", required=True, help="output folder")
    prep.set_defaults(func=_prepare)
