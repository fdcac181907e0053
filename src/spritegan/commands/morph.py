"""`spritegan morph`: an animation between generated sprites (GIF, MP4 with ffmpeg, and a strip PNG)."""

from __future__ import annotations

import argparse
from pathlib import Path

from spritegan.commands import add_command

EXAMPLES = """  spritegan morph runs/demo --seeds 3,17,42 --frames 48 --out morph.gif    # runs/demo: `spritegan demo`
  spritegan morph runs/demo --seeds 3,17 --space z --scale 8 --out morph_z.gif
  spritegan morph runs/sprites-sg --latent out/proj/latent.safetensors --seeds 5 --out mine.gif
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
    p.add_argument("--scale", type=int, default=4, help="nearest-neighbour upscale (default 4)")
    p.add_argument("--fps", type=int, default=12, help="frames per second (default 12)")
    p.add_argument("--loop", action="store_true", help="return to the first sprite at the end")
    p.add_argument(
        "--background", default="white", choices=["white", "black", "checker"], help="GIF backdrop"
    )
    p.add_argument("--strip-frames", type=int, default=12, help="frames shown on the strip PNG (default 12)")
    p.add_argument("--out", default="morph.gif", help="GIF path; the strip is <out>_strip.png")
    p.set_defaults(func=run)


def _segments(points: int, frames: int) -> list[int]:
    """Frames per segment (each segment excludes its end point, the last frame is added after)."""
    base, extra = divmod(frames - 1, points - 1)
    return [base + (1 if i < extra else 0) for i in range(points - 1)]


def path_latents(ends, frames: int, mode: str):
    """Interpolate (K, D...) endpoints into (frames, D...) with lerp or slerp via `interpolate`."""
    import torch

    from spritegan.generate.interpolate import interpolate

    flat = ends.reshape(len(ends), -1)
    parts = []
    for i, n in enumerate(_segments(len(ends), frames)):
        if n:
            parts.append(interpolate(flat[i], flat[i + 1], n + 1, mode)[:-1])
    parts.append(flat[-1:])
    return torch.cat(parts).reshape(-1, *ends.shape[1:])


def render_frames(pipe, args: argparse.Namespace):
    """The uint8 frames (F, C, H, W) of the morph."""
    import torch

    from spritegan.commands.generate import parse_seeds
    from spritegan.errors import SpriteganError
    from spritegan.generate.latent import broadcast, is_style_generator, load_latent, require_style
    from spritegan.generate.postprocess import snap_alpha
    from spritegan.tensors import to_uint8

    G = pipe.generator
    seeds = parse_seeds(args.seeds) if args.seeds else []
    space = args.space or ("w" if is_style_generator(G) else "z")
    if space == "w":
        require_style(G, "--space w")
    if args.latent and space != "w":
        raise SpriteganError("--latent is a W latent: use --space w (StyleGAN-style runs)")
    if len(seeds) + len(args.latent) < 2:
        raise SpriteganError("give at least two endpoints (--seeds 3,17 or --latent FILE --seeds 3)")
    if not 2 <= args.frames <= 2000:
        raise SpriteganError(f"--frames {args.frames}: choose 2 to 2000")
    with torch.no_grad():
        if space == "w":
            ends = [load_latent(f, G)[0] for f in args.latent]
            if seeds:
                ws = broadcast(G.mapping(pipe.latents(seeds)), G.num_ws)
                ends += list(G.truncate(ws, args.truncation))
            ends_t = torch.stack(ends)  # (K, num_ws, w_dim)
            if args.loop:
                ends_t = torch.cat([ends_t, ends_t[:1]])
            path = path_latents(ends_t, args.frames, "lerp")
            images = torch.cat([G.synthesis(path[i : i + 64]) for i in range(0, len(path), 64)])
        else:
            z = pipe.latents(seeds)
            if args.loop:
                z = torch.cat([z, z[:1]])
            path = path_latents(z, args.frames, "slerp")
            images = torch.cat(
                [pipe.synthesize(path[i : i + 64], None, args.truncation) for i in range(0, len(path), 64)]
            )
    return snap_alpha(to_uint8(images).cpu(), pipe.manifest.get("alpha_levels")), space


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


def run(args: argparse.Namespace) -> int:
    import torch

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
    out.parent.mkdir(parents=True, exist_ok=True)
    frames = [_flatten(img, args.background) for img in upscale(images, args.scale)]
    tmp = out.with_name(f".{out.name}.tmp")
    frames[0].save(
        tmp, format="GIF", save_all=True, append_images=frames[1:], duration=round(1000 / args.fps), loop=0
    )
    tmp.replace(out)
    pick = torch.linspace(0, len(images) - 1, min(args.strip_frames, len(images))).round().long()
    strip = out.with_name(out.stem + "_strip.png")
    save_png(make_sheet(images[pick], ncol=len(pick), scale=args.scale), strip)
    mp4 = out.with_suffix(".mp4")
    made = write_mp4(frames, mp4, args.fps)
    print(f"wrote {out} ({len(frames)} frames, {space} space), {strip}" + (f", {mp4}" if made else ""))
    return 0
