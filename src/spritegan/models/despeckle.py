"""Specks: visible parts of a few pixels that touch nothing else visible (8-connected).

G draws them where it is unsure; hand-drawn sprites hold them only in a few places, if at all (the punks'
574 lone pixels sit at two positions). So a palette head removes, at sampling, every part of at most P pixels
(model.palette_despeckle, 8 by default) that covers none of the positions where the training data has such
parts (model.palette_speck_sites, found at the start of training).

Finding the parts of at most P pixels, in fixed tensor steps (so the ONNX export holds the same step):
every visible pixel starts with its own label; P - 1 rounds of a 3x3 max over visible labels give every
pixel of a part of at most P pixels (diameter at most P - 1) that part's largest label. A label class is
such a part exactly when it has at most P pixels and no pixel of it touches a visible pixel of another
label: a class cut out of a bigger part always has an edge to the rest of that part.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

AUTO_MAX = 8  # the speck size model.palette_despeckle=-1 resolves to for data with alpha
LIMIT = 32  # the largest size one may ask for


def _pool3(x: torch.Tensor, wrap: bool, fill: float, lowest: bool = False) -> torch.Tensor:
    """3x3 maximum (or minimum) of (N, 1, H, W); outside the image is `fill`, or a tile wraps around."""
    x = F.pad(x, (1, 1, 1, 1), mode="circular") if wrap else F.pad(x, (1, 1, 1, 1), value=fill)
    return -F.max_pool2d(-x, 3, stride=1) if lowest else F.max_pool2d(x, 3, stride=1)


def speck_mask(
    visible: torch.Tensor, max_size: int, wrap: bool = False, keep: torch.Tensor | None = None
) -> torch.Tensor:
    """(N, H, W) bool visible pixels -> the pixels of 8-connected visible parts of at most `max_size` pixels;
    with `keep` (H, W) bool, only the parts that cover none of its positions."""
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
    # per label class: its size, whether any of its pixels has an edge or a kept position; labels per image
    index = (label.long() + torch.arange(n, device=visible.device).view(n, 1, 1, 1) * (h * w + 1)).view(-1)
    size = torch.zeros(n * (h * w + 1), device=visible.device).scatter_add(0, index, mask.view(-1))
    blocked = edge.float()
    if keep is not None:
        blocked = blocked + mask * keep.to(mask.dtype).view(1, 1, h, w)
    blocks = torch.zeros_like(size).scatter_add(0, index, blocked.view(-1))
    small = (size.gather(0, index) <= max_size) & (blocks.gather(0, index) == 0)
    return small.view(n, h, w) & visible


def data_speck_sites(images, max_size: int, chunk: int = 2048) -> list[int]:
    """Positions (y * W + x) where uint8 images (N, C, H, W) with alpha last have a visible part of at most
    `max_size` pixels that touches nothing else: where G may draw one too (model.palette_speck_sites)."""
    covered = torch.zeros(tuple(images.shape[2:]), dtype=torch.bool)
    for i in range(0, len(images), chunk):
        covered |= speck_mask(torch.as_tensor(images[i : i + chunk, -1]) > 0, max_size).any(0)
    return covered.view(-1).nonzero().view(-1).tolist()


def sites_map(sites: list[int] | None, size: tuple[int, int]) -> torch.Tensor:
    """(H, W) bool map of the positions (y * W + x) in `sites`."""
    keep = torch.zeros(size[0] * size[1], dtype=torch.bool)
    keep[torch.as_tensor(sites or [], dtype=torch.long)] = True
    return keep.view(size)


def remove_specks(
    index: torch.Tensor,
    palette: torch.Tensor,
    size: int,
    wrap: bool = False,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """Palette indices (N, H, W) with specks of at most `size` pixels (except those covering a `keep`
    position) set to the most transparent colour. `palette` is (K, C) in model space [-1, 1] with alpha last;
    without alpha (C not 2 or 4) nothing changes."""
    if size <= 0 or palette.shape[1] not in (2, 4):
        return index
    alpha = palette[:, -1]
    clear = alpha.argmin()
    visible = alpha[index] > alpha[clear]
    if keep is not None and tuple(keep.shape) != tuple(index.shape[1:]):
        keep = None  # another size than the data's (a growing model's early output): no kept positions
    return torch.where(speck_mask(visible, size, wrap, keep), clear, index)
