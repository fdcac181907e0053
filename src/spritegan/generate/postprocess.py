"""Pixel-perfect output: alpha snapped to the dataset's levels, optional palette snap, nearest upscale.

All functions take and return uint8 tensors shaped (N, C, H, W); C == 4 means RGBA with straight alpha.
"""

from __future__ import annotations

import torch


def snap_alpha(images: torch.Tensor, levels: list[int] | None) -> torch.Tensor:
    """Move every alpha value to the nearest of `levels` (default {0, 255}) and zero RGB where alpha is 0."""
    if images.shape[1] != 4:
        return images
    lv = torch.tensor(sorted(levels) if levels else [0, 255], dtype=torch.int16, device=images.device)
    alpha = images[:, 3:4].to(torch.int16)
    idx = (alpha.unsqueeze(-1) - lv).abs().argmin(dim=-1)
    alpha = lv[idx].to(torch.uint8)
    rgb = images[:, :3] * (alpha > 0)
    return torch.cat([rgb, alpha], dim=1)


def snap_palette(images: torch.Tensor, palette: list[list[int]] | None) -> torch.Tensor:
    """Replace each visible pixel's colour with the nearest palette colour (Euclidean in RGB)."""
    if not palette:
        return images
    c = images.shape[1]
    colour_ch = 1 if c == 1 else 3
    pal = torch.tensor([p[:colour_ch] for p in palette], dtype=torch.float32, device=images.device)
    pal = torch.unique(pal, dim=0)
    n, _, h, w = images.shape
    pix = images[:, :colour_ch].permute(0, 2, 3, 1).reshape(-1, colour_ch).float()
    nearest = torch.cdist(pix, pal).argmin(dim=1)
    snapped = pal[nearest].round().to(torch.uint8).reshape(n, h, w, colour_ch).permute(0, 3, 1, 2)
    out = images.clone()
    if c == 4:
        visible = images[:, 3:4] > 0
        out[:, :3] = torch.where(visible, snapped, images[:, :3])
    else:
        out[:, :colour_ch] = snapped
    return out


def upscale(images: torch.Tensor, scale: int) -> torch.Tensor:
    """Nearest-neighbour upscale by an integer factor (pixel art stays crisp)."""
    if scale == 1:
        return images
    return images.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)
