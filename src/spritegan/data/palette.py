"""The colour table a palette head chooses from: the data's exact colours, or a k-means palette for painted art.

Entries are uint8 rows with the data's channel count (L: grey; RGB; RGBA with alpha as part of the colour,
so transparency levels are palette entries too). Deterministic for a given seed.
"""

from __future__ import annotations

import torch


def exact_palette(palette: list[list[int]], channels: int, transparent: bool) -> torch.Tensor:
    """The manifest's visible colours ([r, g, b, a] rows) as uint8 (K, channels); RGBA data that has fully
    transparent pixels gets the transparent entry (0, 0, 0, 0) too."""
    rows = torch.tensor(palette, dtype=torch.uint8).reshape(-1, 4)
    if channels == 1:
        rows = rows[:, :1]
    elif channels == 3:
        rows = rows[:, :3]
    rows = torch.unique(rows, dim=0)
    if channels == 4 and transparent:
        rows = torch.cat([torch.zeros(1, 4, dtype=torch.uint8), rows[rows[:, 3] > 0]])
    return rows


def kmeans_palette(
    images: torch.Tensor, k: int, *, seed: int = 0, sample: int = 200_000, iters: int = 25
) -> torch.Tensor:
    """k colours (uint8 (k', channels), k' <= k) from k-means++ over up to `sample` visible pixels.

    RGBA: fully transparent pixels are left out of the clustering and get the entry (0, 0, 0, 0) of their own.
    """
    n, c = images.shape[:2]
    pix = images.permute(0, 2, 3, 1).reshape(-1, c)
    transparent = c == 4 and bool((pix[:, 3] == 0).any())
    if c == 4:
        pix = pix[pix[:, 3] > 0]
    gen = torch.Generator().manual_seed(seed)
    if len(pix) > sample:
        pix = pix[torch.randperm(len(pix), generator=gen)[:sample]]
    distinct = torch.unique(pix, dim=0)
    k = k - 1 if transparent else k
    if len(distinct) <= k:
        centres = distinct.float()
    else:
        centres = kmeans(pix.float(), k, gen, iters)
    out = centres.round().clamp(0, 255).to(torch.uint8)
    out = torch.unique(out, dim=0)
    if transparent:
        out = torch.cat([torch.zeros(1, 4, dtype=torch.uint8), out])
    return out


def kmeans(x: torch.Tensor, k: int, gen: torch.Generator, iters: int) -> torch.Tensor:
    """Lloyd's algorithm from a k-means++ start (Arthur & Vassilvitskii 2007) on float rows x (M, C)."""
    centres = x[torch.randint(len(x), (1,), generator=gen)]
    d2 = torch.cdist(x, centres).square().squeeze(1)
    for _ in range(1, k):
        pick = torch.multinomial(d2 / d2.sum().clamp(min=1e-12), 1, generator=gen)
        centres = torch.cat([centres, x[pick]])
        d2 = torch.minimum(d2, (x - x[pick]).square().sum(1))
    for _ in range(iters):
        assign = torch.cdist(x, centres).argmin(1)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).float()[:, None]
        moved = torch.where(counts > 0, sums / counts.clamp(min=1), centres)
        if torch.equal(moved, centres):
            break
        centres = moved
    return centres


def has_exact_palette(manifest: dict) -> bool:
    """Whether the loader recorded the data's own colours (at most 256); painted art has none."""
    return bool(manifest.get("palette"))


def dataset_palette(manifest: dict, images: torch.Tensor, k: int, seed: int = 0) -> tuple[torch.Tensor, bool]:
    """(uint8 (K, C) palette, exact?): the data's own colours when it has at most 256, else k-means with k."""
    c = int(images.shape[1])
    levels = manifest.get("alpha_levels") or []
    transparent = c == 4 and (0 in levels or bool((images[:, 3] == 0).any()))
    if has_exact_palette(manifest):
        return exact_palette(manifest["palette"], c, transparent), True
    return kmeans_palette(images, k, seed=seed), False


def most_colours_per_image(images: torch.Tensor, chunk: int = 1024) -> int:
    """The most distinct colours any one uint8 (N, C, H, W) image uses; every fully transparent pixel (alpha
    last, for 2 or 4 channels) counts as the one transparent colour, whatever its RGB."""
    most = 0
    for start in range(0, len(images), chunk):
        x = images[start : start + chunk].long()
        if x.shape[1] in (2, 4):
            x = x * (x[:, -1:] > 0)
        code = torch.zeros_like(x[:, 0])
        for c in range(x.shape[1]):
            code = code * 256 + x[:, c]
        ordered = code.flatten(1).sort(dim=1).values
        distinct = 1 + (ordered[:, 1:] != ordered[:, :-1]).sum(1)
        most = max(most, int(distinct.max()))
    return most


def quantise(images: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Every pixel of uint8 (N, C, H, W) moved to its nearest palette row (uint8 (K, C)) in RGB(A) distance."""
    n, c, h, w = images.shape
    pix = images.permute(0, 2, 3, 1).reshape(-1, c).float()
    out = torch.empty_like(pix)
    colours = palette.float()
    for start in range(0, len(pix), 65536):
        out[start : start + 65536] = colours[torch.cdist(pix[start : start + 65536], colours).argmin(1)]
    return out.to(torch.uint8).reshape(n, h, w, c).permute(0, 3, 1, 2).contiguous()


def quantisation_loss(images: torch.Tensor, palette: torch.Tensor, sample: int = 128) -> dict[str, float]:
    """What drawing from `palette` costs the real images (up to `sample` of them, evenly spaced): the mean
    absolute RGB error per channel over visible pixels (0-255 scale) and the alpha levels before and after."""
    picked = images[:: max(1, len(images) // sample)]
    quant = quantise(picked, palette)
    c = images.shape[1]
    visible = picked[:, 3] > 0 if c == 4 else torch.ones_like(picked[:, 0], dtype=torch.bool)
    diff = (picked[:, :3].float() - quant[:, :3].float()).abs().permute(0, 2, 3, 1)[visible]
    return {
        "rgb_mae": float(diff.mean()) if len(diff) else 0.0,
        "alpha_levels": float(torch.unique(picked[:, 3]).numel()) if c == 4 else 0.0,
        "alpha_levels_after": float(torch.unique(quant[:, 3]).numel()) if c == 4 else 0.0,
    }
