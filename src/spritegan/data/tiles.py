"""The built-in tile set: procedural, seamless RGB pixel-art ground tiles with a `material` label.

Every tile is drawn on a torus: its noise fields are interpolated on grids that wrap, its shapes (blades,
stones, ripples, bricks, planks) are placed with coordinates taken modulo the tile size, and the finished tile
is rolled by a random offset. So each tile repeats without a seam, and across the set the wrap-around boundary
is statistically one more interior boundary (`spritegan.metrics.tiles` measures exactly that). Each material
draws from its own 4-5 colour palette, so every pixel is a palette colour. Tile i comes from the seed
(seed, i) alone: the first N tiles of a larger set are the N tiles of a smaller one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SIZES = (16, 24, 32)  # tile sizes the patterns divide into (bricks are 8 px long, courses 4 px high)
DEFAULT_SIZE = 16

PALETTES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "grass": ((40, 96, 44), (66, 132, 56), (104, 172, 70), (146, 204, 92), (236, 220, 92)),
    "stone": ((50, 50, 58), (98, 98, 108), (132, 132, 142), (170, 170, 178)),
    "water": ((28, 66, 146), (42, 100, 188), (88, 148, 220), (188, 222, 248)),
    "sand": ((192, 160, 100), (220, 190, 126), (240, 216, 158), (166, 132, 88)),
    "brick": ((178, 168, 148), (124, 42, 34), (162, 60, 44), (194, 88, 60)),
    "dirt": ((80, 54, 34), (110, 76, 46), (138, 98, 62), (150, 140, 128)),
    "planks": ((66, 42, 22), (124, 82, 44), (154, 106, 58), (184, 134, 78)),
    "lava": ((58, 20, 16), (148, 30, 12), (230, 98, 20), (252, 198, 58)),
    "snow": ((172, 192, 222), (206, 220, 240), (238, 244, 252), (255, 255, 255)),
}
MATERIALS = tuple(PALETTES)


def _noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth value noise in [0, 1) on a torus: random values on a cells x cells grid that wraps, smoothstep-
    interpolated to size x size (size a multiple of cells), so the field continues across every edge."""
    grid = rng.random((cells, cells))
    t = (np.arange(size) + 0.5) * cells / size - 0.5
    i0 = np.floor(t).astype(int)
    f = t - i0
    f = f * f * (3 - 2 * f)
    i0, i1 = i0 % cells, (i0 + 1) % cells
    rows = grid[i0] * (1 - f)[:, None] + grid[i1] * f[:, None]  # (size, cells)
    return rows[:, i0] * (1 - f)[None, :] + rows[:, i1] * f[None, :]


def _field(rng: np.random.Generator, size: int) -> np.ndarray:
    """Two octaves of torus noise (cells of 4 and 2 px)."""
    return _noise(rng, size, size // 4) + 0.5 * _noise(rng, size, size // 2)


def _levels(field: np.ndarray, shares: list[float], rng: np.random.Generator) -> np.ndarray:
    """Quantise a field into len(shares) levels holding about those shares of the pixels (jittered)."""
    cuts = np.cumsum(shares)[:-1] / sum(shares)
    cuts = np.clip(cuts + rng.uniform(-0.06, 0.06, len(cuts)), 0.02, 0.98)
    return np.searchsorted(np.quantile(field, np.sort(cuts)), field, side="right")


def _put(tile: np.ndarray, ys, xs, colour: int) -> None:
    """Set pixels at (ys, xs) taken modulo the tile size: shapes that cross an edge continue on the other side."""
    s = tile.shape[0]
    tile[np.asarray(ys) % s, np.asarray(xs) % s] = colour


def _grass(rng: np.random.Generator, s: int) -> np.ndarray:
    tile = _levels(_field(rng, s), [0.35, 0.65], rng)  # dark / mid
    for _ in range(rng.integers(s * s // 20, s * s // 10)):
        y, x, length = rng.integers(s), rng.integers(s), rng.integers(2, 4)
        _put(tile, y - np.arange(length), [x] * length, 2)  # a blade, light
        _put(tile, [y - length], [x], 3)  # its tip
    for _ in range(rng.binomial(2, 0.25)):
        _put(tile, [rng.integers(s)], [rng.integers(s)], 4)  # a flower
    return tile


def _torus_distance(points: np.ndarray, s: int) -> np.ndarray:
    """(K, s, s) distances from every pixel centre to each point, measured on the torus."""
    yy, xx = np.mgrid[0:s, 0:s] + 0.5
    dy = np.abs(yy[None] - points[:, 0, None, None])
    dx = np.abs(xx[None] - points[:, 1, None, None])
    return np.hypot(np.minimum(dy, s - dy), np.minimum(dx, s - dx))


def _stone(rng: np.random.Generator, s: int) -> np.ndarray:
    k = int(rng.integers(s * s // 64, s * s // 32 + 1))  # 4-8 stones on a 16 px tile
    dist = _torus_distance(rng.random((k, 2)) * s, s)
    nearest, ranked = np.argmin(dist, axis=0), np.sort(dist, axis=0)
    tile = rng.choice([1, 2, 3], size=k, p=[0.25, 0.5, 0.25])[nearest]
    mortar = (ranked[1] - ranked[0]) < 1.0  # pixels about as near to two stones: the joint
    tile[np.roll(mortar, 1, axis=0) & ~mortar] = 1  # the row under a joint is in shade
    tile[mortar] = 0
    return tile


def _water(rng: np.random.Generator, s: int) -> np.ndarray:
    tile = _levels(_field(rng, s), [0.4, 0.6], rng)  # deep / mid
    for _ in range(rng.integers(s // 4, s // 2 + 1)):
        y, x, length = rng.integers(s), rng.integers(s), rng.integers(2, 6)
        _put(tile, [y] * length, x + np.arange(length), 2)  # a ripple crest
        if rng.random() < 0.4:
            _put(tile, [y], [x + length // 2], 3)  # foam
    return tile


def _sand(rng: np.random.Generator, s: int) -> np.ndarray:
    yy, xx = np.mgrid[0:s, 0:s]
    kx, ky = rng.integers(1, 3), rng.integers(2, 4) * rng.choice([-1, 1])
    wind = np.sin(2 * np.pi * (kx * xx + ky * yy) / s + rng.uniform(0, 2 * np.pi))  # wraps: whole periods
    tile = _levels(0.8 * wind + _field(rng, s), [0.25, 0.5, 0.25], rng)
    for _ in range(rng.integers(0, 4)):
        _put(tile, [rng.integers(s)], [rng.integers(s)], 3)  # a pebble
    return tile


def _brick(rng: np.random.Generator, s: int, course: int = 4, length: int = 8) -> np.ndarray:
    yy, xx = np.mgrid[0:s, 0:s]
    row = yy // course
    shifted = xx + (row % 2) * (
        length // 2
    )  # every other course offset by half a brick (s // course is even)
    brick_id = row * (s // length + 1) + (shifted // length) % (s // length)
    colours = rng.choice([1, 2, 3], size=int(brick_id.max()) + 1, p=[0.25, 0.55, 0.2])
    tile = colours[brick_id]
    speck = rng.random((s, s)) < 0.05
    tile[speck] = 1
    tile[(yy % course == course - 1) | (shifted % length == length - 1)] = 0
    return tile


def _dirt(rng: np.random.Generator, s: int) -> np.ndarray:
    tile = _levels(_field(rng, s), [0.3, 0.45, 0.25], rng)
    for _ in range(rng.integers(1, 5)):
        y, x = rng.integers(s), rng.integers(s)
        width = rng.integers(1, 3)
        _put(tile, [y] * width, x + np.arange(width), 3)  # a pebble
        _put(tile, [y + 1] * width, x + np.arange(width), 0)  # its shadow
    return tile


def _planks(rng: np.random.Generator, s: int, width: int = 4) -> np.ndarray:
    tile = np.empty((s, s), dtype=np.int64)
    for p in range(s // width):
        cols = slice(p * width, (p + 1) * width - 1)
        tile[:, cols] = rng.choice([2, 3], p=[0.6, 0.4])
        tile[:, (p + 1) * width - 1] = 0  # the gap between planks
        for _ in range(rng.integers(1, 4)):  # grain: dark streaks along the plank
            y, x, length = rng.integers(s), p * width + rng.integers(width - 1), rng.integers(3, s // 2)
            _put(tile, y + np.arange(length), [x] * length, 1)
        if rng.random() < 0.7:  # a plank end
            _put(tile, [rng.integers(s)] * (width - 1), p * width + np.arange(width - 1), 0)
    return tile.T if rng.random() < 0.5 else tile


def _lava(rng: np.random.Generator, s: int) -> np.ndarray:
    return _levels(_field(rng, s), [0.2, 0.3, 0.35, 0.15], rng)


def _snow(rng: np.random.Generator, s: int) -> np.ndarray:
    tile = _levels(_field(rng, s), [0.12, 0.3, 0.58], rng)
    for _ in range(rng.integers(1, 5)):
        _put(tile, [rng.integers(s)], [rng.integers(s)], 3)  # a sparkle
    return tile


DRAW: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "grass": _grass,
    "stone": _stone,
    "water": _water,
    "sand": _sand,
    "brick": _brick,
    "dirt": _dirt,
    "planks": _planks,
    "lava": _lava,
    "snow": _snow,
}


def make_tile(material: str, seed: int | tuple[int, ...], size: int = DEFAULT_SIZE) -> np.ndarray:
    """One seamless tile of `material`, uint8 (size, size, 3), every pixel a colour of PALETTES[material]."""
    if size not in SIZES:
        raise ValueError(f"tile size {size}: choose from {', '.join(map(str, SIZES))}")
    rng = np.random.default_rng(seed)
    index = DRAW[material](rng, size)
    index = np.roll(index, (int(rng.integers(size)), int(rng.integers(size))), axis=(0, 1))
    return np.array(PALETTES[material], dtype=np.uint8)[index]


def make_tiles(n: int, seed: int = 0, size: int = DEFAULT_SIZE) -> tuple[np.ndarray, list[str]]:
    """n tiles, uint8 (n, size, size, 3), materials in turn (tile i is MATERIALS[i % 9]), and their materials."""
    materials = [MATERIALS[i % len(MATERIALS)] for i in range(n)]
    tiles = [make_tile(m, (seed, i), size) for i, m in enumerate(materials)]
    return np.stack(tiles) if tiles else np.zeros((0, size, size, 3), np.uint8), materials


def tile_repeat(images, k: int):
    """Each (C, H, W) image of a (N, C, H, W) batch (numpy or torch) repeated k x k: (N, C, kH, kW)."""
    if k < 1:
        raise ValueError(f"tile repeat {k}: must be at least 1")
    if isinstance(images, np.ndarray):
        return np.tile(images, (1, 1, k, k))
    return images.repeat(1, 1, k, k)
