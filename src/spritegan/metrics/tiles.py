"""Seam measure of tiles: the colour step across the wrap-around boundary against the steps inside the tile.

For uint8 images (N, C, H, W), a step is the mean absolute difference over the channels (0-255) of two
neighbouring pixels. Placed side by side, a tile's last column meets its first column and its last row meets
its first row; those H + W pairs are its wrap-around (seam) steps. The H (W - 1) + W (H - 1) pairs of
neighbouring interior columns and rows are its interior steps, also the tile's interior variation (0 for a
flat tile). A seamless set has seam steps like its interior ones (tile_seam_ratio near 1, where real tiles
drawn on a torus lie); a set of tiles cut from larger pictures, or made by a generator that pads with zeros,
has larger seam steps. The measures are means over all pairs of all images; `tile_std` adds each tile's
colour standard deviation over its pixels (mean over tiles and channels), a second guard against flat tiles.

Tileability has been scored with learned critics (SeamlessGAN, Rodriguez-Pardo & Garces, IEEE TVCG 2023, picks
tiles with its discriminator; TexTile, Rodriguez-Pardo et al., CVPR 2024, trains a tileability classifier); this
pixel ratio is our simpler, training-free check for small pixel-art tiles.
"""

from __future__ import annotations

import numpy as np


def _as_float(images) -> np.ndarray:
    array = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if array.ndim != 4:
        raise ValueError(f"expected images shaped (N, C, H, W); got {array.shape}")
    if min(array.shape[2:]) < 2:
        raise ValueError(
            f"tiles need at least 2x2 pixels for interior steps; got {array.shape[3]}x{array.shape[2]}"
        )
    return array.astype(np.float64)


def seam_measures(images) -> dict[str, float]:
    """tile_seam_diff, tile_interior_diff (the interior variation), tile_seam_ratio and tile_std of a set."""
    x = _as_float(images)
    n, _, h, w = x.shape
    seam = np.abs(x[..., -1] - x[..., 0]).sum() + np.abs(x[..., -1, :] - x[..., 0, :]).sum()
    interior = np.abs(np.diff(x, axis=3)).sum() + np.abs(np.diff(x, axis=2)).sum()
    per_pair = x.shape[1]  # the channel mean of each pair's difference
    seam_diff = float(seam / (per_pair * n * (h + w)))
    interior_diff = float(interior / (per_pair * n * (h * (w - 1) + w * (h - 1))))
    return {
        "tile_seam_diff": seam_diff,
        "tile_interior_diff": interior_diff,
        "tile_seam_ratio": seam_diff / interior_diff if interior_diff > 0 else float("nan"),
        "tile_std": float(x.reshape(n, x.shape[1], -1).std(axis=2).mean()),
    }


def phase_steps(images) -> np.ndarray:
    """Mean step between pixels j and j + 1 (mod the size), rows and columns together, for each phase j of a
    square tile set: (size,) values, the last one the wrap-around. A torus-drawn set is flat across phases; a
    generator's start grid or upsampling shows as a period in them, the seam as a peak at the end."""
    x = _as_float(images)
    if x.shape[2] != x.shape[3]:
        raise ValueError(f"phase steps need square tiles; got {x.shape[3]}x{x.shape[2]}")
    cols = np.abs(np.roll(x, -1, axis=3) - x).mean(axis=(0, 1, 2))
    rows = np.abs(np.roll(x, -1, axis=2) - x).mean(axis=(0, 1, 3))
    return (cols + rows) / 2


def seam_with_floor(fake, real) -> dict[str, dict[str, float]]:
    """The fakes' measures, the real set's (its floor) and the fakes against the real interior:
    tile_seam_vs_real_interior (fake seam step / real interior step; the issue's aim: <= 1.5) and
    tile_interior_vs_real (fake interior step / real interior step; the aim: 0.5 to 2)."""
    got, floor = seam_measures(fake), seam_measures(real)
    base = floor["tile_interior_diff"]
    got["tile_seam_vs_real_interior"] = got["tile_seam_diff"] / base if base > 0 else float("nan")
    got["tile_interior_vs_real"] = got["tile_interior_diff"] / base if base > 0 else float("nan")
    floor["tile_seam_vs_real_interior"] = floor["tile_seam_ratio"]
    floor["tile_interior_vs_real"] = 1.0
    return {"metrics": got, "real_floor": floor}


def tiles_metric(ctx) -> dict[str, float]:
    """The `tiles` row of the metric table: the fakes' seam measures, the real set's beside them as its floor."""
    both = seam_with_floor(ctx.fake, ctx.real)
    ctx.real_floor.update(both["real_floor"])
    return both["metrics"]
