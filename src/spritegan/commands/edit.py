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


def find_directions(
    pipe, run_dir: str, labels_from_data: bool, pca: int, samples: int, judge: str | None = None
) -> list[str]:
    """Compute and save directions; returns '<name> (<kind>)' lines."""
    import torch

    from spritegan import storage
    from spritegan.errors import SpriteganError
    from spritegan.generate import latent as L
    from spritegan.metrics.sprites import is_builtin_sprites

    G = pipe.generator
    made: list[str] = []
    if not labels_from_data and not pca and not judge:
        raise SpriteganError("--find-directions: add --labels-from-data, --judge FILE and/or --pca K")
    if judge:
        made += judged_label_directions(pipe, run_dir, judge, samples)
    if labels_from_data:
        if pipe.model_config.cond_dim and pipe.label_spec:
            found = L.conditional_directions(G, pipe.label_spec, n=samples)
            kind, note = "conditional", "label embedding: w(z, label) - w(z, none)"
        elif is_builtin_sprites(
            torch.zeros(1, pipe.model_config.channels, *pipe.model_config.image_size), pipe.manifest
        ):
            palette = pipe.manifest.get("palette")
            found, valid = L.judged_directions(G, lambda im: L.traits_judge(im, palette), n=samples)
            kind, note = "label", f"read_traits on {samples} generated sprites ({valid} readable)"
            if not found:
                raise SpriteganError(
                    f"only {valid} of {samples} generated sprites were readable: train longer, or use --pca"
                )
        else:
            raise SpriteganError(
                "--labels-from-data needs a conditional run (train --conditional) or the built-in sprites; "
                "use --pca K for unsupervised directions"
            )
        for name, vec in found.items():
            storage.save_direction(run_dir, name, vec, kind, note, "spritegan edit --find-directions")
            made.append(f"{name} ({kind})")
    if pca:
        _, w = L.sample_w(G, max(samples, 2 * pca))
        dirs, ratio = L.pca_directions(w, pca)
        for i, (vec, r) in enumerate(zip(dirs, ratio, strict=True)):
            note = f"PCA of {len(w)} mapped latents, component {i}, {100 * float(r):.1f}% of variance"
            storage.save_direction(
                run_dir, f"pca{i:02d}", vec, "pca", note, "spritegan edit --find-directions --pca"
            )
            made.append(f"pca{i:02d} (pca, {100 * float(r):.1f}%)")
    return made


def edit_strip(pipe, ws, direction, strengths: list[float]):
    """uint8 images (R * S, C, H, W): each row's ws moved by every strength along `direction`."""
    import torch

    from spritegan.generate.postprocess import snap_alpha
    from spritegan.tensors import to_uint8

    G = pipe.generator
    s = torch.tensor(strengths, dtype=ws.dtype)
    moved = ws[:, None] + s[None, :, None, None] * direction.to(ws.dtype)  # (R, S, num_ws, w_dim)
    with torch.no_grad():
        images = G.synthesis(moved.flatten(0, 1))
    return snap_alpha(to_uint8(images).cpu(), pipe.manifest.get("alpha_levels"))


def run(args: argparse.Namespace) -> int:
    import torch

    from spritegan import storage
    from spritegan.commands import check_finite, check_output_file
    from spritegan.commands.generate import parse_seeds
    from spritegan.errors import SpriteganError
    from spritegan.generate import latent as L
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
    if direction.numel() != G.w_dim:
        raise SpriteganError(
            f"direction {args.direction!r} has {direction.numel()} values; this run's W has {G.w_dim}"
        )
    if args.latent:
        ws = L.load_latent(args.latent, G)
    else:
        seeds = parse_seeds(args.seeds) if args.seeds else [args.seed]
        with torch.no_grad():
            ws = G.truncate(L.broadcast(G.mapping(pipe.latents(seeds)), G.num_ws), args.truncation)
    images = edit_strip(pipe, ws, direction, strengths)
    out = Path(args.out)
    save_png(make_sheet(images, ncol=len(strengths), scale=args.scale), out)
    print(
        f"wrote {out}: {len(ws)} x {len(strengths)} sprites along {args.direction} ({meta.get('kind', '?')})"
    )
    return 0


def judged_label_directions(pipe, run_dir: str, judge_path: str, samples: int) -> list[str]:
    """Label directions from a trait classifier run on `samples` generated sprites (unconditional runs)."""
    from spritegan import storage
    from spritegan.errors import SpriteganError
    from spritegan.generate import latent as L
    from spritegan.metrics.judge import load_judge

    judge, _ = load_judge(judge_path)
    mc = pipe.model_config
    if judge.channels != mc.channels or list(judge.size) != list(mc.image_size):
        raise SpriteganError(
            f"{judge_path}: judge reads {judge.size[0]}x{judge.size[1]}x{judge.channels} sprites, the run makes "
            f"{mc.image_size[0]}x{mc.image_size[1]}x{mc.channels}"
        )
    found, counts = L.classifier_directions(pipe.generator, judge, n=samples)
    if not found:
        raise SpriteganError(
            f"{judge_path}: no trait was seen in enough of {samples} generated sprites; try more --samples"
        )
    made = []
    for name, vec in found.items():
        note = f"judge {judge_path} on {samples} generated sprites, {counts[name]} with the trait"
        storage.save_direction(run_dir, name, vec, "label", note, "spritegan edit --find-directions --judge")
        made.append(f"{name} (label, {counts[name]} of {samples})")
    return made
