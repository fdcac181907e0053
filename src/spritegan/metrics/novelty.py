"""Pixel-space memorisation check: the nearest training image of each generated sample.

Both sets are composited on white first (what the user sees; RGB under transparent pixels is ignored).
The distance is the mean absolute difference per channel value, in [0, 255] units (MAD). A fake whose
nearest real image is closer than `threshold` is counted as a (near-)copy; novelty is the share of
fakes at or beyond the threshold. The default of 4.0 means, for example, that about 1.6% of the
pixels differ completely (4/255), or every value differs by 4 levels.

Candidates are found with Euclidean distances (one matrix product per batch); the exact MAD is then
computed for the `candidates` nearest by Euclidean distance and the smallest one kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from spritegan.metrics.features import composite_white

DEFAULT_THRESHOLD = 4.0


def _flat_rgb(images) -> np.ndarray:
    array = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if array.dtype != np.uint8:
        raise ValueError(f"expected uint8 images; got {array.dtype}")
    return composite_white(array).reshape(array.shape[0], -1)


def nearest_real(fake, real, *, batch_size: int = 256, candidates: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """For uint8 fake (N,C,H,W) and real (M,C,H,W): index of the nearest real and its MAD in [0, 255]."""
    f = torch.from_numpy(_flat_rgb(fake)).float()
    r = torch.from_numpy(_flat_rgb(real)).float()
    if f.shape[1] != r.shape[1]:
        raise ValueError(f"fake and real images differ in size: {tuple(fake.shape)} vs {tuple(real.shape)}")
    k = min(candidates, r.shape[0])
    r_sq = (r * r).sum(1)
    index = np.empty(f.shape[0], dtype=np.int64)
    dist = np.empty(f.shape[0], dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, f.shape[0], batch_size):
            fb = f[start : start + batch_size]
            sq = (fb * fb).sum(1, keepdim=True) + r_sq[None, :] - 2.0 * fb @ r.T
            cand = sq.topk(k, dim=1, largest=False).indices
            mad = (fb[:, None, :] - r[cand]).abs().mean(2)
            best = mad.argmin(1)
            index[start : start + len(fb)] = cand.gather(1, best[:, None]).squeeze(1).numpy()
            dist[start : start + len(fb)] = mad.gather(1, best[:, None]).squeeze(1).double().numpy()
    return index, dist


def novelty_stats(distances: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> dict[str, float]:
    """Share of fakes at least `threshold` (MAD in [0, 255]) from their nearest real, plus quantiles."""
    d = np.asarray(distances, np.float64)
    return {
        "novelty": float((d >= threshold).mean()),
        "threshold_mad": float(threshold),
        "exact_copies": int((d == 0).sum()),
        "nn_mad_min": float(d.min()),
        "nn_mad_median": float(np.median(d)),
        "nn_mad_mean": float(d.mean()),
    }


def near_copy_floor(real, threshold: float = DEFAULT_THRESHOLD, seed: int = 0) -> dict[str, float]:
    """What the near-copy share is for real data: a random half of `real` (uint8 (M,C,H,W)) against the
    other half. Sets of small sprites that differ by a few pixels (the punks) sit close to one another, so
    a generated share is read against this floor, not against 0."""
    order = np.random.default_rng(seed).permutation(len(real))
    half = len(real) // 2
    if half < 1:
        raise ValueError("the near-copy floor needs at least two real images")
    _, d = nearest_real(real[order[:half]], real[order[half:]])
    return {"share": float((d < threshold).mean()), "exact_copies": int((d == 0).sum()), "n": half}


def write_closest_pairs(
    fake, real, index: np.ndarray, distances: np.ndarray, path: str | Path, *, count: int = 16
) -> Path:
    """PNG grid of the `count` closest pairs: each row is a generated sample next to its nearest real.

    Images are composited on white and upscaled with nearest-neighbour to at least 96 px tall.
    """
    fake_np = fake.detach().cpu().numpy() if hasattr(fake, "detach") else np.asarray(fake)
    real_np = real.detach().cpu().numpy() if hasattr(real, "detach") else np.asarray(real)
    order = np.argsort(distances, kind="stable")[:count]
    h, w = fake_np.shape[2], fake_np.shape[3]
    scale = max(1, -(-96 // h))
    gap = 4
    tile_w, tile_h = w * scale, h * scale
    sheet = Image.new("RGB", (2 * tile_w + 3 * gap, len(order) * (tile_h + gap) + gap), (128, 128, 128))
    for row, i in enumerate(order):
        pair = composite_white(np.stack([fake_np[i], real_np[index[i]]]))
        for col in range(2):
            tile = Image.fromarray(np.ascontiguousarray(pair[col].transpose(1, 2, 0)))
            tile = tile.resize((tile_w, tile_h), resample=Image.Resampling.NEAREST)
            sheet.paste(tile, (gap + col * (tile_w + gap), gap + row * (tile_h + gap)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
