"""The built-in dataset: procedural 32x32 RGBA pixel-art characters made from named traits.

Every trait draws into known pixels with colours that no other trait uses, so `read_traits` can decode a
sprite exactly (and reject anything that is not a pixel-perfect sprite of this generator).
"""

from __future__ import annotations

import itertools

import numpy as np

SIZE = 32

TRAITS: dict[str, tuple[str, ...]] = {
    "body": ("slim", "stocky", "round"),
    "skin": ("pale", "light", "tan", "brown", "dark"),
    "hair": ("none", "short", "long", "mohawk", "spiky", "ponytail"),
    "hair_colour": ("black", "brown", "blonde", "red", "silver"),
    "eyes": ("brown", "blue", "green", "red", "violet"),
    "outfit": ("shirt", "vest", "armor", "robe"),
    "outfit_colour": ("red", "blue", "green", "purple", "yellow"),
    "accessory": ("none", "hat", "crown", "glasses", "sword", "shield"),
}

N_COMBINATIONS = int(np.prod([len(v) for v in TRAITS.values()]))

_NAMED: dict[str, tuple[int, int, int, int]] = {
    "clear": (0, 0, 0, 0),
    "outline": (34, 32, 52, 255),
    "eye_white": (245, 245, 245, 255),
    "mouth": (120, 40, 50, 255),
    "pants": (58, 62, 96, 255),
    "boots": (82, 56, 40, 255),
    "undershirt": (228, 228, 214, 255),
    "metal": (170, 176, 188, 255),
    "metal_dark": (108, 114, 128, 255),
    "hat": (96, 64, 140, 255),
    "hat_band": (52, 34, 80, 255),
    "gold": (244, 204, 64, 255),
    "gold_dark": (188, 138, 28, 255),
    "gem": (220, 30, 90, 255),
    "glasses": (16, 16, 20, 255),
    "blade": (204, 214, 234, 255),
    "hilt": (124, 82, 42, 255),
    "shield": (44, 120, 150, 255),
    "shield_rim": (196, 196, 160, 255),
}
_SKIN = [(255, 224, 196), (240, 192, 150), (204, 150, 108), (142, 96, 64), (92, 62, 44)]
_HAIR = [
    ((40, 34, 36), (72, 62, 64)),
    ((112, 70, 38), (152, 100, 58)),
    ((236, 200, 98), (252, 232, 152)),
    ((192, 62, 30), (232, 104, 52)),
    ((214, 216, 228), (250, 250, 254)),
]
_EYES = [(98, 58, 28), (50, 100, 222), (38, 162, 72), (202, 28, 34), (142, 58, 204)]
_OUTFIT = [
    ((200, 50, 50), (138, 30, 32)),
    ((52, 90, 202), (30, 54, 132)),
    ((60, 160, 72), (34, 100, 46)),
    ((132, 60, 172), (86, 34, 116)),
    ((230, 186, 48), (168, 128, 24)),
]


def _build_palette() -> tuple[list[tuple[int, int, int, int]], dict[str, int]]:
    colours: list[tuple[int, int, int, int]] = []
    index: dict[str, int] = {}

    def add(name: str, rgb: tuple[int, ...]) -> None:
        index[name] = len(colours)
        colours.append(tuple(rgb) + (255,) if len(rgb) == 3 else tuple(rgb))

    for name, rgba in _NAMED.items():
        add(name, rgba)
    for i, rgb in enumerate(_SKIN):
        add(f"skin{i}", rgb)
    for i, (main, light) in enumerate(_HAIR):
        add(f"hair{i}", main)
        add(f"hairhi{i}", light)
    for i, rgb in enumerate(_EYES):
        add(f"eye{i}", rgb)
    for i, (main, dark) in enumerate(_OUTFIT):
        add(f"cloth{i}", main)
        add(f"clothdk{i}", dark)
    return colours, index


PALETTE, _IDX = _build_palette()
_PALETTE_ARRAY = np.array(PALETTE, dtype=np.uint8)
_KEYS = (_PALETTE_ARRAY.astype(np.uint32) << np.array([24, 16, 8, 0], dtype=np.uint32)).sum(1)
_KEY_TO_INDEX = {int(k): i for i, k in enumerate(_KEYS)}

# Horizontal extent (first and last interior column) of the torso for each body shape.
_TORSO = {"slim": (12, 19), "stocky": (10, 21), "round": (10, 21)}
_OUTLINE_COLUMN = {11: "slim", 9: "stocky", 8: "round"}


def _rect(c: np.ndarray, y0: int, y1: int, x0: int, x1: int, name: str) -> None:
    c[y0 : y1 + 1, x0 : x1 + 1] = _IDX[name]


def _torso_span(body: str, y: int) -> tuple[int, int]:
    left, right = _TORSO[body]
    if body == "round" and 19 <= y <= 22:
        return left - 1, right + 1
    return left, right


def _draw_head(c: np.ndarray, skin: str, eyes: str, hair_main: str) -> None:
    _rect(c, 4, 16, 9, 22, "outline")
    for y, x in ((4, 9), (4, 22), (16, 9), (16, 22)):
        c[y, x] = 0
    _rect(c, 5, 15, 10, 21, skin)
    _rect(c, 8, 8, 12, 13, hair_main)
    _rect(c, 8, 8, 18, 19, hair_main)
    _rect(c, 10, 11, 12, 13, "eye_white")
    _rect(c, 10, 11, 13, 13, eyes)
    _rect(c, 10, 11, 18, 18, eyes)
    _rect(c, 10, 11, 19, 19, "eye_white")
    _rect(c, 14, 14, 15, 16, "mouth")


def _draw_hair(c: np.ndarray, style: str, main: str, light: str) -> None:
    if style == "none":
        return
    if style == "mohawk":
        _rect(c, 1, 6, 14, 17, main)
        _rect(c, 2, 3, 15, 15, light)
        return
    _rect(c, 4, 6, 10, 21, main)
    _rect(c, 3, 3, 11, 20, main)
    _rect(c, 5, 5, 12, 14, light)
    if style == "short":
        _rect(c, 7, 8, 10, 10, main)
        _rect(c, 7, 8, 21, 21, main)
    elif style == "long":
        _rect(c, 7, 12, 10, 10, main)
        _rect(c, 7, 12, 21, 21, main)
        _rect(c, 5, 18, 7, 8, main)
        _rect(c, 5, 18, 23, 24, main)
    elif style == "spiky":
        for x in range(10, 22, 2):
            c[7, x] = _IDX[main]
        for x in (11, 14, 17, 20):
            _rect(c, 1, 2, x, x, main)
    elif style == "ponytail":
        _rect(c, 7, 7, 10, 10, main)
        _rect(c, 6, 14, 23, 24, main)
        _rect(c, 7, 7, 23, 24, "outline")


def _draw_body(c: np.ndarray, t: dict[str, str], skin: str, cloth: str, dark: str) -> None:
    body, outfit = t["body"], t["outfit"]
    for y in range(17, 25):
        left, right = _torso_span(body, y)
        c[y, left - 1] = c[y, right + 1] = _IDX["outline"]
        fill = {"shirt": cloth, "robe": cloth, "vest": "undershirt", "armor": "metal"}[outfit]
        _rect(c, y, y, left, right, fill)
        if outfit == "vest":
            _rect(c, y, y, left, left + 2, cloth)
            _rect(c, y, y, right - 2, right, cloth)
    left, right = _TORSO[body]
    _rect(c, 25, 25, left - 1, right + 1, "outline")
    arm_l, arm_r = _torso_span(body, 20)
    sleeve = "metal_dark" if outfit == "armor" else dark
    _rect(c, 18, 21, arm_l - 3, arm_l - 2, sleeve)
    _rect(c, 18, 21, arm_r + 2, arm_r + 3, sleeve)
    _rect(c, 22, 23, arm_l - 3, arm_l - 2, skin)
    _rect(c, 22, 23, arm_r + 2, arm_r + 3, skin)
    if outfit == "shirt":
        _rect(c, 17, 17, 15, 16, skin)
        _rect(c, 24, 24, left, right, dark)
    elif outfit == "armor":
        _rect(c, 17, 17, left, right, "metal_dark")
        _rect(c, 21, 22, 14, 17, cloth)
    elif outfit == "robe":
        _rect(c, 22, 22, left, right, dark)
    _rect(c, 26, 29, 12, 14, "pants")
    _rect(c, 26, 29, 17, 19, "pants")
    _rect(c, 30, 31, 11, 14, "boots")
    _rect(c, 30, 31, 17, 20, "boots")
    if outfit == "robe":
        _rect(c, 25, 29, 11, 20, cloth)
        _rect(c, 29, 29, 11, 20, dark)


def _draw_accessory(c: np.ndarray, accessory: str, body: str) -> None:
    left, right = _torso_span(body, 20)
    if accessory == "hat":
        _rect(c, 0, 3, 11, 20, "hat")
        _rect(c, 3, 3, 11, 20, "hat_band")
        _rect(c, 4, 4, 8, 23, "hat")
    elif accessory == "crown":
        _rect(c, 2, 3, 11, 20, "gold")
        for x in (11, 15, 16, 20):
            c[1, x] = _IDX["gold"]
        _rect(c, 3, 3, 11, 20, "gold_dark")
        _rect(c, 2, 2, 15, 16, "gem")
    elif accessory == "glasses":
        for x0 in (11, 17):
            _rect(c, 9, 9, x0, x0 + 3, "glasses")
            _rect(c, 12, 12, x0, x0 + 3, "glasses")
            _rect(c, 10, 11, x0, x0, "glasses")
            _rect(c, 10, 11, x0 + 3, x0 + 3, "glasses")
        _rect(c, 10, 10, 15, 16, "glasses")
    elif accessory == "sword":
        x = right + 3
        _rect(c, 10, 20, x, x, "blade")
        _rect(c, 21, 21, x - 1, x + 1, "hilt")
        c[9, x] = _IDX["outline"]
    elif accessory == "shield":
        x0, x1 = left - 8, left - 3
        _rect(c, 18, 25, x0, x1, "shield_rim")
        _rect(c, 19, 24, x0 + 1, x1 - 1, "shield")
        _rect(c, 20, 23, x0 + 2, x1 - 2, "shield_rim")


def _check(traits: dict[str, str]) -> None:
    if set(traits) != set(TRAITS):
        raise ValueError(f"traits must have exactly the keys {list(TRAITS)}, got {sorted(traits)}")
    for name, value in traits.items():
        if value not in TRAITS[name]:
            raise ValueError(f"unknown {name} {value!r}; choose from {', '.join(TRAITS[name])}")


def render_indices(traits: dict[str, str]) -> np.ndarray:
    """Render a sprite as palette indices, uint8 (32, 32); index 0 is the transparent background."""
    _check(traits)
    pick = {name: TRAITS[name].index(value) for name, value in traits.items()}
    skin = f"skin{pick['skin']}"
    hair_main, hair_light = f"hair{pick['hair_colour']}", f"hairhi{pick['hair_colour']}"
    cloth, dark = f"cloth{pick['outfit_colour']}", f"clothdk{pick['outfit_colour']}"
    c = np.zeros((SIZE, SIZE), dtype=np.uint8)
    _draw_body(c, traits, skin, cloth, dark)
    _draw_head(c, skin, f"eye{pick['eyes']}", hair_main)
    _draw_hair(c, traits["hair"], hair_main, hair_light)
    _draw_accessory(c, traits["accessory"], traits["body"])
    return c


def render_sprite(traits: dict[str, str]) -> np.ndarray:
    """Render one sprite: uint8 (32, 32, 4) RGBA, transparent (0, 0, 0, 0) background."""
    return _PALETTE_ARRAY[render_indices(traits)]


def traits_from_index(index: int) -> dict[str, str]:
    """The trait combination with this number in [0, N_COMBINATIONS) (mixed radix, last trait fastest)."""
    if not 0 <= index < N_COMBINATIONS:
        raise ValueError(f"combination index must be in [0, {N_COMBINATIONS}), got {index}")
    out: dict[str, str] = {}
    for name in reversed(TRAITS):
        values = TRAITS[name]
        index, k = divmod(index, len(values))
        out[name] = values[k]
    return {name: out[name] for name in TRAITS}


def trait_index(traits: dict[str, str]) -> int:
    """The number of a trait combination, the inverse of `traits_from_index`."""
    _check(traits)
    index = 0
    for name, values in TRAITS.items():
        index = index * len(values) + values.index(traits[name])
    return index


def sample_traits(rng: np.random.Generator) -> dict[str, str]:
    """Draw each trait uniformly and independently."""
    return {name: values[int(rng.integers(len(values)))] for name, values in TRAITS.items()}


def make_sprites(n: int, seed: int = 0) -> tuple[np.ndarray, list[dict[str, str]]]:
    """n distinct sprites (while n <= N_COMBINATIONS) chosen uniformly at random from a seed, with their traits."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    picks = rng.choice(N_COMBINATIONS, size=n, replace=n > N_COMBINATIONS)
    traits = [traits_from_index(int(i)) for i in picks]
    images = np.zeros((n, SIZE, SIZE, 4), dtype=np.uint8)
    for k, t in enumerate(traits):
        images[k] = render_sprite(t)
    return images, traits


def _to_indices(image: np.ndarray) -> np.ndarray | None:
    if not isinstance(image, np.ndarray) or image.shape != (SIZE, SIZE, 4) or image.dtype != np.uint8:
        return None
    keys = (image.astype(np.uint32) << np.array([24, 16, 8, 0], dtype=np.uint32)).sum(-1)
    uniq, inverse = np.unique(keys, return_inverse=True)
    lookup = []
    for k in uniq:
        i = _KEY_TO_INDEX.get(int(k))
        if i is None:
            return None
        lookup.append(i)
    return np.array(lookup, dtype=np.uint8)[inverse.reshape(SIZE, SIZE)]


def _one_of(present: set[int], prefix: str, count: int) -> int | None:
    found = [i for i in range(count) if _IDX[f"{prefix}{i}"] in present]
    return found[0] if len(found) == 1 else None


def read_traits(image: np.ndarray) -> dict[str, str] | None:
    """Decode the traits of a sprite exactly from its pixels; None when it is not a valid sprite."""
    idx = _to_indices(image)
    if idx is None:
        return None
    present = set(np.unique(idx).tolist())
    colour_traits = {"skin": "skin", "hair_colour": "hair", "eyes": "eye", "outfit_colour": "cloth"}
    t: dict[str, str] = {}
    for name, prefix in colour_traits.items():
        k = _one_of(present, prefix, len(TRAITS[name]))
        if k is None:
            return None
        t[name] = TRAITS[name][k]
    accessories = [
        a
        for a, key in (
            ("hat", "hat"),
            ("crown", "gold"),
            ("glasses", "glasses"),
            ("sword", "blade"),
            ("shield", "shield"),
        )
        if _IDX[key] in present
    ]
    if len(accessories) > 1:
        return None
    t["accessory"] = accessories[0] if accessories else "none"
    row = idx[20, :16]
    outline_cols = np.nonzero(row == _IDX["outline"])[0]
    if len(outline_cols) == 0 or int(outline_cols[-1]) not in _OUTLINE_COLUMN:
        return None
    t["body"] = _OUTLINE_COLUMN[int(outline_cols[-1])]
    hair = {_IDX[f"hair{TRAITS['hair_colour'].index(t['hair_colour'])}"]}
    chest, robe_probe = int(idx[19, 15]), int(idx[27, 15])
    if chest == _IDX["undershirt"]:
        t["outfit"] = "vest"
    elif chest == _IDX["metal"]:
        t["outfit"] = "armor"
    else:
        t["outfit"] = "shirt" if robe_probe == 0 else "robe"
    if (
        int(idx[5, 12]) not in hair
        and int(idx[5, 12]) != _IDX[f"hairhi{TRAITS['hair_colour'].index(t['hair_colour'])}"]
    ):
        t["hair"] = "mohawk" if int(idx[5, 15]) in hair else "none"
    elif int(idx[10, 8]) in hair:
        t["hair"] = "long"
    elif int(idx[10, 23]) in hair:
        t["hair"] = "ponytail"
    elif int(idx[7, 12]) in hair:
        t["hair"] = "spiky"
    else:
        t["hair"] = "short"
    t = {name: t[name] for name in TRAITS}
    if not np.array_equal(render_indices(t), idx):
        return None
    return t


def read_traits_batch(images: np.ndarray) -> list[dict[str, str] | None]:
    """`read_traits` for each image of a uint8 (N, 32, 32, 4) batch."""
    return [read_traits(im) for im in images]


_FAMILIES = {
    "skin": [[f"skin{i}"] for i in range(len(TRAITS["skin"]))],
    "hair_colour": [[f"hair{i}", f"hairhi{i}"] for i in range(len(TRAITS["hair_colour"]))],
    "eyes": [[f"eye{i}"] for i in range(len(TRAITS["eyes"]))],
    "outfit_colour": [[f"cloth{i}", f"clothdk{i}"] for i in range(len(TRAITS["outfit_colour"]))],
}


# Share of pixels a sample must share with its nearest valid sprite for `nearest_traits` to be trusted.
# Non-sprites made from real sprites stay below it: a 3x3 box blur of a sprite reaches at most 0.79, its
# silhouette in one flat colour 0.77, a blank image 0.68, its pixels shuffled 0.47, noise 0.38 (40 sprites).
MIN_AGREEMENT = 0.85

# Traits that draw over the same pixels, so one may only improve the match when the other changes with it.
_COUPLED = (
    ("hair", "accessory"),
    ("hair", "hair_colour"),
    ("outfit", "outfit_colour"),
    ("body", "accessory"),
)


def snap_to_palette(image: np.ndarray) -> np.ndarray:
    """Palette indices (32, 32) of an RGBA uint8 image: alpha < 128 is background, else the nearest RGB colour."""
    if not isinstance(image, np.ndarray) or image.shape != (SIZE, SIZE, 4):
        raise ValueError(f"expected a ({SIZE}, {SIZE}, 4) RGBA array, got {getattr(image, 'shape', None)}")
    rgb = image[..., :3].reshape(-1, 1, 3).astype(np.int32)
    opaque = _PALETTE_ARRAY[1:, :3].astype(np.int32)[None]
    nearest = 1 + ((rgb - opaque) ** 2).sum(-1).argmin(1)
    nearest[image[..., 3].reshape(-1) < 128] = 0
    return nearest.reshape(SIZE, SIZE).astype(np.uint8)


def nearest_traits(image: np.ndarray, rounds: int = 3) -> tuple[dict[str, str], float]:
    """The traits of the valid sprite closest to `image` and the share of pixels on which the two agree.

    The image is snapped to the palette, colour traits start from a majority vote of their colour families,
    then each trait (and each pair of traits that paint the same pixels) in turn takes the values whose
    rendering disagrees with the fewest pixels (coordinate descent). Agreement 1.0 means the image is exactly that sprite (`read_traits` would decode it too).
    """
    idx = snap_to_palette(image)
    counts = np.bincount(idx.reshape(-1), minlength=len(PALETTE))
    t = {name: values[0] for name, values in TRAITS.items()}
    for name, families in _FAMILIES.items():
        votes = [sum(int(counts[_IDX[c]]) for c in family) for family in families]
        t[name] = TRAITS[name][int(np.argmax(votes))]

    def mismatch(candidate: dict[str, str]) -> int:
        return int((render_indices(candidate) != idx).sum())

    best = mismatch(t)
    moves = [(name,) for name in TRAITS] + list(_COUPLED)
    for _ in range(rounds):
        changed = False
        for names in moves:
            for values in itertools.product(*(TRAITS[name] for name in names)):
                trial = dict(t, **dict(zip(names, values, strict=True)))
                if trial == t:
                    continue
                score = mismatch(trial)
                if score < best:
                    t, best, changed = trial, score, True
        if not changed:
            break
    return t, 1.0 - best / (SIZE * SIZE)
