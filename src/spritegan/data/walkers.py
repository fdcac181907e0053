"""The built-in walkers: procedural 16x16 RGBA characters in 4 facing directions with a 4-frame walk cycle.

A character is a set of traits in the vocabulary and palette of the built-in sprites (`procedural`): skin,
hair style and colour, outfit and its colour, one accessory. Each frame is drawn as a map of roles (outline,
skin, hair, cloth, boots, ...) that depends on the hair style, outfit, accessory, direction and frame only,
then coloured: skin, hair and cloth roles take the colour of the character's trait value, every other role
one fixed colour. Every colour belongs to one role and one trait value, and the 768 role maps (48 shapes x
16 poses) are all different and show every colour trait, so `read_frame` decodes any frame exactly: traits,
direction and frame. A character's sheet is 4 rows (directions) x 4 columns (frames), 64x64.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from spritegan.data import procedural

SIZE = 16  # frame side in pixels
DIRECTIONS = ("down", "left", "right", "up")  # sheet rows, top to bottom (also their alphabetical order)
FRAMES = 4  # walk-cycle frames, sheet columns: contact, passing (bob up), other contact, other passing
SHEET_SIZE = (SIZE * len(DIRECTIONS), SIZE * FRAMES)  # (height, width) of a character's sheet

TRAITS: dict[str, tuple[str, ...]] = {
    "skin": procedural.TRAITS["skin"],
    "hair": ("short", "long", "ponytail", "spiky"),
    "hair_colour": procedural.TRAITS["hair_colour"],
    "outfit": ("shirt", "robe", "armor"),
    "outfit_colour": procedural.TRAITS["outfit_colour"],
    "accessory": ("none", "hat", "crown", "cape"),
}
N_COMBINATIONS = int(np.prod([len(v) for v in TRAITS.values()]))
SHAPE_TRAITS = ("hair", "outfit", "accessory")  # drawn as role maps; the rest only colour them

# Roles with one colour, taken from the built-in sprites' palette ("cape" wears their shield colour).
_FIXED = {
    "clear": "clear",
    "outline": "outline",
    "pants": "pants",
    "boots": "boots",
    "metal": "metal",
    "metal_dark": "metal_dark",
    "hat": "hat",
    "hat_band": "hat_band",
    "gold": "gold",
    "gold_dark": "gold_dark",
    "cape": "shield",
}
# Roles coloured by a trait: role -> (trait, the built-in sprites' colour list, which entry of a pair).
_COLOURED = {
    "skin": ("skin", procedural._SKIN, None),
    "hair": ("hair_colour", procedural._HAIR, 0),
    "hair_hi": ("hair_colour", procedural._HAIR, 1),
    "cloth": ("outfit_colour", procedural._OUTFIT, 0),
    "cloth_dark": ("outfit_colour", procedural._OUTFIT, 1),
}
ROLES = tuple(_FIXED) + tuple(_COLOURED)
_R = {name: i for i, name in enumerate(ROLES)}


def _build_palette() -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[tuple[str, int], int]]:
    """Palette (P, 4), each colour's role (P,), its trait value index or -1 (P,), and (role, value) -> colour."""
    colours, roles, values, where = [], [], [], {}
    for role, name in _FIXED.items():
        where[(role, -1)] = len(colours)
        colours.append(procedural._NAMED[name])
        roles.append(_R[role])
        values.append(-1)
    for role, (_, table, part) in _COLOURED.items():
        for v, entry in enumerate(table):
            where[(role, v)] = len(colours)
            colours.append(tuple(entry if part is None else entry[part]) + (255,))
            roles.append(_R[role])
            values.append(v)
    return (
        np.array(colours, np.uint8),
        np.array(roles, np.uint8),
        np.array(values, np.int64),
        where,
    )


PALETTE, _ROLE_OF, _VALUE_OF, _COLOUR = _build_palette()
_KEY = np.array([24, 16, 8, 0], dtype=np.uint32)
_INDEX_OF_KEY = {int(k): i for i, k in enumerate((PALETTE.astype(np.uint32) << _KEY).sum(1))}
assert len(_INDEX_OF_KEY) == len(PALETTE), "every walker colour must be distinct"


def _put(c: np.ndarray, ys, xs, role: str) -> None:
    """Paint role on rows ys x columns xs (ints or inclusive (first, last) pairs), clipped to the frame."""
    y0, y1 = (ys, ys) if isinstance(ys, int) else ys
    x0, x1 = (xs, xs) if isinstance(xs, int) else xs
    c[max(y0, 0) : y1 + 1, max(x0, 0) : x1 + 1] = _R[role]


def _head(c: np.ndarray, top: int, view: str, hair: str) -> None:
    """Head box rows top..top+6, columns 4..11, with the face (front, side) and the hair style."""
    _put(c, top, (5, 10), "outline")
    _put(c, (top + 1, top + 5), 4, "outline")
    _put(c, (top + 1, top + 5), 11, "outline")
    _put(c, (top + 1, top + 5), (5, 10), "skin")
    _put(c, top + 6, (5, 10), "outline")
    _put(c, top, (5, 10), "hair")
    if view == "front":
        _put(c, top + 4, 6, "outline")  # eyes
        _put(c, top + 4, 9, "outline")
        _put(c, top + 1, (5, 10), "hair")
        _put(c, top + 1, 7, "hair_hi")
        if hair == "short":
            _put(c, top + 2, 5, "hair")
            _put(c, top + 2, 10, "hair")
        elif hair == "long":
            _put(c, (top + 1, top + 6), 4, "hair")
            _put(c, (top + 1, top + 6), 11, "hair")
        elif hair == "ponytail":
            _put(c, top + 2, 5, "hair")
            _put(c, (top + 1, top + 3), 12, "hair")
        else:  # spiky: spikes on top, a jagged fringe
            for x in (5, 7, 9):
                _put(c, top - 1, x, "hair")
            _put(c, top + 2, 6, "hair")
            _put(c, top + 2, 8, "hair")
    elif view == "back":
        _put(c, (top + 1, top + 4), (5, 10), "hair")
        _put(c, top + 1, 7, "hair_hi")
        if hair == "long":
            _put(c, (top + 5, top + 8), (5, 10), "hair")
        elif hair == "ponytail":
            _put(c, (top + 5, top + 8), (7, 8), "hair")
        elif hair == "spiky":
            for x in (5, 7, 9):
                _put(c, top - 1, x, "hair")
                _put(c, top + 5, x, "hair")
    else:  # side, facing left: face on the left, the back of the head on the right
        _put(c, top + 4, 5, "outline")
        _put(c, (top + 1, top + 4), (8, 10), "hair")
        _put(c, top + 1, 9, "hair_hi")
        if hair == "short":
            _put(c, top + 1, (5, 6), "hair")
        elif hair == "long":
            _put(c, top + 1, 5, "hair")
            _put(c, (top + 1, top + 7), (9, 11), "hair")
        elif hair == "ponytail":
            _put(c, top + 1, (5, 6), "hair")
            _put(c, (top + 2, top + 5), 12, "hair")
        else:
            for x in (6, 8, 10):
                _put(c, top - 1, x, "hair")
            _put(c, top + 1, 5, "hair")
            _put(c, top + 2, 6, "hair")


def _headwear(c: np.ndarray, top: int, accessory: str) -> None:
    if accessory == "hat":
        _put(c, top - 1, (5, 10), "hat")
        _put(c, top, (3, 12), "hat_band")
    elif accessory == "crown":
        _put(c, top, (5, 10), "gold")
        for x in (5, 8, 10):
            _put(c, top - 1, x, "gold_dark")


def _torso(c: np.ndarray, top: int, x0: int, x1: int, outfit: str) -> None:
    """Torso rows top+7..top+9 and the belt row top+10 between columns x0..x1."""
    if outfit == "armor":
        _put(c, (top + 7, top + 9), (x0, x1), "metal")
        _put(c, top + 7, (x0, x1), "metal_dark")
        _put(c, top + 10, (x0, x1), "cloth")
    else:
        _put(c, (top + 7, top + 9), (x0, x1), "cloth")
        _put(c, top + 10, (x0, x1), "cloth_dark")


def _leg(
    c: np.ndarray, top: int, x0: int, x1: int, lifted: bool, boot: tuple[int, int] | None = None
) -> None:
    """A leg from under the belt down to row 14 (13 when lifted), its boot on row 15 (14)."""
    bottom = 14 if lifted else 15
    _put(c, (top + 11, bottom - 1), (x0, x1), "pants")
    _put(c, bottom, boot or (x0, x1), "boots")


def _arm(c: np.ndarray, top: int, x: int, forward: bool, outfit: str) -> None:
    """A front/back-view arm at column x: sleeve, then the hand; a forward arm reaches one row lower."""
    sleeve = "metal_dark" if outfit == "armor" else "cloth_dark"
    low = top + 9 if forward else top + 8
    _put(c, (top + 7, low), x, sleeve)
    _put(c, low + 1, x, "skin")


def render_roles(hair: str, outfit: str, accessory: str, direction: str, frame: int) -> np.ndarray:
    """The role map (16, 16) of a shape in a pose: uint8 indices into ROLES, 0 the transparent background."""
    if direction == "right":
        return render_roles(hair, outfit, accessory, "left", frame)[:, ::-1].copy()
    c = np.zeros((SIZE, SIZE), np.uint8)
    passing = frame in (1, 3)
    top = 1 if passing else 2  # the body bobs up one pixel while a leg passes
    view = {"down": "front", "up": "back", "left": "side"}[direction]
    if view == "side":
        if accessory == "cape":
            _put(c, (top + 7, top + 11), 10, "cape")
        if passing:  # the lifted leg (in front in frame 1, behind in frame 3), then the standing one
            _leg(c, top, *((6, 7) if frame == 1 else (8, 9)), True, (5, 6) if frame == 1 else (9, 10))
            _leg(c, top, 7, 8, False, (6, 8))
        else:
            _leg(c, top, 5, 6, False, (4, 6))
            _leg(c, top, 9, 10, False)
        _torso(c, top, 6, 9, outfit)
        if outfit == "robe":
            _put(c, (top + 11, top + 12), (5, 10), "cloth")
        sleeve = "metal_dark" if outfit == "armor" else "cloth_dark"
        arm = {0: (6, 7), 2: (8, 9)}.get(frame, (7, 8))
        _put(c, (top + 7, top + 8), arm, sleeve)
        _put(c, top + 9, {0: 5, 2: 10}.get(frame, arm), "skin")
    else:
        if passing:
            lifted_left = (frame == 1) == (view == "front")
            _leg(c, top, 6, 7, lifted_left)
            _leg(c, top, 8, 9, not lifted_left)
        else:
            _leg(c, top, 5, 6, False)
            _leg(c, top, 9, 10, False)
        _torso(c, top, 5, 10, outfit)
        if outfit == "robe":
            _put(c, (top + 11, top + 12), (5, 10), "cloth")
        _arm(c, top, 4, frame == 0, outfit)
        _arm(c, top, 11, frame == 2, outfit)
        if outfit == "shirt" and view == "front":
            _put(c, top + 7, (7, 8), "skin")
        if accessory == "cape":
            if view == "back":
                _put(c, (top + 7, top + 9), (5, 10), "cape")
            else:
                _put(c, top + 7, 5, "cape")
                _put(c, top + 7, 10, "cape")
    _head(c, top, view, hair)
    _headwear(c, top, accessory)
    return c


def _check(traits: dict[str, str], direction: str, frame: int) -> None:
    if set(traits) != set(TRAITS):
        raise ValueError(f"traits must have exactly the keys {list(TRAITS)}, got {sorted(traits)}")
    for name, value in traits.items():
        if value not in TRAITS[name]:
            raise ValueError(f"unknown {name} {value!r}; choose from {', '.join(TRAITS[name])}")
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; choose from {', '.join(DIRECTIONS)}")
    if frame not in range(FRAMES):
        raise ValueError(f"frame {frame!r}: choose 0 to {FRAMES - 1}")


def _colour_table(traits: dict[str, str]) -> np.ndarray:
    """Role -> palette index for a character."""
    table = np.zeros(len(ROLES), np.uint8)
    for role in _FIXED:
        table[_R[role]] = _COLOUR[(role, -1)]
    for role, (trait, _, _) in _COLOURED.items():
        table[_R[role]] = _COLOUR[(role, TRAITS[trait].index(traits[trait]))]
    return table


def render_frame(traits: dict[str, str], direction: str, frame: int) -> np.ndarray:
    """One frame of a character: uint8 (16, 16, 4) RGBA, transparent (0, 0, 0, 0) background."""
    _check(traits, direction, frame)
    roles = render_roles(traits["hair"], traits["outfit"], traits["accessory"], direction, frame)
    return PALETTE[_colour_table(traits)[roles]]


def render_sheet(traits: dict[str, str]) -> np.ndarray:
    """A character's 16 frames as one uint8 (64, 64, 4) sheet: rows DIRECTIONS, columns frames 0-3."""
    rows = [np.concatenate([render_frame(traits, d, f) for f in range(FRAMES)], 1) for d in DIRECTIONS]
    return np.concatenate(rows, 0)


def sheet_frames(sheets: np.ndarray, rows: int = len(DIRECTIONS), cols: int = FRAMES) -> np.ndarray:
    """Cut (N, H, W, C) sheets into their frames, (N, rows * cols, H / rows, W / cols, C), row by row."""
    n, h, w, ch = sheets.shape
    if h % rows or w % cols:
        raise ValueError(f"a {w}x{h} sheet does not split into {cols}x{rows} frames")
    cells = sheets.reshape(n, rows, h // rows, cols, w // cols, ch).transpose(0, 1, 3, 2, 4, 5)
    return cells.reshape(n, rows * cols, h // rows, w // cols, ch)


def traits_from_index(index: int) -> dict[str, str]:
    """The character with this number in [0, N_COMBINATIONS) (mixed radix, last trait fastest)."""
    if not 0 <= index < N_COMBINATIONS:
        raise ValueError(f"character index must be in [0, {N_COMBINATIONS}), got {index}")
    out: dict[str, str] = {}
    for name in reversed(TRAITS):
        index, k = divmod(index, len(TRAITS[name]))
        out[name] = TRAITS[name][k]
    return {name: out[name] for name in TRAITS}


def make_walkers(n: int, seed: int = 0) -> tuple[np.ndarray, list[dict[str, str]]]:
    """n characters' sheets, uint8 (n, 64, 64, 4), and their traits: distinct while n <= N_COMBINATIONS, and
    the first n of a larger set are the n of a smaller one (a random order of all characters, from the seed)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(N_COMBINATIONS)
    picks = order[:n] if n <= N_COMBINATIONS else np.concatenate([order, rng.choice(order, n - len(order))])
    traits = [traits_from_index(int(i)) for i in picks]
    sheets = np.zeros((n, *SHEET_SIZE, 4), np.uint8)
    for k, t in enumerate(traits):
        sheets[k] = render_sheet(t)
    return sheets, traits


SHAPES = list(itertools.product(*(TRAITS[name] for name in SHAPE_TRAITS)))
POSES = [(d, f) for d in DIRECTIONS for f in range(FRAMES)]


@functools.cache
def _role_maps() -> tuple[np.ndarray, dict[bytes, int]]:
    """Every (shape, pose) role map, (len(SHAPES) * 16, 256) with pose fastest, and map bytes -> its row."""
    maps = np.stack([render_roles(*s, d, f).reshape(-1) for s in SHAPES for d, f in POSES])
    return maps, {m.tobytes(): i for i, m in enumerate(maps)}


@functools.cache
def _role_maps_t() -> np.ndarray:
    """The role maps pixel-major, (256, 768): nearest_frame gathers whole rows."""
    return np.ascontiguousarray(_role_maps()[0].T)


def _decode_row(row: int, values: dict[str, int]) -> tuple[dict[str, str], str, int]:
    shape, pose = divmod(row, len(POSES))
    t = dict(zip(SHAPE_TRAITS, SHAPES[shape], strict=True))
    t.update({name: TRAITS[name][v] for name, v in values.items()})
    direction, frame = POSES[pose]
    return {name: t[name] for name in TRAITS}, direction, frame


def read_frame(image: np.ndarray) -> tuple[dict[str, str], str, int] | None:
    """Decode (traits, direction, frame) of a frame exactly from its pixels; None when it is not a walker frame."""
    if not isinstance(image, np.ndarray) or image.shape != (SIZE, SIZE, 4) or image.dtype != np.uint8:
        return None
    keys = (image.astype(np.uint32) << _KEY).sum(-1).reshape(-1)
    uniq, inverse = np.unique(keys, return_inverse=True)
    found = [_INDEX_OF_KEY.get(int(k)) for k in uniq]
    if any(i is None for i in found):
        return None
    index = np.array(found, np.int64)[inverse.reshape(-1)]
    values: dict[str, int] = {}
    for p in np.unique(index):
        v = int(_VALUE_OF[p])
        if v >= 0:
            trait = _COLOURED[ROLES[_ROLE_OF[p]]][0]
            if values.setdefault(trait, v) != v:
                return None  # two values of one colour trait
    row = _role_maps()[1].get(_ROLE_OF[index].astype(np.uint8).tobytes())
    if row is None or len(values) != len(_COLOURED_TRAITS):
        return None
    return _decode_row(row, values)


_COLOURED_TRAITS = tuple(dict.fromkeys(trait for trait, _, _ in _COLOURED.values()))
# each palette colour's colour trait (its index in _COLOURED_TRAITS), -1 for fixed roles; each trait's first
# column in nearest_frame's counts (column 0: the fixed roles), and the end
_TRAIT_OF = np.array(
    [
        _COLOURED_TRAITS.index(_COLOURED[ROLES[r]][0]) if v >= 0 else -1
        for r, v in zip(_ROLE_OF, _VALUE_OF, strict=True)
    ]
)
_TRAIT_START = np.cumsum([1] + [len(TRAITS[t]) for t in _COLOURED_TRAITS])


_RGB_ORDER = np.argsort((PALETTE[1:, :3].astype(np.uint32) << _KEY[:3]).sum(-1))  # opaque colours by RGB key
_RGB_KEYS = (PALETTE[1:, :3].astype(np.uint32) << _KEY[:3]).sum(-1)[_RGB_ORDER]


def snap_to_palette(image: np.ndarray) -> np.ndarray:
    """Palette indices (16, 16) of an RGBA uint8 frame: alpha < 128 is background, else the nearest RGB colour."""
    if not isinstance(image, np.ndarray) or image.shape != (SIZE, SIZE, 4):
        raise ValueError(f"expected a ({SIZE}, {SIZE}, 4) RGBA array, got {getattr(image, 'shape', None)}")
    opaque = (image[..., :3].astype(np.uint32) << _KEY[:3]).sum(-1).reshape(-1)
    at = np.clip(np.searchsorted(_RGB_KEYS, opaque), 0, len(_RGB_KEYS) - 1)
    nearest = _RGB_ORDER[at] + 1  # exact palette colours by lookup, the rest by distance
    off = np.nonzero(_RGB_KEYS[at] != opaque)[0]
    if len(off):
        rgb = image[..., :3].reshape(-1, 3)[off, None].astype(np.int32)
        nearest[off] = 1 + ((rgb - PALETTE[1:, :3].astype(np.int32)[None]) ** 2).sum(-1).argmin(1)
    nearest[image[..., 3].reshape(-1) < 128] = 0
    return nearest.astype(np.int64)


def nearest_frame(image: np.ndarray) -> tuple[dict[str, str], str, int, float]:
    """The valid frame closest to `image` (after snapping it to the palette): traits, direction, frame and the
    share of pixels on which the two agree (1.0: exactly that frame). Exhaustive over all 768 shapes and
    poses; for each, the colour traits are chosen independently (each colours its own roles), so the match
    is the true nearest, not a local search."""
    maps, _ = _role_maps()
    maps_t = _role_maps_t()
    idx = snap_to_palette(image)
    # every pixel counts for one column: the fixed roles (0) or one value of one colour trait
    column = np.where(_VALUE_OF[idx] < 0, 0, _TRAIT_START[_TRAIT_OF[idx]] + _VALUE_OF[idx])
    order = np.argsort(column, kind="stable")
    starts = np.searchsorted(column[order], np.arange(_TRAIT_START[-1]))
    same_role = np.zeros((SIZE * SIZE + 1, len(maps)), bool)  # a last row of zeros ends the last segment
    same_role[:-1] = maps_t[order] == _ROLE_OF[idx][order][:, None]  # pixel (sorted) x map: the pixel's role
    counts = np.add.reduceat(same_role, starts, axis=0, dtype=np.int32).T  # (768, columns): pixels matched
    counts[:, starts == np.append(starts[1:], SIZE * SIZE)] = 0  # reduceat gives one row for empty segments
    score, best_values, at = counts[:, 0], {}, 1
    for trait in _COLOURED_TRAITS:
        per_value = counts[:, at : at + len(TRAITS[trait])]
        at += len(TRAITS[trait])
        best_values[trait] = per_value.argmax(1)
        score = score + per_value.max(1)
    row = int(np.argmax(score))
    traits, direction, frame = _decode_row(row, {t: int(v[row]) for t, v in best_values.items()})
    return traits, direction, frame, float(score[row]) / (SIZE * SIZE)


BUILTIN_DEFAULT_N = 4096  # characters in builtin:walkers (sheets) and builtin:walker-frames (16 frames each)
SHEET_LAYOUT = {
    "rows": list(DIRECTIONS),
    "columns": [str(f) for f in range(FRAMES)],
    "frame_size": [SIZE, SIZE],
}


def _labels(traits: list[dict[str, str]], extra: dict[str, list[str]] | None = None) -> dict:
    """Categorical label columns (classes sorted) for the traits, plus extra columns of text values."""
    columns, values = {}, {}
    table = {name: [t[name] for t in traits] for name in TRAITS} | (extra or {})
    for name, raw in table.items():
        classes = sorted(set(TRAITS.get(name, raw)))
        columns[name] = {"kind": "categorical", "classes": classes}
        values[name] = np.array([classes.index(v) for v in raw], dtype=np.int64)
    return {"columns": columns, "values": values}


def builtin(spec: str) -> dict:
    """builtin:walkers[:N] (N sheets labelled with traits) or builtin:walker-frames[:N] (16 N frames labelled
    with traits, direction and frame): images (uint8, NHWC RGBA), names, labels and the sheet layout."""
    from spritegan.errors import DataError

    parts = spec.split(":")
    if len(parts) > 3 or (len(parts) == 3 and not parts[2].isdigit()):
        raise DataError(f"{spec}: use builtin:walkers[:N] or builtin:walker-frames[:N] (N characters)")
    n = int(parts[2]) if len(parts) == 3 else BUILTIN_DEFAULT_N
    if n <= 0:
        raise DataError(f"{spec}: the number of characters must be positive")
    sheets, traits = make_walkers(n, seed=0)
    if parts[1] == "walkers":
        names = [f"char{i}" for i in range(n)]
        return {"images": sheets, "names": names, "labels": _labels(traits), "sheet": dict(SHEET_LAYOUT)}
    frames = sheet_frames(sheets).reshape(n * len(POSES), SIZE, SIZE, 4)
    every = [t for t in traits for _ in POSES]
    extra = {
        "direction": [d for _ in traits for d, _ in POSES],
        "frame": [str(f) for _ in traits for _, f in POSES],
    }
    names = [f"char{i}/{d}-{f}" for i in range(n) for d, f in POSES]
    return {"images": frames, "names": names, "labels": _labels(every, extra), "sheet": None}
