"""`spritegan data inspect|prepare`: look at a data source and turn it into a prepared dataset folder."""

from __future__ import annotations

import argparse

from spritegan.commands import add_command

EXAMPLES = """  spritegan data inspect builtin:sprites
  spritegan data inspect my_sheet.png --tile 24 --labels my_labels.csv     # your sheet, cut on a 24x24 grid
  spritegan data inspect my_sprites/                # a mixed-size folder lists its sizes and counts
  spritegan data prepare my_art/ --labels my_art.csv --label-columns type1,type2 \\
      --resize 64 --fit pad --resample area --out data/art64
  spritegan data prepare builtin:sprites:1000 --pad-to 40 --out data/sprites40
  spritegan data inspect pixels.csv --csv-shape 80x80       # a pixel CSV: one grayscale 80x80 image per row
  spritegan data prepare pixels.csv --csv-shape 32x32 --csv-channels 3 --csv-label-column class --out data/csv
"""


def _source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source",
        help="folder of images, one sprite-sheet image (with --tile), a pixel CSV (with --csv-shape), or "
        "builtin:sprites[:N]",
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
        "--fit",
        default="stretch",
        choices=["stretch", "pad"],
        help="with --resize: stretch to the size (default), or pad: fit inside keeping the aspect ratio, "
        "then pad centred (use --resample nearest for pixel art)",
    )
    p.add_argument(
        "--pad-to", help="pad centred with transparent/black pixels to SIZE or WxH (no resampling)"
    )
    p.add_argument("--labels", help="CSV of labels, joined by file name or an integer id column")
    p.add_argument("--label-columns", help="comma-separated label columns to keep (default: all usable ones)")
    from spritegan.commands.train import add_csv_arguments

    add_csv_arguments(p)


def _source_options(args: argparse.Namespace) -> dict:
    """The reading options both `inspect` and `prepare` pass on (tile, resize, padding, labels)."""
    columns = [c.strip() for c in args.label_columns.split(",") if c.strip()] if args.label_columns else None
    return {
        "tile": args.tile,
        "resize": args.resize,
        "resample": args.resample,
        "fit": args.fit,
        "pad_to": args.pad_to,
        "labels_csv": args.labels,
        "label_columns": columns,
        "progress": True,
        "csv_shape": args.csv_shape,
        "csv_channels": args.csv_channels or "auto",
        "csv_label_column": args.csv_label_column,
        "csv_header": args.csv_header or "auto",
    }


def _load(args: argparse.Namespace):
    from spritegan.data.dataset import open_dataset

    return open_dataset(args.source, **_source_options(args))


def summary(ds) -> list[str]:
    """Short human-readable lines describing a PreparedDataset."""
    import torch

    from spritegan.data.dataset import soft_alpha
    from spritegan.data.sources import size_text

    m = ds.manifest
    h, w = ds.size
    palette = m.get("palette")
    alpha = m.get("alpha_levels")
    lines = [
        f"source:       {m['source']}",
        f"images:       {len(ds)}"
        + (f" ({m['dropped_empty']} empty tiles dropped)" if m.get("dropped_empty") else ""),
        f"size:         {size_text(h, w)} {ds.mode} (W x H)",
        f"palette:      {len(palette)} colours"
        if palette is not None
        else "palette:      more than 256 colours",
    ]
    if ds.mode == "RGBA" and alpha is not None and soft_alpha(m):
        lines.append(f"alpha levels: {len(alpha)} (soft edges: kept, not snapped)")
    elif ds.mode == "RGBA":
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


def size_lines(source: str, sizes: dict) -> list[str]:
    """What `data inspect` says about a folder of several sizes: each size with its count, largest first."""
    from spritegan.data.sources import size_text

    order = sorted(sizes, key=lambda s: (-s[0] * s[1], s))
    tall, wide = max(s[0] for s in sizes), max(s[1] for s in sizes)
    lines = [
        f"source:       {source}",
        f"images:       {sum(sizes.values())} in {len(sizes)} sizes (W x H)",
        *(f"size:         {size_text(*s)}: {sizes[s]} images" for s in order),
        f"to train:     --pad-to {size_text(tall, wide)} (keeps pixels), or --resize SIZE --fit pad",
    ]
    return lines


def _inspect(args: argparse.Namespace) -> int:
    from spritegan.data.sources import MixedSizesError

    try:
        ds = _load(args)
    except MixedSizesError as exc:
        print("\n".join(size_lines(args.source, exc.sizes)))
        return 0
    print("\n".join(summary(ds)))
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from spritegan.commands import check_output_folder
    from spritegan.data.dataset import check_prepare_out, prepare
    from spritegan.data.sources import load_source, size_text

    check_output_folder(check_prepare_out(args.out, args.overwrite))
    src = load_source(args.source, **_source_options(args))
    out = prepare(src, args.out, overwrite=args.overwrite)
    h, w = src.images.shape[1:3]
    print(f"prepared {len(src.images)} images of {size_text(h, w)} {src.mode} in {out}")
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
    prep.add_argument("--out", required=True, help="output folder (new or empty)")
    prep.add_argument(
        "--overwrite", action="store_true", help="--out may hold files: replace its data and manifest"
    )
    prep.set_defaults(func=_prepare)
