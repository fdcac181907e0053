"""Alpha-aware augmentations of float batches (N, C, H, W) in [-1, 1], reproducible from a torch.Generator.

For C == 4 the last channel is alpha and colour operations change only RGB; for C == 1 hue is skipped.
Transparent pixels are stored with RGB 0 (-1 here); brightness and hue keep them at -1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from spritegan.errors import SpriteganError

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(colour channels, alpha or None)."""
    if x.shape[1] == 4:
        return x[:, :3], x[:, 3:]
    return x, None


def _join(colour: torch.Tensor, alpha: torch.Tensor | None) -> torch.Tensor:
    return colour if alpha is None else torch.cat([colour, alpha], dim=1)


def _rand(n: int, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """n uniform numbers in [0, 1), drawn on the CPU generator and moved to x's device and dtype."""
    return torch.rand(n, generator=generator).to(device=x.device, dtype=x.dtype)


def hflip(x: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability p."""
    flip = (_rand(x.shape[0], x, generator) < p).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(3), x)


def brightness(
    x: torch.Tensor, low: float = 0.7, high: float = 1.2, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Multiply colour (in [0, 1] space) by a per-image factor in [low, high], clamped; alpha untouched."""
    colour, alpha = _split(x)
    factor = (low + (high - low) * _rand(x.shape[0], x, generator)).view(-1, 1, 1, 1)
    colour = ((colour + 1) * 0.5 * factor).clamp(0, 1) * 2 - 1
    return _join(colour, alpha)


def hue_matrices(angles: torch.Tensor) -> torch.Tensor:
    """(N, 3, 3) rotations of RGB about the grey axis by the given angles (radians)."""
    k = torch.full((3,), 1 / math.sqrt(3), dtype=angles.dtype, device=angles.device)
    cross = (
        torch.tensor([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], dtype=angles.dtype, device=angles.device) * k[0]
    )
    outer = torch.outer(k, k)
    cos, sin = angles.cos().view(-1, 1, 1), angles.sin().view(-1, 1, 1)
    eye = torch.eye(3, dtype=angles.dtype, device=angles.device)
    return cos * eye + sin * cross + (1 - cos) * outer


def hue_recolour(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Rotate each image's hue by a random angle (rotation about the RGB grey axis), clamped; alpha untouched."""
    if x.shape[1] == 1:
        return x
    colour, alpha = _split(x)
    angles = _rand(x.shape[0], x, generator) * (2 * math.pi)
    rgb = (colour + 1) * 0.5
    rotated = torch.einsum("nij,njhw->nihw", hue_matrices(angles), rgb).clamp(0, 1)
    return _join(rotated * 2 - 1, alpha)


def _shift(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, fill: float = -1.0) -> torch.Tensor:
    """Shift each image by integer (dy, dx) pixels, filling uncovered pixels; differentiable in x (to any
    order: R1 differentiates D's input gradient through it)."""
    return _Shift.apply(x, list(zip(dy.tolist(), dx.tolist(), strict=True)), fill)


class _Shift(torch.autograd.Function):
    """Integer translation as one filled output and one window copy per image. Its gradient is the opposite
    shift with zero fill, itself a _Shift, so a second derivative costs the same again. An index-and-`where`
    version made four full-size temporaries per pass; on D's 20-channel input (colour codes) at 96x128 that
    was about a quarter of a `sprite` step; this runs 3x faster at every size (docs/benchmarks.md)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, offsets: list[tuple[int, int]], fill: float) -> torch.Tensor:
        ctx.offsets = offsets
        out = torch.full_like(x, fill)
        _copy_windows(out, x, offsets)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return _Shift.apply(grad, [(-y, -x) for y, x in ctx.offsets], 0.0), None, None


def _copy_windows(dst: torch.Tensor, src: torch.Tensor, offsets: list[tuple[int, int]]) -> None:
    """dst[i, :, y, x] = src[i, :, y - dy_i, x - dx_i] wherever both are inside the image."""
    h, w = src.shape[-2:]
    for i, (sy, sx) in enumerate(offsets):
        if abs(sy) >= h or abs(sx) >= w:
            continue  # shifted wholly out: only the fill
        to_rows, to_cols = slice(max(sy, 0), h + min(sy, 0)), slice(max(sx, 0), w + min(sx, 0))
        from_rows, from_cols = slice(max(-sy, 0), h + min(-sy, 0)), slice(max(-sx, 0), w + min(-sx, 0))
        dst[i, :, to_rows, to_cols] = src[i, :, from_rows, from_cols]


def torus_roll(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Roll each image by its own random offset on the torus (dy in [0, H), dx in [0, W)): what was at the
    wrap-around boundary lands inside the image. A tile that repeats without a seam looks the same after any
    roll; one with a seam shows it as a line somewhere inside. Differentiable in x."""
    n, _, h, w = x.shape
    dy = torch.randint(0, h, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, w, (n,), generator=generator).to(x.device)
    rows = (torch.arange(h, device=x.device).view(1, h) - dy.view(n, 1)) % h
    cols = (torch.arange(w, device=x.device).view(1, w) - dx.view(n, 1)) % w
    picked = x[torch.arange(n, device=x.device).view(n, 1, 1), :, rows.view(n, h, 1), cols.view(n, 1, w)]
    return picked.permute(0, 3, 1, 2)


def _offsets(n: int, limit: int, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randint(-limit, limit + 1, (n,), generator=generator).to(x.device)


def translate(
    x: torch.Tensor, max_frac: float = 0.125, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Shift each image by up to max_frac of its size (whole pixels), filling with transparent/black."""
    n, _, h, w = x.shape
    dy = _offsets(n, int(round(h * max_frac)), x, generator)
    dx = _offsets(n, int(round(w * max_frac)), x, generator)
    return _shift(x, dy, dx)


def _diff_color(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    colour, alpha = _split(x)
    n = x.shape[0]
    colour = colour + (_rand(n, x, generator) - 0.5).view(-1, 1, 1, 1)
    if colour.shape[1] == 3:
        mean = colour.mean(dim=1, keepdim=True)
        colour = (colour - mean) * (_rand(n, x, generator) * 2).view(-1, 1, 1, 1) + mean
    mean = colour.mean(dim=(1, 2, 3), keepdim=True)
    colour = (colour - mean) * (_rand(n, x, generator) + 0.5).view(-1, 1, 1, 1) + mean
    return _join(colour, alpha)


def _diff_translation(
    x: torch.Tensor, generator: torch.Generator | None, ratio: float = 0.125
) -> torch.Tensor:
    return translate(x, ratio, generator)


def _diff_cutout(x: torch.Tensor, generator: torch.Generator | None, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    cy = torch.randint(0, h + (1 - ch % 2), (n,), generator=generator).to(x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n,), generator=generator).to(x.device)
    ys = torch.arange(h, device=x.device).view(1, h) - (cy.view(n, 1) - ch // 2)
    xs = torch.arange(w, device=x.device).view(1, w) - (cx.view(n, 1) - cw // 2)
    inside = ((ys >= 0) & (ys < ch)).view(n, 1, h, 1) & ((xs >= 0) & (xs < cw)).view(n, 1, 1, w)
    keep = (~inside).to(x.dtype)
    return x * keep - (1 - keep)


DIFF_AUGMENTS = {"color": _diff_color, "translation": _diff_translation, "cutout": _diff_cutout}


def diff_augment(
    x: torch.Tensor,
    policy: str = "color,translation,cutout",
    generator: torch.Generator | None = None,
    image_channels: int | None = None,
) -> torch.Tensor:
    """Differentiable augmentation (DiffAugment) of a discriminator input batch; apply to real and fake alike.

    Cut-out and shifted-in pixels become -1 (transparent, or black without alpha); gradients flow to x.
    With `image_channels`, channels after the image's own (a palette head's colour codes) move with the
    spatial policies but are not recoloured.
    """
    for name in [p.strip() for p in policy.split(",") if p.strip()]:
        if name not in DIFF_AUGMENTS:
            raise SpriteganError(
                f"unknown DiffAugment policy {name!r}; choose from {', '.join(DIFF_AUGMENTS)}"
            )
        if name == "color" and image_channels is not None and image_channels < x.shape[1]:
            recoloured = DIFF_AUGMENTS[name](x[:, :image_channels], generator)
            x = torch.cat([recoloured, x[:, image_channels:]], dim=1)
        else:
            x = DIFF_AUGMENTS[name](x, generator)
    return x


DATASET_AUGMENTS: dict[str, Augment] = {
    "mirror": lambda x, g: hflip(x, 0.5, g),
    "brightness": lambda x, g: brightness(x, generator=g),
    "hue": lambda x, g: hue_recolour(x, g),
    "translate": lambda x, g: translate(x, generator=g),
}


def build_augment(names: list[str]) -> Augment:
    """Compose dataset augmentations by name (mirror, brightness, hue, translate), in the given order."""
    unknown = [n for n in names if n not in DATASET_AUGMENTS]
    if unknown:
        raise SpriteganError(
            f"unknown augmentation {unknown[0]!r}; choose from {', '.join(DATASET_AUGMENTS)}"
        )
    steps = [DATASET_AUGMENTS[n] for n in names]

    def apply(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for step in steps:
            x = step(x, generator)
        return x

    return apply


def diff_augment_p(
    x: torch.Tensor,
    policy: str,
    p: float,
    generator: torch.Generator | None = None,
    image_channels: int | None = None,
) -> torch.Tensor:
    """DiffAugment applied to each image with probability p (ADA-style, Karras et al. 2020); p=1 is all."""
    if p <= 0.0:
        return x
    augmented = diff_augment(x, policy, generator, image_channels)
    if p >= 1.0:
        return augmented
    keep = torch.rand(x.shape[0], 1, 1, 1, generator=generator).to(x.device) < p
    return torch.where(keep, augmented, x)


def ada_update(p: float, real_sign_mean: float, target: float, images: int, speed_kimg: float) -> float:
    """Next augmentation probability: up when D is over-confident on reals (mean sign of its real scores,
    the r_t overfitting signal, above target), down otherwise; p can cross 0..1 in speed_kimg thousand images."""
    step = images / (speed_kimg * 1000.0)
    if real_sign_mean > target:
        p += step
    elif real_sign_mean < target:
        p -= step
    return min(max(p, 0.0), 1.0)
