"""`spritegan generate`: new sprites from a trained run, as PNG files plus a sheet."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from spritegan.commands import add_command, add_sampling_arguments, sampling_overrides

EXAMPLES = """  spritegan generate runs/demo -n 100 --seed 0 --out out/demo      # runs/demo: made by `spritegan demo`
  spritegan generate runs/demo --seeds 3,17,42 --scale 8 --out out/favourites
  spritegan generate runs/demo -n 64 --palette --truncation 0.8 --out out/clean
  spritegan generate runs/demo -n 64 --agree 0.5 --out out/fewer-specks   # colours follow their neighbours
  spritegan generate runs/demo -n 64 --despeckle 0 --out out/raw   # keep the lone specks G draws
  spritegan generate runs/demo -n 64 --max-colours 0 --out out/any   # not capped at the data's colours per sprite
  spritegan generate runs/demo -n 64 --best-of 4 --out out/best4   # each seed: the latent its refiner mends least
  spritegan generate runs/sprites-cond --traits hair=long -n 16 --out out/long-hair   # a --conditional run
  spritegan generate runs/sprites-cond --traits random -n 64 --out out/mixed
  spritegan generate runs/sprites-cond --traits new -n 64 --out out/new   # trait sets no training sprite has
  spritegan generate runs/demo -n 16 --atlas --out out/atlas    # + atlas.png, atlas.json (Phaser, PixiJS)
  spritegan generate runs/tiles -n 16 --tile-repeat 3 --scale 4 --out out/tiles   # a --tileable run, 3x3 views
  spritegan generate runs/walkers --seeds 1,2 --atlas --scale 2 --out out/walk   # a sheet run: 16 frames each
"""


def register(subparsers) -> None:
    p = add_command(
        subparsers, "generate", "Generate sprites from a run (PNG per sprite + a sheet).", EXAMPLES
    )
    p.add_argument("run", help="run folder or generator.safetensors file")
    p.add_argument("-n", type=int, default=100, help="number of sprites (seeds seed..seed+n-1)")
    p.add_argument("--seed", type=int, default=0, help="first seed; sprite i uses seed+i")
    p.add_argument("--seeds", help="explicit comma-separated seeds (overrides -n/--seed)")
    p.add_argument("--out", default="out", help="output folder")
    p.add_argument("--scale", type=int, default=1, help="nearest-neighbour upscale factor (1-32)")
    p.add_argument("--truncation", type=float, default=1.0, help="truncation psi (<1: safer, less varied)")
    p.add_argument("--palette", action="store_true", help="snap every pixel to the dataset's palette")
    p.add_argument("--no-snap", action="store_true", help="keep raw alpha (no snap to the dataset's levels)")
    add_sampling_arguments(p)
    p.add_argument("--sheet-only", action="store_true", help="write only sheet.png")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument(
        "--tile-repeat",
        type=int,
        default=1,
        metavar="K",
        help="also write each sprite repeated K x K (seedNNNNNN-tiled.png) and sheet-tiled.png (1-8): tiles "
        "from a --tileable run show no seam",
    )
    p.add_argument(
        "--atlas",
        action="store_true",
        help="also pack the sprites into atlas.png with atlas.json (TexturePacker JSON-hash: Phaser, PixiJS)"
        " and atlas.aseprite.json (Aseprite's JSON layout); frames are named seedNNNNNN like the PNGs; a run"
        " on character sheets (builtin:walkers, a frames CSV) packs each sheet's frames, char-0001/down-0, with"
        " one walk-cycle tag per character and direction",
    )
    p.add_argument(
        "--traits",
        help="conditional runs: traits to ask for, e.g. type=alien,earring (see `spritegan traits list RUN`),"
        " 'random' for trait sets drawn from the training data, or 'new' for trait sets no training image"
        " has (each trait drawn by its share); unasked traits are drawn from the"
        " training sprites that have the asked ones. Without --traits, a conditional run draws each seed's"
        " traits from the data (so trait shares match it); 'none' uses the model's unconditional slot",
    )
    p.set_defaults(func=run)


SEED_RANGE = (-(2**63), 2**63 - 1)  # a seed seeds torch.Generator, a signed 64-bit number


def check_seed(seed: int, option: str = "--seed") -> int:
    from spritegan.errors import SpriteganError

    if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise SpriteganError(f"{option} {seed}: seeds are integers from -2^63 to 2^63-1")
    return seed


def parse_seeds(text: str) -> list[int]:
    from spritegan.errors import SpriteganError

    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise SpriteganError(f"--seeds {text!r}: expected comma-separated integers") from exc
    return [check_seed(s, "--seeds") for s in seeds]


def trait_labels(args: argparse.Namespace, pipe, seeds: list[int]):
    """Label vectors for --traits (see `SpritePipeline.labels_for`), warning on unseen trait sets; None for
    unconditional runs and --traits none."""
    import sys

    def warn(message: str) -> None:
        print(f"warning: {message}", file=sys.stderr)

    return pipe.labels_for(args.traits or None, seeds, args.seed, warn)


def check_atlas(out: Path, seeds: list[int], size: list[int], scale: int, per_seed: int = 1) -> None:
    """--atlas, before any work: unique frame names, an atlas no engine refuses (`per_seed` sprites of `size`
    per seed), its files not folders."""
    from collections import Counter

    from spritegan.commands import check_output_file
    from spritegan.errors import SpriteganError
    from spritegan.export.atlas import atlas_paths, shelf_layout

    twice = [s for s, n in Counter(seeds).items() if n > 1]
    if twice:
        raise SpriteganError(f"--atlas: --seeds names seed {twice[0]} twice; atlas frames need unique seeds")
    try:
        shelf_layout([(size[1] * scale, size[0] * scale)] * len(seeds) * per_seed)
    except ValueError as exc:
        raise SpriteganError(f"--atlas: {exc}; ask for fewer sprites or a smaller --scale") from None
    for path in atlas_paths(out):
        check_output_file(path)


def write_tile_repeats(images, seeds: list[int], args: argparse.Namespace, out: Path) -> None:
    """--tile-repeat K: each sprite K x K as seedNNNNNN-tiled.png (unless --sheet-only) and sheet-tiled.png."""
    from spritegan.data.tiles import tile_repeat
    from spritegan.generate.postprocess import upscale
    from spritegan.generate.sheet import make_sheet, save_png, to_pil

    repeated = tile_repeat(images, args.tile_repeat)
    if not args.sheet_only:
        for s, img in zip(seeds, repeated, strict=True):
            save_png(to_pil(upscale(img[None], args.scale)[0]), out / f"seed{s:06d}-tiled.png")
    save_png(make_sheet(repeated, scale=args.scale), out / "sheet-tiled.png")


def write_poses(images, seeds: list[int], layout: dict, args: argparse.Namespace, out: Path) -> None:
    """A sheet run: each character's walk cycle as seedNNNNNN-walk.gif (unless --sheet-only) and, with --atlas,
    every frame in the atlas (char-0001/down-0) with a tag per character and direction."""
    from spritegan.generate.poses import WALK_FRAME_MS, cut_sheets, frame_names, save_walk_gif, walk_tags

    frames = cut_sheets(images, layout)
    if not args.sheet_only:
        for s, own in zip(seeds, frames, strict=True):
            save_walk_gif(own, layout, out / f"seed{s:06d}-walk.gif", args.scale)
    if args.atlas:
        from spritegan.export.atlas import Tag, pack_atlas, save_atlas
        from spritegan.generate.postprocess import upscale

        flat = upscale(frames.reshape(-1, *frames.shape[2:]), args.scale)
        tags = [Tag(name, start, end) for name, start, end in walk_tags(seeds, layout)]
        save_atlas(pack_atlas(flat, frame_names(seeds, layout)), out, durations=WALK_FRAME_MS, tags=tags)


def run(args: argparse.Namespace) -> int:
    import sys

    from tqdm import tqdm

    from spritegan.commands import check_device, check_finite, check_output_folder
    from spritegan.errors import SpriteganError
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.generate.poses import sheet_layout
    from spritegan.generate.postprocess import upscale
    from spritegan.generate.sheet import make_sheet, save_png, to_pil

    if not 1 <= args.scale <= 32:
        raise SpriteganError(f"--scale {args.scale}: choose 1 to 32")
    if not 1 <= args.tile_repeat <= 8:
        raise SpriteganError(f"--tile-repeat {args.tile_repeat}: choose 1 to 8")
    check_finite(args.truncation, "--truncation")
    if args.seeds:
        seeds = parse_seeds(args.seeds)
    else:
        if not 1 <= args.n <= 100_000:
            raise SpriteganError(f"-n {args.n}: choose 1 to 100000")
        seeds = list(range(check_seed(args.seed), check_seed(args.seed + args.n - 1, "--seed + n - 1") + 1))
    if not seeds or len(seeds) > 100_000:
        raise SpriteganError(f"asked for {len(seeds)} sprites; choose 1 to 100000")
    check_device(args.device)
    out = Path(args.out)
    check_output_folder(out)
    pipe = SpritePipeline.from_run(args.run, device=args.device, **sampling_overrides(args))
    layout = sheet_layout(pipe.manifest)  # each image a character's sheet: cut into its frames
    if args.atlas and layout:
        check_atlas(
            out, seeds, layout["frame_size"], args.scale, len(layout["rows"]) * len(layout["columns"])
        )
    elif args.atlas:
        check_atlas(out, seeds, pipe.model_config.image_size, args.scale)
    if args.palette and not pipe.manifest.get("palette"):
        print(
            f"warning: --palette: {args.run} was trained on data with more than 256 colours, so there is "
            "no palette to snap to; sprites are written unsnapped",
            file=sys.stderr,
        )
    if args.tile_repeat > 1 and not pipe.model_config.tileable:
        print(
            f"warning: --tile-repeat: {args.run} was not trained with --tileable; seams may show",
            file=sys.stderr,
        )
    labels = trait_labels(args, pipe, seeds)
    images = pipe(
        seeds, labels=labels, truncation=args.truncation, snap=not args.no_snap, palette=args.palette
    )
    out.mkdir(parents=True, exist_ok=True)
    if not args.sheet_only:
        for s, img in tqdm(
            list(zip(seeds, images, strict=True)), desc="writing", unit="png", disable=len(seeds) < 200
        ):
            save_png(to_pil(upscale(img[None], args.scale)[0]), out / f"seed{s:06d}.png")
    save_png(make_sheet(images, scale=args.scale), out / "sheet.png")
    if args.tile_repeat > 1:
        write_tile_repeats(images, seeds, args, out)
    if layout:
        write_poses(images, seeds, layout, args, out)
    elif args.atlas:
        from spritegan.export.atlas import pack_atlas, save_atlas

        save_atlas(pack_atlas(upscale(images, args.scale), [f"seed{s:06d}" for s in seeds]), out)
    record = {
        "run": str(args.run),
        "seeds": seeds,
        "truncation": args.truncation,
        "palette": args.palette,
        "snap_alpha": not args.no_snap,
        "scale": args.scale,
        "step": pipe.meta.get("step"),
        **pipe.sampling_record,
        **({"tile_repeat": args.tile_repeat} if args.tile_repeat > 1 else {}),
        **({"sheet": layout} if layout else {}),
    }
    if labels is not None:
        from spritegan.generate.traits import describe

        record["traits"] = [describe(v, pipe.label_spec) for v in labels]
    (out / "generation.json").write_text(json.dumps(record, indent=1))
    walks = ", a walk-cycle GIF per character" if layout and not args.sheet_only else ""
    print(
        f"wrote {len(seeds)} sprites and sheet.png"
        + (", atlas.png" if args.atlas else "")
        + walks
        + f" to {out}"
    )
    return 0
