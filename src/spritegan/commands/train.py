"""`spritegan train`: train a GAN on a folder, a sprite sheet, a prepared dataset or the built-in sprites."""

from __future__ import annotations

import argparse
from pathlib import Path

from spritegan.commands import add_command

EXAMPLES = """  spritegan train --data builtin:sprites --preset sprite --out runs/sprites --steps 2000
  spritegan train --data my_sprites/ --out runs/mine    # a folder of PNGs at their native size
  spritegan train --data my_sprites/ --set data.clusters=32 --out runs/mine-clusters   # no labels: k-means ones
  spritegan train --data my_sheet.png --tile 24 --out runs/sheet --max-steps 50
  spritegan train --data my_art/ --resize 64 --fit pad --resample area --preset pokegan --out runs/art
  spritegan train --data pixels.csv --csv-shape 80x80 --out runs/csv   # one grayscale image per CSV row
  spritegan train --data pixels.csv --csv-shape 32x32 --csv-channels 3 --conditional --out runs/csv-rgb
  spritegan train --resume runs/sprites               # continue where it stopped (also after kill -9)
  spritegan train --data builtin:sprites --set train.lr_g=0.001 --dry-run
  spritegan train --data builtin:tiles --tileable --conditional --out runs/tiles   # seamless ground tiles
  spritegan train --data builtin:walkers --set model.arch=posed --set model.cond_mode=cbn --batch-size 32 --out runs/walkers
  spritegan train --data my_frames/ --labels frames.csv --out runs/heroes   # CSV: file,character,direction,frame
  spritegan train --data my_art/ --resize 32 --init-from runs/sprites --freeze-d 2 --out runs/art-tl
  torchrun --nproc_per_node 2 -m spritegan train --data builtin:sprites --out runs/ddp --device cpu
"""


UNUSED_LABELS = (
    "this data has labels and --conditional would train on them: then each sprite's traits are drawn from the "
    "data, and you can ask for traits (on the punks it reached FID-5k 15.3 and 18.4, two seeds, in 35 minutes of "
    "one thread, against 15.9 unconditional in two CPU-hours; README, Generate by trait)"
)


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """Data options shared by train and the other commands that read images."""
    p.add_argument(
        "--data",
        help="image folder, sprite sheet, prepared dataset dir, builtin:sprites[:N], builtin:tiles[:N[:SIZE]], "
        "builtin:walkers[:N] (character sheets) or builtin:walker-frames[:N]",
    )
    p.add_argument("--tile", help="cut a sprite sheet into tiles of this size, e.g. 24 or 24x24")
    p.add_argument("--resize", help="resize every image to this size (e.g. 64 or 64x48); default: native")
    p.add_argument(
        "--resample",
        choices=["nearest", "area", "bicubic", "lanczos"],
        help="resize filter: nearest for pixel art (default), area/bicubic for painted art",
    )
    p.add_argument(
        "--fit",
        choices=["stretch", "pad"],
        help="with --resize: stretch to the size (default), or pad: fit inside keeping the aspect, then pad",
    )
    p.add_argument("--pad-to", type=int, help="pad (never resample) images to this size, e.g. 32")
    p.add_argument(
        "--labels",
        help="label CSV joined by file name or id; with character, direction and frame columns each "
        "character's frames become one sheet (rows directions, columns frames): one seed, one character",
    )
    p.add_argument("--label-columns", help="comma-separated label columns to keep")
    add_csv_arguments(p)


def add_csv_arguments(p: argparse.ArgumentParser) -> None:
    """The pixel-CSV options (one image per row): train and `data inspect|prepare` share them."""
    p.add_argument(
        "--csv-shape",
        metavar="WxH",
        help="pixel CSV (one image per row, row-major): each row's image size, 80 or 80x64 (W x H, as --resize)",
    )
    p.add_argument(
        "--csv-channels",
        choices=["auto", "1", "3", "4"],
        help="pixel CSV: values per pixel, 1 (L), 3 (r,g,b per pixel) or 4 (r,g,b,a); default auto: the "
        "row length over the shape's pixels",
    )
    p.add_argument(
        "--csv-label-column",
        metavar="NAME",
        help="pixel CSV: a categorical label column (header name, or 0-based number); default: a header named "
        "'label'",
    )
    p.add_argument(
        "--csv-header",
        choices=["auto", "yes", "no"],
        help="pixel CSV: is the first row a header (default auto: yes when any cell is not a number)",
    )


def register(subparsers) -> None:
    p = add_command(subparsers, "train", "Train a GAN and write a run folder.", EXAMPLES)
    add_data_arguments(p)
    p.add_argument("--preset", default=None, help="named recipe (see `spritegan presets`); default: sprite")
    p.add_argument("--out", help="run folder to create (default: runs/<preset>)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="--out may hold a run: replace it (its run files are deleted)",
    )
    p.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its last checkpoint")
    p.add_argument("--steps", type=int, help="total generator steps")
    p.add_argument("--epochs", type=float, help="total passes over the data (overrides --steps)")
    p.add_argument("--max-steps", type=int, help="stop after this many steps in this invocation")
    p.add_argument(
        "--max-seconds", type=float, help="stop (and save) after this much training time in this invocation"
    )
    p.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="what --max-seconds counts: elapsed time, or this process's CPU time (fair on a busy machine)",
    )
    p.add_argument("--batch-size", type=int, help="images per step")
    p.add_argument("--lr", type=float, help="learning rate of both G and D")
    p.add_argument("--seed", type=int, help="fixes data order, initialisation and sampling (default 0)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to train (default auto)")
    p.add_argument("--conditional", action="store_true", help="condition G and D on the data's labels")
    p.add_argument(
        "--tileable",
        action="store_true",
        help="seamless tiles (model.tileable=true): G and D pad circularly and D sees randomly rolled images",
    )
    p.add_argument(
        "--init-from", metavar="RUN", help="transfer learning: start from this run or generator file"
    )
    p.add_argument("--freeze-d", type=int, help="with --init-from: freeze D's first N layers")
    p.add_argument("--eval-every", type=int, help="FID/KID every N steps; best generator kept by FID")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any config field, e.g. model.g_width=48 or train.loss=hinge (repeatable)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def collect_overrides(args: argparse.Namespace) -> dict:
    over: dict = {}
    for key, attr in (
        ("data.source", "data"),
        ("data.tile", "tile"),
        ("data.resize", "resize"),
        ("data.resample", "resample"),
        ("data.fit", "fit"),
        ("data.pad_to", "pad_to"),
        ("data.labels_csv", "labels"),
        ("data.label_columns", "label_columns"),
        ("data.csv_shape", "csv_shape"),
        ("data.csv_channels", "csv_channels"),
        ("data.csv_label_column", "csv_label_column"),
        ("data.csv_header", "csv_header"),
        ("train.steps", "steps"),
        ("train.epochs", "epochs"),
        ("train.batch_size", "batch_size"),
        ("train.seed", "seed"),
        ("train.device", "device"),
        ("train.init_from", "init_from"),
        ("train.freeze_d", "freeze_d"),
        ("train.eval_every", "eval_every"),
    ):
        value = getattr(args, attr, None)
        if value is not None:
            over[key] = value
    if getattr(args, "lr", None) is not None:
        over["train.lr_g"] = over["train.lr_d"] = args.lr
    if getattr(args, "tileable", False):
        over["model.tileable"] = True
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            from spritegan.errors import SpriteganError

            raise SpriteganError(f"--set {item!r}: expected KEY=VALUE, e.g. train.loss=hinge")
        over[key.strip()] = value.strip()
    return over


DATA_FLAGS = {"data.source": "--data", "data.labels_csv": "--labels", "data.label_columns": "--label-columns"}
RUN_FILES = ("generator.safetensors", "config.yaml", "checkpoints")  # any of these: the folder holds a run
# What `--overwrite` deletes: the files a run writes, nothing else in the folder.
RUN_OUTPUTS = (
    "checkpoints",
    "samples",
    "tensorboard",
    "generator.safetensors",
    "best-generator.safetensors",
    "config.yaml",
    "metrics.csv",
    "losses.png",
    "eval.jsonl",
)


def check_steps(args: argparse.Namespace) -> None:
    """--max-steps and --max-seconds are per invocation and not config fields: checked here."""
    from spritegan.commands import check_finite
    from spritegan.errors import SpriteganError

    if args.max_steps is not None and args.max_steps < 1:
        raise SpriteganError(f"--max-steps {args.max_steps}: must be at least 1")
    if args.max_seconds is not None:
        check_finite(args.max_seconds, "--max-seconds")
        if args.max_seconds <= 0:
            raise SpriteganError(f"--max-seconds {args.max_seconds}: must be above 0")


def check_diffaug(policy: str) -> None:
    """A misspelt DiffAugment policy fails before the run folder is made, not at the first step."""
    from spritegan.data.augment import DIFF_AUGMENTS
    from spritegan.errors import SpriteganError

    for name in (n.strip() for n in policy.split(",") if n.strip()):
        if name not in DIFF_AUGMENTS:
            raise SpriteganError(
                f"train.diffaug: unknown policy {name!r}; choose from {', '.join(DIFF_AUGMENTS)}"
            )


def recorded_data_hash(run_dir: Path) -> str | None:
    """sha256 of the images a run was trained on (newest checkpoint, else generator.safetensors)."""
    from spritegan.storage import read_metadata
    from spritegan.train.checkpoint import list_checkpoints

    for _, path in list_checkpoints(run_dir / "checkpoints"):
        found = (read_metadata(path).get("info") or {}).get("data_sha256")
        if found:
            return found
    manifest = read_metadata(run_dir / "generator.safetensors").get("manifest") or {}
    return manifest.get("sha256")


def check_resumed_data(run_dir: Path, dataset, data_flags: list[str]) -> None:
    """--resume with other data is refused; data that changed on disk under the same flags is a warning."""
    import sys

    from spritegan.errors import SpriteganError

    recorded = recorded_data_hash(run_dir)
    if recorded is None or recorded == dataset.manifest.get("sha256"):
        return
    source = dataset.manifest.get("source")
    if data_flags:
        raise SpriteganError(
            f"{', '.join(data_flags)}: {source} is not the data {run_dir} was trained on (its images' "
            "sha256 differs); resume without data flags, or train a new run with --out"
        )
    print(f"warning: {source}: the images changed since {run_dir} was trained on them", file=sys.stderr)


def remove_run_outputs(run_dir: Path) -> None:
    """--overwrite: delete what an earlier run wrote in run_dir (other files stay)."""
    import shutil

    for name in RUN_OUTPUTS:
        path = run_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def run(args: argparse.Namespace) -> int:
    import yaml

    from spritegan.commands import check_device, check_output_folder
    from spritegan.config import RunConfig, apply_overrides, build_config
    from spritegan.data.sources import size_text
    from spritegan.errors import SpriteganError
    from spritegan.labels import label_dim
    from spritegan.train.loop import fit_model_to_data, train  # loads models/: its names for model.arch

    check_steps(args)
    overrides = collect_overrides(args)
    data_flags: list[str] = []
    if args.resume:
        run_dir = Path(args.resume)
        if args.out and Path(args.out) != run_dir:
            raise SpriteganError(f"--out {args.out}: --resume continues {run_dir} in place; drop --out")
        if not (run_dir / "config.yaml").exists():
            raise SpriteganError(f"{run_dir}: no config.yaml here, so there is no run to resume")
        cfg = RunConfig.load(run_dir / "config.yaml")
        allowed = {"train.steps", "train.epochs", "train.device", "train.threads"}
        bad = [k for k in overrides if k not in allowed and not k.startswith("data.")]
        if bad:
            raise SpriteganError(f"--resume keeps the run's config; cannot change {', '.join(bad)}")
        given = {k: v for k, v in overrides.items() if k.startswith("data.")}
        before = cfg.to_dict()["data"]
        apply_overrides(cfg, {k: v for k, v in overrides.items() if k in allowed or k in given})
        if cfg.to_dict()["data"] != before:
            data_flags = [DATA_FLAGS.get(k, "--" + k[5:].replace("_", "-")) for k in given]
    else:
        if not args.data:
            raise SpriteganError(
                "give --data (a folder, a sheet with --tile, a pixel CSV with --csv-shape, or builtin:sprites) "
                "or --resume RUN"
            )
        cfg = build_config(args.preset or "sprite", overrides)
        run_dir = Path(args.out or f"runs/{cfg.preset}")
        held = [name for name in RUN_FILES if (run_dir / name).exists()]
        if held and not args.overwrite and not args.dry_run:
            raise SpriteganError(
                f"--out {run_dir}: already holds a run ({', '.join(held)}); continue it with --resume "
                f"{run_dir}, choose a new --out, or add --overwrite to replace it"
            )
    if cfg.train.device != "auto":
        check_device(cfg.train.device)
    check_diffaug(cfg.train.diffaug)
    if not args.dry_run:
        check_output_folder(run_dir, "--resume" if args.resume else "--out")
    import torch

    from spritegan.data.clusters import COLUMN as CLUSTER_COLUMN
    from spritegan.data.dataset import open_from_config

    d = cfg.data
    dataset = open_from_config(d, progress=not args.no_progress)
    if not args.resume:
        conditional = args.conditional or cfg.data.clusters > 0  # cluster labels are there to condition on
        for note in fit_model_to_data(cfg, dataset, conditional):
            print(f"note: {note}")
        if cfg.data.clusters:
            sizes = torch.bincount(dataset.labels[CLUSTER_COLUMN]).tolist()
            print(
                f"note: {len(sizes)} clusters of the images' layouts (data.clusters), {min(sizes)}-{max(sizes)} "
                "images each; G and D are conditioned on them, and sampling draws each sprite's cluster by its "
                "share in the data"
            )
        elif not conditional and label_dim(dataset.manifest.get("labels")):
            print(f"note: {UNUSED_LABELS}")
    else:
        check_resumed_data(run_dir, dataset, data_flags)
    if args.dry_run:  # the resolved config, with the size and channels the data really has
        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
        return 0
    if args.overwrite and not args.resume:
        remove_run_outputs(run_dir)
    h, w = cfg.model.image_size
    print(f"data: {len(dataset.images)} images {size_text(h, w)} {dataset.manifest['mode']} from {d.source}")
    result = train(
        cfg,
        dataset,
        run_dir,
        resume=bool(args.resume),
        progress=not args.no_progress,
        max_steps=args.max_steps,
        max_seconds=args.max_seconds,
        clock=args.clock,
    )
    state = "interrupted at" if result.interrupted else "stopped at"
    print(
        f"{state} step {result.step}: {result.images_seen} images in {result.seconds:.1f}s "
        f"({result.images_per_s:.0f} img/s); run folder: {run_dir}"
    )
    return 130 if result.interrupted else 0
