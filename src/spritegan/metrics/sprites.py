"""Exact metrics on the built-in procedural sprites, decoded with `spritegan.data.procedural.read_traits`.

- valid share: fraction of generated 32x32 RGBA sprites that decode to a trait dictionary;
- combination coverage: distinct valid trait combinations among the fakes, divided by all possible
  combinations (the product of the option counts in `procedural.TRAITS`) and by the combinations
  present in the real data (counting only those also present there);
- novel valid share: valid fakes whose trait combination is not among the training sprites (memorising
  the training set cannot score here);
- readable share: fakes whose pixels agree on at least 85% with their nearest valid sprite
  (`procedural.nearest_traits`), and the mean agreement; on the first READABLE_MAX fakes (it is slow).
"""

from __future__ import annotations

import numpy as np

from spritegan.data import procedural
from spritegan.errors import DataError


def _combos(images) -> tuple[list[tuple | None], int]:
    array = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    hwc = array.transpose(0, 2, 3, 1)
    out = []
    for img in hwc:
        traits = procedural.read_traits(np.ascontiguousarray(img))
        out.append(None if traits is None else tuple(sorted(traits.items())))
    return out, len(out)


READABLE_MAX = 1000


def readable(images, threshold: float | None = None) -> tuple[float, float]:
    """(share of images whose nearest valid sprite agrees on >= threshold of pixels, mean agreement)."""
    threshold = procedural.MIN_AGREEMENT if threshold is None else threshold
    array = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    agreement = [
        procedural.nearest_traits(np.ascontiguousarray(img))[1] for img in array.transpose(0, 2, 3, 1)
    ]
    if not agreement:
        return 0.0, 0.0
    return float(np.mean([a >= threshold for a in agreement])), float(np.mean(agreement))


def possible_combinations() -> int:
    """Number of trait combinations the procedural generator can produce."""
    return int(np.prod([len(options) for options in procedural.TRAITS.values()], dtype=np.int64))


def sprite_metrics(fake, real=None) -> dict[str, float | int]:
    """Valid share and trait-combination coverage of uint8 (N, 4, 32, 32) built-in sprites."""
    if tuple(fake.shape[1:]) != (4, 32, 32) or (real is not None and tuple(real.shape[1:]) != (4, 32, 32)):
        raise DataError("sprite metrics apply only to the built-in 32x32 RGBA sprites (builtin:sprites)")
    fake_combos, n = _combos(fake)
    valid = {c for c in fake_combos if c is not None}
    total = possible_combinations()
    result: dict[str, float | int] = {
        "sprite_valid_share": sum(c is not None for c in fake_combos) / max(n, 1),
        "sprite_combos": len(valid),
        "sprite_combos_possible": total,
        "sprite_combo_coverage": len(valid) / total,
    }
    result["sprite_readable_share"], result["sprite_mean_agreement"] = readable(fake[:READABLE_MAX])
    if real is not None:
        real_set = {c for c in _combos(real)[0] if c is not None}
        result["sprite_combos_real"] = len(real_set)
        result["sprite_combo_coverage_real"] = len(valid & real_set) / max(len(real_set), 1)
        valid_fakes = [c for c in fake_combos if c is not None]
        result["sprite_novel_valid_share"] = sum(c not in real_set for c in valid_fakes) / max(
            len(valid_fakes), 1
        )
    return result


def is_builtin_sprites(images, manifest: dict | None = None) -> bool:
    """True when images look like the built-in sprites: RGBA 32x32 and (if given) a procedural source."""
    shape = tuple(images.shape[1:])
    if shape != (4, 32, 32):
        return False
    if manifest is None:
        return True
    source = str(manifest.get("source", ""))
    return "procedural" in source or source.startswith("builtin") or source.startswith("sprites")


def colour_confusions(images) -> dict:
    """Where generated built-in sprites (N, 4, 32, 32 uint8) differ from their nearest valid sprite: the mean
    agreement, the share of wrong pixels per row, and every (drawn colour, wanted colour) pair by palette
    name with its share of the wrong pixels. Shows whether misses are shapes or near-colour swaps."""
    names = {index: name for name, index in procedural._IDX.items()}
    arr = np.asarray(images)
    wrong_rows = np.zeros(arr.shape[2])
    pairs: dict[tuple[str, str], int] = {}
    agreements = []
    for image in arr:
        hwc = np.transpose(image, (1, 2, 0))
        traits, agreement = procedural.nearest_traits(hwc)
        agreements.append(agreement)
        drawn, wanted = procedural.snap_to_palette(hwc), procedural.render_indices(traits)
        miss = drawn != wanted
        wrong_rows += miss.mean(1)
        for d, w in zip(drawn[miss].tolist(), wanted[miss].tolist(), strict=True):
            pairs[(names[d], names[w])] = pairs.get((names[d], names[w]), 0) + 1
    total = max(1, sum(pairs.values()))
    ranked = sorted(pairs.items(), key=lambda item: -item[1])
    return {
        "mean_agreement": float(np.mean(agreements)),
        "wrong_by_row": (wrong_rows / len(arr)).tolist(),
        "confusions": [{"drawn": d, "wanted": w, "share": n / total} for (d, w), n in ranked],
    }
