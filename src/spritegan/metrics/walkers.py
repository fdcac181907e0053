"""Whole characters on builtin:walkers: does one generated sheet draw one character in every pose?

A generated image is a 64x64 sheet: rows = directions (down, left, right, up), columns = walk-cycle frames
0-3, so each cell asks for one pose. A character counts as

- pixel-perfect when every one of its 16 frames decodes exactly (`walkers.read_frame`) to the asked direction
  and frame, all 16 with the same traits;
- readable when every frame's nearest valid frame (`walkers.nearest_frame`, exhaustive over all shapes and
  poses) has the asked direction and frame and agrees with it on at least `procedural.MIN_AGREEMENT` (85%)
  of its pixels, the tolerance of the built-in sprites' readable share (`metrics/sprites.py`), and the 16
  nearest frames share one set of traits: identity kept across the poses.

Beside them: the share of single frames that are readable in their asked pose (identity aside), the mean
agreement, and the distinct trait sets among readable characters. The readable measures search every
frame's nearest (about 3 ms a frame), so they read the first READABLE_MAX characters.
"""

from __future__ import annotations

import numpy as np
import torch

from spritegan.data import procedural, walkers
from spritegan.errors import DataError
from spritegan.labels import asked_classes

READABLE_MAX = 500
SHEET_SHAPE = (4, *walkers.SHEET_SIZE)


def _frames(images) -> np.ndarray:
    """uint8 (N, 4, 64, 64) sheets -> (N, 16, 16, 16, 4) frames in walkers.POSES order."""
    array = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if array.ndim != 4 or tuple(array.shape[1:]) != SHEET_SHAPE or array.dtype != np.uint8:
        raise DataError(
            f"the walker measure reads builtin:walkers sheets, uint8 (N, 4, 64, 64); got {array.dtype} "
            f"{tuple(array.shape)}"
        )
    return np.ascontiguousarray(walkers.sheet_frames(array.transpose(0, 2, 3, 1)))


def _key(traits: dict[str, str]) -> tuple:
    return tuple(sorted(traits.items()))


def pixel_perfect(frames: np.ndarray) -> list[bool]:
    """Per character: all 16 frames decode exactly, in the asked poses, to one set of traits."""
    out = []
    for own in frames:
        decoded = [walkers.read_frame(np.ascontiguousarray(f)) for f in own]
        out.append(
            all(
                d is not None and (d[1], d[2]) == pose for d, pose in zip(decoded, walkers.POSES, strict=True)
            )
            and len({_key(d[0]) for d in decoded}) == 1
        )
    return out


def readable(
    frames: np.ndarray, threshold: float | None = None, asked: list[dict[str, str]] | None = None
) -> dict[str, float | int]:
    """Readable characters, readable frames, mean agreement and distinct readable characters (see the module).

    `asked`, one {trait: value} per character (a conditional model's labels), adds the share of characters
    that are readable *and* drawn with the traits they were asked for."""
    threshold = procedural.MIN_AGREEMENT if threshold is None else threshold
    if asked is not None and len(asked) < len(frames):
        raise ValueError(f"asked traits for {len(asked)} characters, but {len(frames)} are read")
    characters, frame_ok, agreement, kinds, as_asked = [], [], [], set(), 0
    for i, own in enumerate(frames):
        nearest = [walkers.nearest_frame(np.ascontiguousarray(f)) for f in own]
        ok = [
            (d, f) == pose and a >= threshold
            for (_, d, f, a), pose in zip(nearest, walkers.POSES, strict=True)
        ]
        same = len({_key(n[0]) for n in nearest}) == 1
        characters.append(all(ok) and same)
        if characters[-1]:
            kinds.add(_key(nearest[0][0]))
            if asked is not None:
                as_asked += all(nearest[0][0][t] == v for t, v in asked[i].items())
        frame_ok += ok
        agreement += [n[3] for n in nearest]
    n = max(len(characters), 1)
    out = {
        "walker_readable_share": sum(characters) / n,
        "walker_frame_readable_share": sum(frame_ok) / max(len(frame_ok), 1),
        "walker_mean_agreement": float(np.mean(agreement)) if agreement else 0.0,
        "walker_readable_distinct": len(kinds),
        "walker_readable_checked": len(characters),
    }
    if asked is not None:
        out["walker_readable_as_asked_share"] = as_asked / n
    return out


def asked_traits(labels, spec: dict | None) -> list[dict[str, str]]:
    """{trait: value} per label row, for the walker traits among a conditional model's categorical columns
    (a column the row leaves all-zero, the unconditional slot, asks for nothing)."""
    rows = torch.as_tensor(labels).detach().cpu()
    return [{k: v for k, v in asked_classes(row, spec).items() if k in walkers.TRAITS} for row in rows]


def trait_disagreements(frames: np.ndarray) -> dict[str, dict[str, int]]:
    """Which traits keep characters from reading as one: per trait, per direction (sheet row), the frames
    whose nearest valid frame has another value of that trait than the majority of the character's 16, and
    under "characters" the number of characters with at least one such frame. `frames` as `_frames` gives."""
    per_row = {t: dict.fromkeys(walkers.DIRECTIONS, 0) for t in walkers.TRAITS}
    characters = dict.fromkeys(walkers.TRAITS, 0)
    for own in frames:
        nearest = [walkers.nearest_frame(np.ascontiguousarray(f))[0] for f in own]
        for trait in walkers.TRAITS:
            values = [n[trait] for n in nearest]
            majority = max(set(values), key=values.count)
            off = [v != majority for v in values]
            characters[trait] += any(off)
            for is_off, (direction, _) in zip(off, walkers.POSES, strict=True):
                per_row[trait][direction] += is_off
    return {t: {**per_row[t], "characters": characters[t]} for t in walkers.TRAITS}


def walker_metrics(fake, asked: list[dict[str, str]] | None = None) -> dict[str, float | int]:
    """Pixel-perfect share of all characters, and the readable measures of the first READABLE_MAX (with
    `asked`, each character's asked traits, also the share readable as asked)."""
    frames = _frames(fake)
    perfect = pixel_perfect(frames)
    return {
        "walker_pixel_perfect_share": sum(perfect) / max(len(perfect), 1),
        **readable(frames[:READABLE_MAX], asked=None if asked is None else asked[:READABLE_MAX]),
    }


def walkers_metric(ctx) -> dict[str, float | int]:
    """The `walkers` row of the metric table: the fakes' measures; the first 100 real sheets give the floor."""
    ctx.real_floor.update(walker_metrics(ctx.real[:100]))
    spec = getattr(ctx.pipeline, "label_spec", None)
    asked = asked_traits(ctx.fake_labels, spec) if ctx.fake_labels is not None and spec else None
    return walker_metrics(ctx.fake, asked)
