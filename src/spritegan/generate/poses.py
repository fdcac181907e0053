"""Character sheets cut back into frames: one generated image is one character's sheet (rows = directions,
columns = walk-cycle frames, the layout in the data manifest's "sheet"), so one seed gives every pose of one
character. Frame names and walk-cycle tags for atlases, and a walk-cycle GIF per character."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from spritegan import storage
from spritegan.generate.postprocess import upscale
from spritegan.generate.sheet import to_pil
from spritegan.tensors import cut_frames

WALK_FRAME_MS = 150  # one walk-cycle frame: about 6.7 frames a second, a common pace for 4-frame walks


def sheet_layout(manifest: dict | None) -> dict | None:
    """The sheet layout of a run's data ({"rows", "columns", "frame_size"}), None for one sprite per image."""
    layout = (manifest or {}).get("sheet")
    return layout if layout and layout.get("rows") and layout.get("columns") else None


def cut_sheets(images: torch.Tensor, layout: dict) -> torch.Tensor:
    """(N, C, H, W) sheets -> (N, rows * columns, C, H / rows, W / columns) frames, row by row."""
    return cut_frames(images, len(layout["rows"]), len(layout["columns"]))


def character_name(seed: int) -> str:
    """The atlas name of the character drawn from `seed`: char-0001."""
    return f"char-{seed:04d}"


def frame_names(seeds: Sequence[int], layout: dict) -> list[str]:
    """Every frame's atlas name, character by character, row by row: char-0001/down-0, char-0001/down-1, ..."""
    return [
        f"{character_name(s)}/{row}-{col}"
        for s in seeds
        for row in layout["rows"]
        for col in layout["columns"]
    ]


def walk_tags(seeds: Sequence[int], layout: dict) -> list[tuple[str, int, int]]:
    """One animation per character and direction: (name char-0001/down, first frame, last frame) in atlas
    order as `frame_names` lists the frames."""
    cols, tags = len(layout["columns"]), []
    for i, s in enumerate(seeds):
        for r, row in enumerate(layout["rows"]):
            start = (i * len(layout["rows"]) + r) * cols
            tags.append((f"{character_name(s)}/{row}", start, start + cols - 1))
    return tags


def walk_gif_frames(frames: torch.Tensor, layout: dict, scale: int = 1, gap: int = 2) -> list[Image.Image]:
    """One character's frames (rows * columns, C, h, w) -> one GIF frame per column: every direction side by
    side, over white (GIFs have no partial alpha)."""
    rows, cols = len(layout["rows"]), len(layout["columns"])
    big = upscale(frames, scale)
    grid = big.reshape(rows, cols, *big.shape[1:])
    h, w = grid.shape[-2:]
    out = []
    for col in range(cols):
        canvas = Image.new("RGBA", (rows * w + (rows - 1) * gap * scale, h), (255, 255, 255, 255))
        for r in range(rows):
            canvas.alpha_composite(to_pil(grid[r, col]).convert("RGBA"), (r * (w + gap * scale), 0))
        out.append(canvas.convert("RGB"))
    return out


def save_walk_gif(frames: torch.Tensor, layout: dict, path: str | Path, scale: int = 1) -> Path:
    """Write one character's walk cycle (see `walk_gif_frames`) as a looping GIF, atomically (Pillow merges
    identical neighbouring frames into one longer frame)."""
    pictures = walk_gif_frames(frames, layout, scale)
    path = Path(path)
    storage.atomic_write(
        path,
        lambda tmp: pictures[0].save(
            tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=WALK_FRAME_MS, loop=0
        ),
    )
    return path
