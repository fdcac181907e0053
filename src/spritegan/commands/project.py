"""`spritegan project`: find a W latent that redraws the user's sprite, so it can be morphed and edited."""

from __future__ import annotations

import argparse
from pathlib import Path

from spritegan.commands import add_command

EXAMPLES = """  spritegan project runs/sprites-sg my_sprite.png --steps 300 --out out/proj   # a --preset stylegan run
  spritegan project runs/sprites-sg my_sprite.png --wplus --out out/proj_plus
  spritegan edit runs/sprites-sg --latent out/proj/latent.safetensors --direction pca00 --out out/proj/edit.png
"""


def register(subparsers) -> None:
    p = add_command(
        subparsers, "project", "Project your own sprite into a run's W space (GAN inversion).", EXAMPLES
    )
    p.add_argument("run", help="run folder (StyleGAN-style)")
    p.add_argument("image", help="sprite PNG, same size and channels as the run's data")
    p.add_argument("--steps", type=int, default=300, help="optimisation steps (default 300)")
    p.add_argument("--lr", type=float, default=0.05, help="Adam learning rate (default 0.05)")
    p.add_argument("--pixel", choices=["l1", "l2"], default="l1", help="pixel loss on RGBA (default l1)")
    p.add_argument(
        "--feature-weight", type=float, default=0.1, help="weight of D feature loss (0: pixel only)"
    )
    p.add_argument("--wplus", action="store_true", help="one w per layer (closer fit, less editable)")
    p.add_argument("--scale", type=int, default=4, help="upscale of the PNGs (default 4)")
    p.add_argument("--out", default="projection", help="output folder")
    p.set_defaults(func=run)


def feature_loss_fn(run_dir: str | Path, target):
    """Loss on D's block activations against the target's, or None when the run has no usable D."""
    import torch

    from spritegan.commands.inspect import load_discriminator
    from spritegan.errors import RunError
    from spritegan.models.palette_head import colour_code_channels

    try:
        D, cfg = load_discriminator(run_dir)
    except RunError:
        return None
    if colour_code_channels(cfg):
        return None  # this D also reads colour codes, which a soft projected image does not have
    with torch.no_grad():
        goal = [m.detach() for m in D.feature_maps(target)]

    def loss(x):
        return sum(
            (a - b).square().mean() / (b.square().mean() + 1e-8)
            for a, b in zip(D.feature_maps(x), goal, strict=True)
        ) / len(goal)

    return loss


def run(args: argparse.Namespace) -> int:
    import torch

    from spritegan.commands import check_finite, check_output_folder
    from spritegan.commands.inspect import load_image
    from spritegan.errors import SpriteganError
    from spritegan.generate.latent import require_style
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.generate.project import project
    from spritegan.generate.sheet import make_sheet, save_png
    from spritegan.storage import save_latent
    from spritegan.tensors import to_model

    if not 1 <= args.steps <= 100_000:
        raise SpriteganError(f"--steps {args.steps}: choose 1 to 100000")
    if not 1 <= args.scale <= 32:
        raise SpriteganError(f"--scale {args.scale}: choose 1 to 32")
    check_finite(args.lr, "--lr")
    check_finite(args.feature_weight, "--feature-weight")
    if args.lr <= 0 or args.feature_weight < 0:
        raise SpriteganError("--lr must be above 0 and --feature-weight at least 0")
    if not Path(args.image).is_file():
        raise SpriteganError(f"{args.image}: no such image file")
    check_output_folder(args.out)
    pipe = SpritePipeline.from_run(args.run)
    G = pipe.generator
    require_style(G, "spritegan project")
    cfg = pipe.model_config
    image = load_image(args.image, cfg.channels, (cfg.image_size[0], cfg.image_size[1]))
    target = to_model(image)
    feat = feature_loss_fn(args.run, target) if args.feature_weight > 0 else None
    ws, history = project(
        pipe, target, args.steps, args.lr, args.pixel, feat, args.feature_weight, args.wplus
    )
    recon = pipe(ws=ws)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_png(make_sheet(recon, scale=args.scale), out / "reconstruction.png")
    save_png(
        make_sheet(torch.cat([image, recon]), ncol=2, scale=args.scale, background="checker"),
        out / "side_by_side.png",
    )
    meta = {
        "run": str(args.run),
        "image": str(args.image),
        "steps": args.steps,
        "space": "w+" if args.wplus else "w",
        "loss_first": history[0],
        "loss_last": history[-1],
        "feature_loss": feat is not None,
    }
    save_latent(out / "latent.safetensors", ws[:, :1, :].reshape(1, -1) if not args.wplus else ws, meta)
    (out / "loss.csv").write_text("step,loss\n" + "".join(f"{i},{v:.6f}\n" for i, v in enumerate(history)))
    pixel_err = float((to_model(recon) - target).abs().mean())
    kind = "pixel + D features" if feat is not None else "pixel only (no checkpoint D)"
    print(f"wrote {out}: loss {history[0]:.4f} -> {history[-1]:.4f} ({kind}); mean |error| {pixel_err:.4f}")
    return 0
