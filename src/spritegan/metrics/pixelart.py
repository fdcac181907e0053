"""Pixel-art measures that Inception features cannot see, on uint8 (N, C, H, W) tensors.

C is 1 (gray), 3 (RGB) or 4 (RGBA, straight alpha). A pixel is *visible* when its alpha is above 0; without
an alpha channel every pixel is visible. A pixel's *colour* is (r, g, b, a) with gray repeated to r, g, b and
a = 255 without alpha, the same convention as the dataset manifest's "palette".

- off-palette share: visible pixels whose colour (alpha included) is not in the dataset palette;
- isolated share: visible pixels with no visible 8-neighbour (specks floating in the background);
- stray share: visible pixels whose colour equals none of their 4 neighbours' colours (a neighbour outside
  the image never matches), the one-pixel noise of a generator that has not settled on flat colours;
- alpha levels used: distinct alpha values among all pixels, and the share of pixels whose alpha is not
  one of the dataset's alpha levels;
- colour coverage (with a palette and real images): palette colours the generator has stopped drawing
  (drawn at under a quarter of their real share) and the total-variation distance between the two colour
  histograms, the palette head's "dead colours" that FID and the per-pixel measures above cannot see.

Shares are of visible pixels (alpha shares: of all pixels), pooled over the whole set. Every function is
vectorised and works in chunks of images, so 5,000 sprites take well under a second per measure.
"""

from __future__ import annotations

import numpy as np
import torch

from spritegan.errors import DataError

CHUNK = 512
MAX_PALETTE = 256
SHIFTS_4 = ((-1, 0), (1, 0), (0, -1), (0, 1))
SHIFTS_8 = (*SHIFTS_4, (-1, -1), (-1, 1), (1, -1), (1, 1))
COVERAGE_MIN_SHARE = 1e-4  # colours rarer than this in the real data are too noisy to call missing
COVERAGE_FACTOR = 4.0  # a colour is missing when drawn at under 1/4 of its real share


def _tensor(images) -> torch.Tensor:
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] not in (1, 3, 4):
        raise DataError(
            f"expected uint8 images shaped (N, C, H, W) with C in 1, 3, 4; got {x.dtype} {tuple(x.shape)}"
        )
    return x.detach().cpu()


def _chunks(images: torch.Tensor):
    for start in range(0, len(images), CHUNK):
        yield images[start : start + CHUNK]


def visible_mask(images: torch.Tensor) -> torch.Tensor:
    """bool (N, H, W): alpha > 0 for RGBA, everything otherwise."""
    if images.shape[1] == 4:
        return images[:, 3] > 0
    return torch.ones(images.shape[0], *images.shape[2:], dtype=torch.bool)


def pack_colours(images: torch.Tensor) -> torch.Tensor:
    """int64 (N, H, W) holding r<<24 | g<<16 | b<<8 | a (gray -> r = g = b; no alpha -> a = 255)."""
    x = images.to(torch.int64)
    if x.shape[1] == 1:
        rgb = (x[:, 0] << 24) | (x[:, 0] << 16) | (x[:, 0] << 8)
    else:
        rgb = (x[:, 0] << 24) | (x[:, 1] << 16) | (x[:, 2] << 8)
    alpha = x[:, 3] if x.shape[1] == 4 else torch.full_like(x[:, 0], 255)
    return rgb | alpha


def pack_palette(palette) -> torch.Tensor:
    """A manifest palette (list of [r, g, b, a]) as the sorted int64 keys of `pack_colours`."""
    p = torch.as_tensor(palette, dtype=torch.int64).reshape(-1, 4)
    return torch.sort((p[:, 0] << 24) | (p[:, 1] << 16) | (p[:, 2] << 8) | p[:, 3]).values


def palette_of(images, max_colours: int = MAX_PALETTE) -> list[list[int]] | None:
    """Distinct colours [r, g, b, a] of the visible pixels, sorted; None when there are more than max_colours."""
    found = torch.empty(0, dtype=torch.int64)
    for part in _chunks(_tensor(images)):
        keys = pack_colours(part)[visible_mask(part)]
        found = torch.unique(torch.cat([found, torch.unique(keys)]))
        if len(found) > max_colours:
            return None
    return [[int(k >> s) & 255 for s in (24, 16, 8, 0)] for k in found.tolist()]


def _neighbours(mask_or_keys: torch.Tensor, dy: int, dx: int, fill) -> torch.Tensor:
    """out[n, y, x] = values[n, y + dy, x + dx], `fill` outside the image."""
    n, h, w = mask_or_keys.shape
    out = torch.full_like(mask_or_keys, fill)
    ys, yd = (slice(dy, h), slice(0, h - dy)) if dy >= 0 else (slice(0, h + dy), slice(-dy, h))
    xs, xd = (slice(dx, w), slice(0, w - dx)) if dx >= 0 else (slice(0, w + dx), slice(-dx, w))
    out[:, yd, xd] = mask_or_keys[:, ys, xs]
    return out


def _counts(part: torch.Tensor, palette_keys: torch.Tensor | None, alpha_levels) -> dict[str, int]:
    visible = visible_mask(part)
    keys = pack_colours(part)
    counts = {"visible": int(visible.sum()), "pixels": int(visible.numel())}
    if palette_keys is not None:
        counts["off_palette"] = int((visible & ~torch.isin(keys, palette_keys)).sum())
    lonely = visible.clone()
    for dy, dx in SHIFTS_8:
        lonely &= ~_neighbours(visible, dy, dx, False)
    counts["isolated"] = int(lonely.sum())
    stray = visible.clone()
    for dy, dx in SHIFTS_4:
        stray &= _neighbours(keys, dy, dx, -1) != keys
    counts["stray"] = int(stray.sum())
    if part.shape[1] == 4:
        alpha = part[:, 3]
        counts["alpha_hist"] = torch.bincount(alpha.reshape(-1).to(torch.int64), minlength=256)
        if alpha_levels is not None:
            allowed = torch.as_tensor(list(alpha_levels), dtype=torch.int64)
            counts["off_alpha"] = int((~torch.isin(alpha.to(torch.int64), allowed)).sum())
    return counts


def pixel_counts(images, palette=None, alpha_levels=None) -> dict:
    """Raw counts over a set: visible, pixels, off_palette (with a palette), isolated, stray, and for RGBA
    alpha_hist (a 256-bin tensor) and off_alpha (with alpha levels)."""
    x = _tensor(images)
    palette_keys = pack_palette(palette) if palette is not None else None
    total: dict = {}
    for part in _chunks(x):
        for key, value in _counts(part, palette_keys, alpha_levels).items():
            total[key] = total[key] + value if key in total else value
    return total


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def off_palette_share(images, palette) -> float:
    """Share of visible pixels whose colour (with alpha) is not in `palette` (list of [r, g, b, a])."""
    c = pixel_counts(images, palette=palette)
    return _share(c["off_palette"], c["visible"])


def isolated_share(images) -> float:
    """Share of visible pixels that have no visible pixel among their 8 neighbours."""
    c = pixel_counts(images)
    return _share(c["isolated"], c["visible"])


def stray_share(images) -> float:
    """Share of visible pixels whose colour matches none of their 4 neighbours (outside counts as no match)."""
    c = pixel_counts(images)
    return _share(c["stray"], c["visible"])


def alpha_levels_used(images) -> int:
    """Number of distinct alpha values over all pixels (1 for images without alpha: all opaque)."""
    c = pixel_counts(images)
    return int((c["alpha_hist"] > 0).sum()) if "alpha_hist" in c else 1


def off_alpha_share(images, alpha_levels) -> float:
    """Share of all pixels whose alpha is not one of `alpha_levels` (0.0 for images without alpha)."""
    c = pixel_counts(images, alpha_levels=alpha_levels)
    return _share(c.get("off_alpha", 0), c["pixels"])


def pixelart_metrics(images, palette=None, alpha_levels=None) -> dict[str, float | int]:
    """All measures in one pass: keys pixelart_off_palette (only with a palette), pixelart_isolated,
    pixelart_stray, and for RGBA pixelart_alpha_levels and pixelart_off_alpha (only with alpha levels)."""
    c = pixel_counts(images, palette=palette, alpha_levels=alpha_levels)
    out: dict[str, float | int] = {}
    if "off_palette" in c:
        out["pixelart_off_palette"] = _share(c["off_palette"], c["visible"])
    out["pixelart_isolated"] = _share(c["isolated"], c["visible"])
    out["pixelart_stray"] = _share(c["stray"], c["visible"])
    if "alpha_hist" in c:
        out["pixelart_alpha_levels"] = int((c["alpha_hist"] > 0).sum())
        if "off_alpha" in c:
            out["pixelart_off_alpha"] = _share(c["off_alpha"], c["pixels"])
    out["pixelart_visible_share"] = _share(c["visible"], c["pixels"])
    return out


def colour_histogram(images, palette) -> torch.Tensor:
    """float64 (K,): each palette colour's share of the visible pixels, in `pack_palette(palette)` order.

    Off-palette pixels count in the whole and in no colour, so the shares sum to 1 - the off-palette share.
    """
    keys = pack_palette(palette)
    counts = torch.zeros(len(keys), dtype=torch.float64)
    visible = 0
    for part in _chunks(_tensor(images)):
        found = pack_colours(part)[visible_mask(part)]
        visible += found.numel()
        slot = torch.searchsorted(keys, found).clamp(max=len(keys) - 1)
        hit = keys[slot] == found
        counts += torch.bincount(slot[hit], minlength=len(keys)).to(torch.float64)
    return counts / max(visible, 1)


def _missing(fake_hist, real_hist, min_share: float, factor: float) -> torch.Tensor:
    return (real_hist >= min_share) & (fake_hist < real_hist / factor)


def colour_coverage(
    fake_hist: torch.Tensor,
    real_hist: torch.Tensor,
    min_share: float = COVERAGE_MIN_SHARE,
    factor: float = COVERAGE_FACTOR,
) -> dict[str, float | int]:
    """pixelart_missing_colours: palette colours with a real share of at least `min_share` that the fakes
    draw at under 1/`factor` of it; pixelart_colour_tv: the total-variation distance between the two
    histograms, off-palette mass as one more bin (0 = the same colour shares, 1 = disjoint)."""
    missing = _missing(fake_hist, real_hist, min_share, factor)
    off = abs(float(1.0 - fake_hist.sum()) - float(1.0 - real_hist.sum()))
    tv = 0.5 * (float((fake_hist - real_hist).abs().sum()) + off)
    return {"pixelart_missing_colours": int(missing.sum()), "pixelart_colour_tv": tv}


def missing_colours(fake_hist: torch.Tensor, real_hist: torch.Tensor, palette, limit: int = 8) -> list[dict]:
    """The missing colours of `colour_coverage`, commonest in the real data first: hex #rrggbbaa and the
    real and generated shares of visible pixels."""
    keys = pack_palette(palette)
    missing = _missing(fake_hist, real_hist, COVERAGE_MIN_SHARE, COVERAGE_FACTOR)
    order = [int(i) for i in torch.argsort(real_hist, descending=True) if missing[i]][:limit]
    return [
        {
            "colour": "#" + f"{int(keys[i]) & 0xFFFFFFFF:08x}",
            "real_share": float(real_hist[i]),
            "generated_share": float(fake_hist[i]),
        }
        for i in order
    ]
