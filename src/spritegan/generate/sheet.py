"""Sprite sheets: a grid of images as one PNG, transparent or on a checkerboard so alpha shows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from spritegan import storage
from spritegan.generate.postprocess import upscale

_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def to_pil(image: torch.Tensor) -> Image.Image:
    """One uint8 (C, H, W) tensor -> PIL image of mode L, RGB or RGBA."""
    arr = image.permute(1, 2, 0).cpu().numpy()
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return Image.fromarray(np.ascontiguousarray(arr), mode=_MODES[image.shape[0]])


def checkerboard(h: int, w: int, cell: int = 8) -> np.ndarray:
    """A light grey checkerboard (H, W, 3) uint8, the usual backdrop for transparency."""
    yy, xx = np.mgrid[0:h, 0:w]
    board = ((yy // cell + xx // cell) % 2).astype(np.uint8)
    return np.where(board[..., None] == 1, 204, 255).astype(np.uint8).repeat(3, axis=2)


def make_sheet(
    images: torch.Tensor,
    ncol: int | None = None,
    scale: int = 1,
    pad: int = 1,
    background: str = "transparent",
) -> Image.Image:
    """Tile (N, C, H, W) uint8 images in a grid; background is transparent, checker, white or black."""
    images = upscale(images, scale)
    n, c, h, w = images.shape
    ncol = ncol or math.ceil(math.sqrt(n))
    nrow = math.ceil(n / ncol)
    if c == 1:
        images = images.repeat(1, 3, 1, 1)
    if c in (1, 3):
        images = torch.cat([images, images.new_full((n, 1, h, w), 255)], dim=1)
    sheet = torch.zeros(4, nrow * (h + pad) + pad, ncol * (w + pad) + pad, dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        sheet[:, y : y + h, x : x + w] = images[i]
    rgba = Image.fromarray(sheet.permute(1, 2, 0).numpy(), mode="RGBA")
    if background == "transparent":
        return rgba
    if background == "checker":
        base = checkerboard(rgba.height, rgba.width, max(4, 4 * scale))
    elif background in ("white", "black"):
        base = np.full((rgba.height, rgba.width, 3), 255 if background == "white" else 0, np.uint8)
    else:
        raise ValueError(f"unknown background {background!r}")
    out = Image.fromarray(base, mode="RGB").convert("RGBA")
    out.alpha_composite(rgba)
    return out.convert("RGB")


def save_png(image: Image.Image, path: Path) -> None:
    """Save a PNG atomically (temporary name, then rename) so a killed process leaves no half file."""
    storage.atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))
