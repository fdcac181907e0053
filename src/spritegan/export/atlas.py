"""Texture atlases for game engines: sprites packed into one PNG, described in two JSON layouts.

Both layouts name each frame's rectangle in the PNG with the same fields; neither rotates nor trims
(every frame is the whole sprite canvas, so `spriteSourceSize` is the full frame and `sourceSize` its size).

- TexturePacker "JSON (Hash)": `frames` keyed by frame name, each `{frame: {x, y, w, h}, rotated,
  trimmed, spriteSourceSize: {x, y, w, h}, sourceSize: {w, h}}`; `meta: {app, version, image, format,
  size: {w, h}, scale}` with `scale` a string ("1") as TexturePacker writes it; and, for animations, a
  top-level `animations: {name: [frame names]}`. Followed: TexturePacker's data-format documentation
  (codeandweb.com/texturepacker/documentation/file-formats) and the two loaders that read the layout:
  PixiJS `Spritesheet` (`SpritesheetData`/`SpritesheetFrameData` in pixijs src/spritesheet/Spritesheet.ts:
  `parseFloat(meta.scale)` is the resolution, `animations` lists frame names) and Phaser's
  `Textures.Parsers.JSONHash` (phaser src/textures/parsers/JSONHash.js).
- Aseprite's sprite-sheet data as `aseprite --format json-array --list-tags` writes it (aseprite.org/docs/cli,
  options --data, --format, --list-tags; the writer is `DocExporter::createDataFile` in aseprite
  src/app/doc_exporter.cpp): `frames` a list of `{filename, frame, rotated, trimmed, spriteSourceSize,
  sourceSize, duration}` (duration in milliseconds), `meta: {app, version, image, format: "RGBA8888",
  size, scale: "1", frameTags: [{name, from, to, direction}]}`, `from`/`to` inclusive frame indices and
  `direction` one of forward, reverse, pingpong, pingpong_reverse. The array layout keeps frame names in
  order and still loads in Phaser's `anims.createFromAseprite`, which looks frames up as `frames["0"]`.

Packing is a deterministic shelf packer: frames sorted by height (ties keep input order), placed left to
right on shelves about as wide as the square root of their total area, `padding` transparent pixels
between frames and around the border, and optionally `extrude` pixels of each frame's edge repeated
outwards (against bleeding under linear filtering; the rectangles still name the sprite alone).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from spritegan import __version__, storage

APP = "spritegan"
DIRECTIONS = ("forward", "reverse", "pingpong", "pingpong_reverse")  # Aseprite's tag directions
MAX_SIDE = 16384  # largest atlas side written; engines' texture limits are 4096-16384


@dataclass(frozen=True)
class Tag:
    """An animation: frames `start`..`end` (inclusive, in atlas order) played in `direction`."""

    name: str
    start: int
    end: int
    direction: str = "forward"


@dataclass
class Atlas:
    """The packed RGBA image (H, W, 4) and each frame's name and rectangle (x, y, w, h) in it."""

    image: np.ndarray
    names: list[str]
    rects: list[tuple[int, int, int, int]]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the atlas image."""
        return self.image.shape[1], self.image.shape[0]


def as_rgba(images: Any) -> list[np.ndarray]:
    """Sprites as a list of uint8 (H, W, 4) arrays: a torch tensor (N, C, H, W) (the pipeline's "pt"
    output), a numpy array (N, H, W, C) ("np" output), or a sequence of (C, H, W) tensors or (H, W[, C])
    arrays; C is 1 (grey), 3 (RGB, made opaque) or 4 (RGBA, alpha kept)."""
    if isinstance(images, torch.Tensor):
        if images.ndim != 4:
            raise ValueError(f"a sprite tensor batch is (N, C, H, W); got shape {tuple(images.shape)}")
        images = list(images)
    elif isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise ValueError(f"a sprite array batch is (N, H, W, C); got shape {images.shape}")
        images = list(images)
    out = []
    for i, img in enumerate(images):
        arr = img.permute(1, 2, 0).cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
            raise ValueError(
                f"sprite {i}: expected uint8 with 1, 3 or 4 channels, got {arr.dtype} {arr.shape}"
            )
        if arr.shape[2] == 1:
            arr = arr.repeat(3, axis=2)
        if arr.shape[2] == 3:
            arr = np.concatenate([arr, np.full(arr.shape[:2] + (1,), 255, np.uint8)], axis=2)
        out.append(np.ascontiguousarray(arr))
    return out


def shelf_layout(
    sizes: Sequence[tuple[int, int]], padding: int = 1, extrude: int = 0, max_width: int | None = None
) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """Top-left corners of sprites of `sizes` (w, h) on shelves, and the atlas (width, height); a
    ValueError when a side would pass MAX_SIDE (so a caller can check a size before making sprites)."""
    if padding < 0 or extrude < 0:
        raise ValueError(f"padding {padding} and extrude {extrude} must be 0 or more")
    if not sizes:
        raise ValueError("an atlas needs at least one sprite")
    cells = [(w + 2 * extrude, h + 2 * extrude) for w, h in sizes]
    widest = max(w for w, _ in cells) + 2 * padding
    if max_width is None:
        area = sum((w + padding) * (h + padding) for w, h in cells)
        max_width = max(widest, math.ceil(math.sqrt(area)) + padding)
    elif widest > max_width:
        raise ValueError(
            f"a sprite {widest - 2 * padding} px wide with padding does not fit in {max_width} px"
        )
    corners: list[tuple[int, int]] = [(0, 0)] * len(cells)
    x = y = padding
    shelf = right = 0
    for i in sorted(range(len(cells)), key=lambda i: (-cells[i][1], i)):
        w, h = cells[i]
        if x > padding and x + w + padding > max_width:
            x, y, shelf = padding, y + shelf + padding, 0
        corners[i] = (x + extrude, y + extrude)
        right = max(right, x + w)
        x += w + padding
        shelf = max(shelf, h)
    width, height = right + padding, y + shelf + padding
    if max(width, height) > MAX_SIDE:
        raise ValueError(f"the atlas would be {width}x{height} px, over {MAX_SIDE} px on a side")
    return corners, (width, height)


def pack_atlas(
    images: Any, names: Sequence[str], padding: int = 1, extrude: int = 0, max_width: int | None = None
) -> Atlas:
    """Pack sprites (see `as_rgba`) named `names` (unique) into one RGBA atlas with `shelf_layout`."""
    frames = as_rgba(images)
    names = [str(n) for n in names]
    if len(names) != len(frames):
        raise ValueError(f"{len(frames)} sprites but {len(names)} names")
    if len(set(names)) != len(names):
        raise ValueError("frame names must be unique")
    corners, (width, height) = shelf_layout(
        [(f.shape[1], f.shape[0]) for f in frames], padding, extrude, max_width
    )
    sheet = np.zeros((height, width, 4), np.uint8)  # padding stays transparent black
    rects = []
    for frame, (x, y) in zip(frames, corners, strict=True):
        h, w = frame.shape[:2]
        if extrude:
            grown = np.pad(frame, ((extrude, extrude), (extrude, extrude), (0, 0)), mode="edge")
            sheet[y - extrude : y + h + extrude, x - extrude : x + w + extrude] = grown
        sheet[y : y + h, x : x + w] = frame
        rects.append((x, y, w, h))
    return Atlas(sheet, names, rects)


def _frame_fields(rect: tuple[int, int, int, int]) -> dict[str, Any]:
    """The per-frame fields both layouts share: untrimmed, unrotated."""
    x, y, w, h = rect
    return {
        "frame": {"x": x, "y": y, "w": w, "h": h},
        "rotated": False,
        "trimmed": False,
        "spriteSourceSize": {"x": 0, "y": 0, "w": w, "h": h},
        "sourceSize": {"w": w, "h": h},
    }


def _meta(atlas: Atlas, image_name: str) -> dict[str, Any]:
    width, height = atlas.size
    return {
        "app": APP,
        "version": __version__,
        "image": image_name,
        "format": "RGBA8888",
        "size": {"w": width, "h": height},
        "scale": "1",
    }


def _check_tags(atlas: Atlas, tags: Sequence[Tag]) -> None:
    for t in tags:
        if not 0 <= t.start <= t.end < len(atlas.names):
            raise ValueError(f"tag {t.name!r}: frames {t.start}..{t.end} outside 0..{len(atlas.names) - 1}")
        if t.direction not in DIRECTIONS:
            raise ValueError(
                f"tag {t.name!r}: direction {t.direction!r}; choose from {', '.join(DIRECTIONS)}"
            )


def texturepacker_json(atlas: Atlas, image_name: str, tags: Sequence[Tag] = ()) -> dict[str, Any]:
    """The TexturePacker JSON-hash dict (PixiJS, Phaser); tags become PixiJS `animations` (frame names)."""
    _check_tags(atlas, tags)
    data: dict[str, Any] = {
        "frames": {n: _frame_fields(r) for n, r in zip(atlas.names, atlas.rects, strict=True)}
    }
    if tags:
        data["animations"] = {t.name: atlas.names[t.start : t.end + 1] for t in tags}
    data["meta"] = _meta(atlas, image_name)
    return data


def aseprite_json(
    atlas: Atlas, image_name: str, durations: Sequence[int] | int = 100, tags: Sequence[Tag] = ()
) -> dict[str, Any]:
    """The Aseprite json-array dict with per-frame `duration` (ms; one int for all) and `frameTags`."""
    _check_tags(atlas, tags)
    n = len(atlas.names)
    durations = [durations] * n if isinstance(durations, int) else list(durations)
    if len(durations) != n or any(int(d) != d or d < 1 for d in durations):
        raise ValueError(f"durations: give {n} whole milliseconds of at least 1")
    frames = [
        {"filename": name, **_frame_fields(rect), "duration": int(d)}
        for name, rect, d in zip(atlas.names, atlas.rects, durations, strict=True)
    ]
    meta = _meta(atlas, image_name)
    meta["frameTags"] = [
        {"name": t.name, "from": t.start, "to": t.end, "direction": t.direction} for t in tags
    ]
    return {"frames": frames, "meta": meta}


def atlas_paths(folder: str | Path, stem: str = "atlas") -> tuple[Path, Path, Path]:
    """The three files an atlas is written to: STEM.png, STEM.json (TexturePacker), STEM.aseprite.json."""
    folder = Path(folder)
    return folder / f"{stem}.png", folder / f"{stem}.json", folder / f"{stem}.aseprite.json"


def save_atlas(
    atlas: Atlas,
    folder: str | Path,
    stem: str = "atlas",
    durations: Sequence[int] | int = 100,
    tags: Sequence[Tag] = (),
) -> tuple[Path, Path, Path]:
    """Write the atlas PNG and both JSON files (see `atlas_paths`), each atomically; returns their paths."""
    png, tp, ase = atlas_paths(folder, stem)
    tp_data = texturepacker_json(atlas, png.name, tags)
    ase_data = aseprite_json(atlas, png.name, durations, tags)
    image = Image.fromarray(atlas.image)  # (H, W, 4) uint8: RGBA
    storage.atomic_write(png, lambda tmp: image.save(tmp, format="PNG"))
    storage.atomic_write_text(tp, json.dumps(tp_data, indent=1) + "\n")
    storage.atomic_write_text(ase, json.dumps(ase_data, indent=1) + "\n")
    return png, tp, ase
