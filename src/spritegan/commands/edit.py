"""`spritegan edit`: move a sprite's W latent along a named direction; find, save and list directions."""

from __future__ import annotations

import argparse
from pathlib import Path

from spritegan.commands import add_command

EXAMPLES = """  spritegan edit runs/sprites --find-directions --labels-from-data --pca 8
  spritegan edit runs/punks-sg --find-directions --judge runs/judges/punks.safetensors
  spritegan edit runs/sprites --list
  spritegan edit runs/sprites --seed 5 --direction hair-long --strengths -3,-1.5,0,1.5,3 --out strip.png
  spritegan edit runs/sprites --latent out/proj/latent.safetensors --direction pca00 --out mine.png
"""


def register(subparsers) -> None:
    p = add_command(
        subparsers, "edit", "Edit sprites along latent directions; find and list directions.", EXAMPLES
    )
    p.add_argument("run", help="run folder (directions are stored in RUN/directions)")
    p.add_argument("--seed", type=int, default=0, help="sprite to edit (default 0)")
    p.add_argument("--seeds", help="several sprites, one strip row each, e.g. 1,2,3")
    p.add_argument("--latent", help="edit a latent from `spritegan project` instead of a seed")
    p.add_argument("--direction", help="direction name (see --list) or a .safetensors file")
    p.add_argument("--strengths", default="-3,-1.5,0,1.5,3", help="steps in std units along the direction")
    p.add_argument("--truncation", type=float, default=1.0, help="truncation psi before editing")
    p.add_argument("--scale", type=int, default=4, help="nearest-neighbour upscale (default 4)")
    p.add_argument("--out", default="edit.png", help="strip PNG to write")
    p.add_argument("--list", action="store_true", help="list the saved directions")
    p.add_argument("--find-directions", action="store_true", help="compute and save directions")
    p.add_argument("--labels-from-data", action="store_true", help="label directions (see docs/stylegan.md)")
    p.add_argument(
        "--judge",
        help="trait classifier (.safetensors from `spritegan traits judge`): label directions "
        "for an unconditional run, e.g. punks type-female, hoodie",
    )
    p.add_argument("--pca", type=int, default=0, help="also save the top-k PCA directions of W (GANSpace)")
    p.add_argument("--samples", type=int, default=2000, help="latents sampled to find directions")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from spritegan import storage
    from spritegan.commands import check_finite, check_output_file
    from spritegan.commands.generate import parse_seeds
    from spritegan.errors import SpriteganError
    from spritegan.generate import latent as L
    from spritegan.generate.edit import check_direction, edit_strip, find_directions
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.generate.sheet import make_sheet, save_png

    if args.list:
        found = storage.list_directions(args.run)
        if not found:
            print(
                f"no directions in {storage.directions_dir(args.run)} (run: spritegan edit RUN --find-directions)"
            )
        for d in found:
            print(f"{d['name']:24s} {d.get('kind', '?'):12s} {d.get('source', '')}")
        return 0
    pipe = SpritePipeline.from_run(args.run)
    G = pipe.generator
    L.require_style(G, "spritegan edit")
    if args.find_directions:
        made = find_directions(pipe, args.run, args.labels_from_data, args.pca, args.samples, args.judge)
        print(f"saved {len(made)} directions in {storage.directions_dir(args.run)}: " + ", ".join(made))
        return 0
    if not args.direction:
        raise SpriteganError("give --direction NAME (see --list), or --find-directions / --list")
    try:
        strengths = [float(s) for s in args.strengths.split(",") if s.strip()]
    except ValueError as exc:
        raise SpriteganError(f"--strengths {args.strengths!r}: expected comma-separated numbers") from exc
    if not strengths or len(strengths) > 64:
        raise SpriteganError("--strengths: give 1 to 64 numbers")
    if not 1 <= args.scale <= 32:
        raise SpriteganError(f"--scale {args.scale}: choose 1 to 32")
    for value in strengths:
        check_finite(value, "--strengths")
    check_finite(args.truncation, "--truncation")
    check_output_file(args.out)
    direction, meta = storage.load_direction(args.run, args.direction)
    check_direction(pipe, direction, args.direction)
    if args.latent:
        ws = L.load_latent(args.latent, G)
    else:
        seeds = parse_seeds(args.seeds) if args.seeds else [args.seed]
        with torch.no_grad():
            ws = pipe.ws(pipe.latents(seeds), truncation=args.truncation)
    images = edit_strip(pipe, ws, direction, strengths)
    out = Path(args.out)
    save_png(make_sheet(images, ncol=len(strengths), scale=args.scale), out)
    print(
        f"wrote {out}: {len(ws)} x {len(strengths)} sprites along {args.direction} ({meta.get('kind', '?')})"
    )
    return 0
