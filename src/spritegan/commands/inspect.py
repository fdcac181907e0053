"""`spritegan inspect`: a PNG of the discriminator's activation maps, block by block, for one image."""

from __future__ import annotations

import argparse
from pathlib import Path

from spritegan.commands import add_command

EXAMPLES = """  spritegan inspect runs/punks --seed 0 --out maps.png
  spritegan inspect runs/punks --image my_punk.png --maps 12 --out my_maps.png
"""


def register(subparsers) -> None:
    p = add_command(
        subparsers, "inspect", "Show the discriminator's feature maps for an image (PNG).", EXAMPLES
    )
    p.add_argument("run", help="run folder with checkpoints/")
    p.add_argument("--image", help="sprite PNG to inspect (same size and channels as the run's data)")
    p.add_argument("--seed", type=int, default=0, help="inspect the generated sprite of this seed instead")
    p.add_argument("--maps", type=int, default=8, help="most active channels shown per block (default 8)")
    p.add_argument("--cell", type=int, default=48, help="pixel size of each map on the PNG (default 48)")
    p.add_argument("--out", default="maps.png", help="PNG to write")
    p.set_defaults(func=run)


def load_discriminator(run: str | Path):
    """The latest checkpoint's D (eval, no grad) and the run's model config."""
    from spritegan.config import RunConfig
    from spritegan.errors import RunError
    from spritegan.models import build_discriminator
    from spritegan.train.checkpoint import load_latest

    run = Path(run)
    if not (run / "config.yaml").exists():
        raise RunError(f"{run}: not a run folder (no config.yaml)")
    cfg = RunConfig.load(run / "config.yaml").model
    state = load_latest(run / "checkpoints")
    if state is None or "D" not in state["modules"]:
        raise RunError(f"{run}: no checkpoint with a discriminator in {run / 'checkpoints'}")
    D = build_discriminator(cfg)
    try:
        D.load_state_dict(state["modules"]["D"])
    except RuntimeError as exc:
        raise RunError(f"{run}: checkpoint D does not match config.yaml ({exc})") from exc
    return D.eval().requires_grad_(False), cfg


def load_image(path: str | Path, channels: int, size: tuple[int, int]):
    """A PNG as uint8 (1, C, H, W) in the run's mode; a one-line error when the size differs."""
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    from spritegan.errors import SpriteganError

    try:
        img = Image.open(path)
        img.load()
    except (OSError, UnidentifiedImageError) as exc:
        raise SpriteganError(f"{path}: cannot read image ({exc})") from exc
    img = img.convert({1: "L", 3: "RGB", 4: "RGBA"}[channels])
    if (img.height, img.width) != tuple(size):
        raise SpriteganError(
            f"{path}: {img.width}x{img.height} but the run's sprites are {size[1]}x{size[0]}"
        )
    arr = np.asarray(img).reshape(img.height, img.width, channels)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)[None]


def render_maps(image, maps: list, k: int, cell: int):
    """One row per block: the input, then the k most active channels (each normalised, greyscale)."""
    import torch

    from spritegan.generate.sheet import make_sheet

    rows = []
    for m in maps:
        m = m[0].float()  # (C, h, w)
        top = m.mean(dim=(1, 2)).argsort(descending=True)[:k]
        chosen = m[top]
        lo = chosen.amin(dim=(1, 2), keepdim=True)
        hi = chosen.amax(dim=(1, 2), keepdim=True)
        norm = ((chosen - lo) / (hi - lo).clamp_min(1e-6) * 255).round().to(torch.uint8)
        up = torch.nn.functional.interpolate(norm[:, None].float(), size=(cell, cell), mode="nearest")
        rows.append(up.to(torch.uint8))
    src = torch.nn.functional.interpolate(image.float(), size=(cell, cell), mode="nearest").to(torch.uint8)
    if src.shape[1] == 1:
        src = src.repeat(1, 3, 1, 1)
    if src.shape[1] == 3:
        src = torch.cat([src, torch.full_like(src[:, :1], 255)], dim=1)
    tiles = []
    blank = torch.zeros(1, 4, cell, cell, dtype=torch.uint8)
    for row in rows:
        grey = torch.cat([row.repeat(1, 3, 1, 1), torch.full_like(row, 255)], dim=1)
        pad = [blank] * (k - len(grey))
        tiles += [src, grey, *pad]
    return make_sheet(torch.cat(tiles), ncol=k + 1, pad=2, background="checker")


def run(args: argparse.Namespace) -> int:
    import torch

    from spritegan.errors import SpriteganError
    from spritegan.generate.sheet import save_png
    from spritegan.tensors import to_model

    if not 1 <= args.maps <= 64 or not 8 <= args.cell <= 256:
        raise SpriteganError("--maps: 1 to 64; --cell: 8 to 256")
    D, cfg = load_discriminator(args.run)
    size = (cfg.image_size[0], cfg.image_size[1])
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.models.palette_head import colour_code_channels

    codes = colour_code_channels(cfg) > 0  # this D also reads each pixel's colour code: G's head makes them
    pipe = SpritePipeline.from_run(args.run) if codes or not args.image else None
    image = load_image(args.image, cfg.channels, size) if args.image else pipe([args.seed])
    x = to_model(image)
    if codes:
        x = pipe.generator.head.identity_channels(x)
    with torch.no_grad():
        maps = D.feature_maps(x)  # models/protocols.py: every Discriminator has them
        score = float(D(x)[0])
    out = Path(args.out)
    save_png(render_maps(image, maps, args.maps, args.cell), out)
    shapes = ", ".join(f"{m.shape[1]}x{m.shape[2]}x{m.shape[3]}" for m in maps)
    print(f"wrote {out}: {len(maps)} blocks ({shapes}); D score (logit) {score:+.3f}")
    return 0
