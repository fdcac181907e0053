"""`spritegan morph`: an animation between generated sprites (GIF, MP4 with ffmpeg, and a strip PNG)."""

from __future__ import annotations

import argparse
from pathlib import Path

from spritegan.commands import add_command

EXAMPLES = """  spritegan morph runs/demo --seeds 3,17,42 --frames 48 --out morph.gif    # runs/demo: `spritegan demo`
  spritegan morph runs/demo --seeds 3,17 --space z --scale 8 --out morph_z.gif
  spritegan morph runs/sprites-sg --latent out/proj/latent.safetensors --seeds 5 --out mine.gif
  spritegan morph runs/demo --seeds 3,17 --frames 12 --scale 1 --atlas --out walk.gif   # + walk_atlas.png
  spritegan morph runs/demo --seeds 3,17 --traits accessory=shield --out shield.gif   # every frame a shield
"""


def register(subparsers) -> None:
    p = add_command(
        subparsers, "morph", "Morph between sprites: GIF (+ MP4 when ffmpeg exists) and strip.", EXAMPLES
    )
    p.add_argument("run", help="run folder or generator.safetensors file")
    p.add_argument("--seeds", default="", help="comma-separated seeds visited in order, e.g. 3,17,42")
    p.add_argument("--latent", action="append", default=[], help="a latent from `spritegan project` (first)")
    p.add_argument("--frames", type=int, default=48, help="total frames of the animation (default 48)")
    p.add_argument("--space", choices=["w", "z"], help="w (lerp, StyleGAN default) or z (slerp, any model)")
    p.add_argument("--truncation", type=float, default=1.0, help="truncation psi for every endpoint")
    p.add_argument(
        "--traits",
        default=None,
        help="conditional models: the traits of every frame, as `generate --traits` (e.g. type=alien,hat; "
        "'none': the unconditional slot); default: the first seed's traits drawn from the training data",
    )
    p.add_argument("--scale", type=int, default=4, help="nearest-neighbour upscale (default 4)")
    p.add_argument("--fps", type=int, default=12, help="frames per second (default 12)")
    p.add_argument("--loop", action="store_true", help="return to the first sprite at the end")
    p.add_argument(
        "--background", default="white", choices=["white", "black", "checker"], help="GIF backdrop"
    )
    p.add_argument("--strip-frames", type=int, default=12, help="frames shown on the strip PNG (default 12)")
    p.add_argument("--out", default="morph.gif", help="GIF path; the strip is <out>_strip.png")
    p.add_argument(
        "--atlas",
        action="store_true",
        help="also write the frames (transparent, at --scale) as <out>_atlas.png with <out>_atlas.json"
        " (TexturePacker JSON-hash, an `animations` entry) and <out>_atlas.aseprite.json (a frame tag and"
        " 1000/--fps ms per frame)",
    )
    p.set_defaults(func=run)


def render_frames(pipe, args: argparse.Namespace):
    """The uint8 frames (F, C, H, W) of the morph and its space, from the parsed arguments."""
    from spritegan.commands.generate import parse_seeds
    from spritegan.errors import SpriteganError
    from spritegan.generate.latent import load_latent
    from spritegan.generate.morph import morph_frames

    space = args.space or ("w" if pipe.is_style else "z")
    if args.latent and space != "w":
        raise SpriteganError("--latent is a W latent: use --space w (StyleGAN-style runs)")
    starts = [load_latent(f, pipe.generator)[0] for f in args.latent]
    seeds = parse_seeds(args.seeds) if args.seeds else []
    labels = pipe.labels_for(args.traits, seeds[:1] or [0])  # None for an unconditional model
    label = labels[0] if labels is not None else None
    return morph_frames(pipe, seeds, args.frames, space, args.truncation, args.loop, starts, label)


def _flatten(image, background: str):
    """One uint8 (C, H, W) frame -> RGB PIL image over the chosen backdrop."""
    from PIL import Image

    from spritegan.generate.sheet import checkerboard, to_pil

    img = to_pil(image).convert("RGBA")
    if background == "checker":
        base = Image.fromarray(checkerboard(img.height, img.width, max(4, img.width // 8))).convert("RGBA")
    else:
        base = Image.new("RGBA", img.size, (255, 255, 255, 255) if background == "white" else (0, 0, 0, 255))
    base.alpha_composite(img)
    return base.convert("RGB")


def write_mp4(frames: list, path: Path, fps: int) -> bool:
    """Encode RGB PIL frames with ffmpeg when it is on PATH; False when it is not."""
    import shutil
    import subprocess
    import tempfile

    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        for i, f in enumerate(frames):
            f.save(Path(tmp) / f"{i:05d}.png")
        cmd = [ffmpeg, "-y", "-loglevel", "error", "-framerate", str(fps), "-i", str(Path(tmp) / "%05d.png")]
        cmd += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", "-c:v", "libx264", str(path)]
        return subprocess.run(cmd, check=False).returncode == 0


def check_atlas(out: Path, frames: int, size: list[int], scale: int) -> None:
    """--atlas: an atlas no engine refuses (`frames` sprites of `size` (H, W) at `scale`), files not folders."""
    from spritegan.commands import check_output_file
    from spritegan.errors import SpriteganError
    from spritegan.export.atlas import atlas_paths, shelf_layout

    try:
        shelf_layout([(size[1] * scale, size[0] * scale)] * frames)
    except ValueError as exc:
        raise SpriteganError(f"--atlas: {exc}; ask for fewer --frames or a smaller --scale") from None
    for path in atlas_paths(out.parent, out.stem + "_atlas"):
        check_output_file(path)


def save_morph_atlas(images, out: Path, duration: int) -> Path:
    """The frames as <out>_atlas.png + JSON: one tag named after the GIF, every frame `duration` ms."""
    from spritegan.export.atlas import Tag, pack_atlas, save_atlas

    digits = len(str(len(images) - 1))
    names = [f"{out.stem}-{i:0{digits}d}" for i in range(len(images))]
    tag = Tag(out.stem, 0, len(images) - 1)
    return save_atlas(pack_atlas(images, names), out.parent, out.stem + "_atlas", duration, [tag])[0]


def run(args: argparse.Namespace) -> int:
    import torch

    from spritegan import storage
    from spritegan.commands import check_finite, check_output_file
    from spritegan.errors import SpriteganError
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.generate.postprocess import upscale
    from spritegan.generate.sheet import make_sheet, save_png

    if not 1 <= args.scale <= 32:
        raise SpriteganError(f"--scale {args.scale}: choose 1 to 32")
    if not 1 <= args.fps <= 100:
        raise SpriteganError(f"--fps {args.fps}: choose 1 to 100")
    if args.strip_frames < 1:
        raise SpriteganError(f"--strip-frames {args.strip_frames}: must be at least 1")
    check_finite(args.truncation, "--truncation")
    out = Path(args.out)
    if out.suffix.lower() != ".gif":
        out = out.with_suffix(".gif")
    check_output_file(out)
    pipe = SpritePipeline.from_run(args.run)
    images, space = render_frames(pipe, args)
    if args.atlas:  # checked before anything is written
        check_atlas(out, len(images), list(images.shape[2:]), args.scale)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames = [_flatten(img, args.background) for img in upscale(images, args.scale)]
    duration = round(1000 / args.fps)
    storage.atomic_write(
        out,
        lambda tmp: frames[0].save(
            tmp, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0
        ),
    )
    pick = torch.linspace(0, len(images) - 1, min(args.strip_frames, len(images))).round().long()
    strip = out.with_name(out.stem + "_strip.png")
    save_png(make_sheet(images[pick], ncol=len(pick), scale=args.scale), strip)
    mp4 = out.with_suffix(".mp4")
    made = write_mp4(frames, mp4, args.fps)
    atlas = save_morph_atlas(upscale(images, args.scale), out, duration) if args.atlas else None
    print(
        f"wrote {out} ({len(frames)} frames, {space} space), {strip}"
        + (f", {mp4}" if made else "")
        + (f", {atlas}" if atlas else "")
    )
    return 0
