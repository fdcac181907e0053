"""Specks: visible parts of a few pixels that touch nothing else visible (8-connected).

Hand-drawn sprites rarely hold them, so a palette head removes those G draws at sampling, up to the size the
training data never shows (model.palette_despeckle; -1 resolves it from the data at the start of training).

Finding the parts of at most S pixels, in fixed tensor steps (so the ONNX export holds the same step):
every visible pixel starts with its own label; S - 1 rounds of a 3x3 max over visible labels give every
pixel of a part of at most S pixels (diameter at most S - 1) that part's largest label. A label class is
such a part exactly when it has at most S pixels and no pixel of it touches a visible pixel of another
label: a class cut out of a bigger part always has an edge to the rest of that part.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

AUTO_MAX = 8  # the largest speck size model.palette_despeckle=-1 resolves to
LIMIT = 32  # the largest size one may ask for


def _pool3(x: torch.Tensor, wrap: bool, fill: float, lowest: bool = False) -> torch.Tensor:
    """3x3 maximum (or minimum) of (N, 1, H, W); outside the image is `fill`, or a tile wraps around."""
    x = F.pad(x, (1, 1, 1, 1), mode="circular") if wrap else F.pad(x, (1, 1, 1, 1), value=fill)
    return -F.max_pool2d(-x, 3, stride=1) if lowest else F.max_pool2d(x, 3, stride=1)


def speck_mask(visible: torch.Tensor, max_size: int, wrap: bool = False) -> torch.Tensor:
    """(N, H, W) bool visible pixels -> the pixels of 8-connected visible parts of at most `max_size` pixels."""
    if not 0 <= max_size <= LIMIT:
        raise ValueError(f"speck size {max_size}: choose 0 (off) to {LIMIT} pixels")
    if max_size == 0:
        return torch.zeros_like(visible)
    n, h, w = visible.shape
    mask = visible.unsqueeze(1).float()
    # labels 1..H*W (exact in float32 for any sprite size), 0 where nothing is drawn
    label = torch.arange(1, h * w + 1, dtype=torch.float32, device=visible.device).view(1, 1, h, w) * mask
    for _ in range(max_size - 1):
        label = _pool3(label, wrap, 0.0) * mask
    big = float(h * w + 1)
    lowest = _pool3(torch.where(mask > 0, label, torch.full_like(label, big)), wrap, big, lowest=True)
    edge = (mask > 0) & ((_pool3(label, wrap, 0.0) > label) | (lowest < label))  # touches another label
    # per label class: its size and whether any of its pixels has an edge; labels offset per image
    index = (label.long() + torch.arange(n, device=visible.device).view(n, 1, 1, 1) * (h * w + 1)).view(-1)
    size = torch.zeros(n * (h * w + 1), device=visible.device).scatter_add(0, index, mask.view(-1))
    edges = torch.zeros_like(size).scatter_add(0, index, edge.float().view(-1))
    small = (size.gather(0, index) <= max_size) & (edges.gather(0, index) == 0)
    return small.view(n, h, w) & visible


def data_speck_size(images: torch.Tensor, chunk: int = 2048) -> int:
    """The largest speck size up to AUTO_MAX that uint8 images (N, C, H, W) never show: one less than their
    smallest visible part; 0 without alpha (C not 2 or 4: no background to float in)."""
    if images.shape[1] not in (2, 4):
        return 0
    for size in range(AUTO_MAX, 0, -1):
        if not any(
            bool(speck_mask(images[i : i + chunk, -1] > 0, size).any()) for i in range(0, len(images), chunk)
        ):
            return size
    return 0


def remove_specks(index: torch.Tensor, palette: torch.Tensor, size: int, wrap: bool = False) -> torch.Tensor:
    """Palette indices (N, H, W) with specks of at most `size` pixels set to the most transparent colour.
    `palette` is (K, C) in model space [-1, 1] with alpha last; without alpha (C not 2 or 4) nothing changes."""
    if size <= 0 or palette.shape[1] not in (2, 4):
        return index
    alpha = palette[:, -1]
    clear = alpha.argmin()
    visible = alpha[index] > alpha[clear]
    return torch.where(speck_mask(visible, size, wrap), clear, index)
