"""Morph frames: a path through latent space visiting endpoints in order, rendered through the pipeline.

In W (StyleGAN-style runs, the default there) the endpoints are W latents (seeds mapped and truncated, or
projected latents) joined by straight lines; in z (any model) seeds are joined by great circles (slerp),
truncation applied per frame as in `SpritePipeline.synthesize`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from spritegan.errors import SpriteganError
from spritegan.generate.interpolate import interpolate
from spritegan.generate.latent import require_style
from spritegan.generate.pipeline import SpritePipeline

FRAME_BATCH = 64  # frames rendered per generator call


def segments(points: int, frames: int) -> list[int]:
    """Frames per segment (each segment excludes its end point, the last frame is added after)."""
    base, extra = divmod(frames - 1, points - 1)
    return [base + (1 if i < extra else 0) for i in range(points - 1)]


def path_latents(ends: torch.Tensor, frames: int, mode: str) -> torch.Tensor:
    """Interpolate (K, D...) endpoints into (frames, D...) with lerp or slerp via `interpolate`."""
    flat = ends.reshape(len(ends), -1)
    parts = []
    for i, n in enumerate(segments(len(ends), frames)):
        if n:
            parts.append(interpolate(flat[i], flat[i + 1], n + 1, mode)[:-1])
    parts.append(flat[-1:])
    return torch.cat(parts).reshape(-1, *ends.shape[1:])


def _rows(label: torch.Tensor | None, n: int) -> torch.Tensor | None:
    """One label vector as n rows (N, cond_dim); None stays None (unconditional)."""
    return None if label is None else label.reshape(1, -1).repeat(n, 1)


@torch.no_grad()
def morph_frames(
    pipe: SpritePipeline,
    seeds: Sequence[int],
    frames: int,
    space: str | None = None,
    truncation: float = 1.0,
    loop: bool = False,
    start_ws: Sequence[torch.Tensor] = (),
    label: torch.Tensor | None = None,
    palette: bool = False,
) -> tuple[torch.Tensor, str]:
    """The uint8 frames (F, C, H, W) of a morph through `start_ws` (W latents (num_ws, w_dim), first) then
    `seeds`, and the space used: w (StyleGAN default) or z. A conditional model's `label` (cond_dim,)
    conditions every seed's endpoint (w) or frame (z); `palette` snaps the frames to the data's palette."""
    space = space or ("w" if pipe.is_style else "z")
    if space not in ("w", "z"):
        raise SpriteganError(f"space {space!r}: choose w or z")
    if space == "w":
        require_style(pipe.generator, "--space w")
    if start_ws and space != "w":
        raise SpriteganError("--latent is a W latent: use --space w (StyleGAN-style runs)")
    if len(seeds) + len(start_ws) < 2:
        raise SpriteganError("give at least two endpoints (--seeds 3,17 or --latent FILE --seeds 3)")
    if not 2 <= frames <= 2000:
        raise SpriteganError(f"--frames {frames}: choose 2 to 2000")
    if space == "w":
        ends = list(start_ws)
        if seeds:
            ends += list(pipe.ws(pipe.latents(seeds), _rows(label, len(seeds)), truncation))
        ends_t = torch.stack(ends)  # (K, num_ws, w_dim)
        if loop:
            ends_t = torch.cat([ends_t, ends_t[:1]])
        images = pipe.render(path_latents(ends_t, frames, "lerp"), FRAME_BATCH)
    else:
        z = pipe.latents(seeds)
        if loop:
            z = torch.cat([z, z[:1]])
        path = path_latents(z, frames, "slerp")
        chunks = [path[i : i + FRAME_BATCH] for i in range(0, len(path), FRAME_BATCH)]
        images = torch.cat([pipe.synthesize(c, _rows(label, len(c)), truncation) for c in chunks])
    return pipe.postprocess(images, palette=palette), space
