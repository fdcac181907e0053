"""Pixel-art measures on tiny hand-made images with known answers (no Inception network)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spritegan.errors import DataError
from spritegan.metrics import pixelart
from spritegan.metrics.pixelart import (
    alpha_levels_used,
    isolated_share,
    off_alpha_share,
    off_palette_share,
    palette_of,
    pixel_counts,
    pixelart_metrics,
    stray_share,
)

RED = (200, 10, 10, 255)
BLUE = (10, 10, 200, 255)
CLEAR = (0, 0, 0, 0)


def rgba(rows: list[list[tuple[int, int, int, int]]]) -> torch.Tensor:
    """One RGBA image (1, 4, H, W) from rows of (r, g, b, a) pixels."""
    return torch.tensor(rows, dtype=torch.uint8).permute(2, 0, 1).unsqueeze(0)


def test_off_palette_counts_visible_pixels_with_alpha():
    image = rgba([[RED, (1, 2, 3, 255)], [CLEAR, (200, 10, 10, 128)]])
    # visible: RED (in palette), (1,2,3) (not), RED's rgb at alpha 128 (not: alpha is part of the colour)
    assert off_palette_share(image, [list(RED), list(BLUE)]) == pytest.approx(2 / 3)
    assert off_palette_share(image, [list(RED), [1, 2, 3, 255], [200, 10, 10, 128]]) == 0.0


def test_off_palette_rgb_and_gray_are_opaque():
    rgb = torch.tensor([[[[5, 5]], [[5, 5]], [[5, 6]]]], dtype=torch.uint8)  # (1, 3, 1, 2)
    assert off_palette_share(rgb, [[5, 5, 5, 255]]) == 0.5
    gray = torch.tensor([[[[5, 7, 7, 9]]]], dtype=torch.uint8)  # (1, 1, 1, 4)
    assert off_palette_share(gray, [[5, 5, 5, 255], [7, 7, 7, 255]]) == 0.25
    assert off_palette_share(gray, [[5, 5, 5, 0]]) == 1.0


def test_isolated_pixels_have_no_visible_8_neighbour():
    rows = [[CLEAR] * 5 for _ in range(5)]
    rows[0][0] = RED  # alone in a corner
    rows[2][2] = RED  # diagonal pair: each has a visible 8-neighbour
    rows[3][3] = BLUE
    rows[4][0] = BLUE  # alone on the bottom edge
    assert isolated_share(rgba(rows)) == 0.5
    assert isolated_share(rgba([[RED]])) == 1.0
    assert isolated_share(rgba([[CLEAR, CLEAR]])) == 0.0  # nothing visible
    assert isolated_share(torch.zeros(2, 3, 4, 4, dtype=torch.uint8)) == 0.0  # no alpha: all visible


def test_stray_pixels_match_none_of_their_4_neighbours():
    rows = [[RED] * 3 for _ in range(3)]
    rows[1][1] = BLUE
    assert stray_share(rgba(rows)) == pytest.approx(1 / 9)
    assert stray_share(rgba([[RED, BLUE], [BLUE, RED]])) == 1.0  # diagonals do not count
    assert stray_share(rgba([[RED]])) == 1.0  # outside the image never matches
    assert stray_share(rgba([[RED, RED]])) == 0.0
    # a transparent neighbour with the same rgb is another colour (alpha 0), and is not counted itself
    assert stray_share(rgba([[RED, (200, 10, 10, 0)]])) == 1.0
    gray = torch.tensor([[[[3, 3, 9]]]], dtype=torch.uint8)
    assert stray_share(gray) == pytest.approx(1 / 3)


def test_alpha_levels_used_and_off_alpha_share():
    image = rgba([[CLEAR, RED, (200, 10, 10, 128), BLUE]])
    assert alpha_levels_used(image) == 3
    assert off_alpha_share(image, [0, 255]) == 0.25
    assert off_alpha_share(image, [0, 128, 255]) == 0.0
    assert alpha_levels_used(torch.zeros(1, 3, 2, 2, dtype=torch.uint8)) == 1


def test_pixelart_metrics_keys_and_real_sprites_floor():
    procedural = pytest.importorskip("spritegan.data.procedural")
    images = torch.from_numpy(procedural.make_sprites(64, seed=0)[0].transpose(0, 3, 1, 2).copy())
    palette = palette_of(images)
    assert palette is not None and len(palette) <= len(procedural.PALETTE)
    result = pixelart_metrics(images, palette=palette, alpha_levels=[0, 255])
    assert result["pixelart_off_palette"] == 0.0 and result["pixelart_off_alpha"] == 0.0
    assert result["pixelart_alpha_levels"] == 2
    assert 0.0 <= result["pixelart_isolated"] < 0.01 and 0.0 < result["pixelart_stray"] < 0.2
    noise = torch.randint(0, 256, images.shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    worse = pixelart_metrics(noise, palette=palette, alpha_levels=[0, 255])
    assert worse["pixelart_off_palette"] > 0.99 and worse["pixelart_stray"] > 0.99
    assert worse["pixelart_off_alpha"] > 0.99 and worse["pixelart_alpha_levels"] == 256
    gray = pixelart_metrics(torch.zeros(2, 1, 4, 4, dtype=torch.uint8))
    assert set(gray) == {"pixelart_isolated", "pixelart_stray", "pixelart_visible_share"}


def _brute_force(image: np.ndarray) -> tuple[int, int, int]:
    """(visible, isolated, stray) of one RGBA (4, H, W) image with plain loops."""
    _, h, w = image.shape
    visible = isolated = stray = 0
    for y in range(h):
        for x in range(w):
            if image[3, y, x] == 0:
                continue
            visible += 1
            near = [(y + dy, x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
            inside = [(a, b) for a, b in near if 0 <= a < h and 0 <= b < w]
            isolated += not any(image[3, a, b] > 0 for a, b in inside)
            four = [(a, b) for a, b in inside if abs(a - y) + abs(b - x) == 1]
            stray += not any((image[:, a, b] == image[:, y, x]).all() for a, b in four)
    return visible, isolated, stray


def test_vectorised_counts_match_loops_across_chunks(monkeypatch):
    monkeypatch.setattr(pixelart, "CHUNK", 3)  # several chunks, one partial
    rng = np.random.default_rng(0)
    images = rng.integers(0, 2, size=(8, 4, 5, 6), dtype=np.uint8) * 255  # few colours: matches happen
    images[:, 3] = (rng.random((8, 5, 6)) < 0.4) * 255
    counts = pixel_counts(images)
    expected = np.sum([_brute_force(img) for img in images], axis=0)
    assert (counts["visible"], counts["isolated"], counts["stray"]) == tuple(int(v) for v in expected)
    assert counts["pixels"] == 8 * 5 * 6


def test_palette_of_and_bad_input():
    image = rgba([[RED, BLUE], [CLEAR, RED]])
    assert palette_of(image) == sorted([list(BLUE), list(RED)])
    assert palette_of(image, max_colours=1) is None
    with pytest.raises(DataError, match="uint8"):
        pixelart_metrics(torch.zeros(1, 2, 4, 4, dtype=torch.uint8))
    with pytest.raises(DataError, match="uint8"):
        pixelart_metrics(torch.zeros(1, 4, 4, 4))


def test_colour_histogram_shares_of_visible_pixels():
    image = rgba([[RED, RED, BLUE], [CLEAR, (1, 2, 3, 255), RED]])
    palette = [list(BLUE), list(RED)]
    hist = pixelart.colour_histogram(image, palette)
    keys = pixelart.pack_palette(palette).tolist()
    red_at = keys.index((200 << 24) | (10 << 16) | (10 << 8) | 255)
    # 5 visible pixels: 3 red, 1 blue, 1 off the palette (counted in the whole, in no colour)
    assert hist[red_at].item() == pytest.approx(3 / 5)
    assert hist[1 - red_at].item() == pytest.approx(1 / 5)
    assert hist.sum().item() == pytest.approx(1 - off_palette_share(image, palette))


def test_colour_coverage_counts_colours_drawn_under_a_quarter_of_their_share():
    real = torch.tensor([0.5, 0.3, 0.2, 0.0], dtype=torch.float64)
    fake = torch.tensor([0.8, 0.07, 0.05, 0.08], dtype=torch.float64)
    # colour 1: 0.07 < 0.3 / 4 -> missing; colour 2: 0.05 = 0.2 / 4 -> not under; colour 3 never real
    out = pixelart.colour_coverage(fake, real)
    assert out["pixelart_missing_colours"] == 1
    assert out["pixelart_colour_tv"] == pytest.approx(0.5 * (0.3 + 0.23 + 0.15 + 0.08))
    assert pixelart.colour_coverage(real, real) == {"pixelart_missing_colours": 0, "pixelart_colour_tv": 0.0}
    # off-palette mass is one more bin: all of it off the palette is as far as can be
    assert pixelart.colour_coverage(torch.zeros(4, dtype=torch.float64), real)["pixelart_colour_tv"] == 1.0


def test_missing_colours_names_them_commonest_first():
    palette = [list(BLUE), list(RED), [0, 200, 0, 255]]
    keys = pixelart.pack_palette(palette).tolist()
    real = torch.zeros(3, dtype=torch.float64)
    fake = torch.zeros(3, dtype=torch.float64)
    for colour, r, f in ((RED, 0.6, 0.0), (BLUE, 0.3, 0.01), ((0, 200, 0, 255), 0.1, 0.1)):
        slot = keys.index((colour[0] << 24) | (colour[1] << 16) | (colour[2] << 8) | colour[3])
        real[slot], fake[slot] = r, f
    names = [m["colour"] for m in pixelart.missing_colours(fake, real, palette)]
    assert names == ["#c80a0aff", "#0a0ac8ff"]


def test_eval_pixelart_reports_coverage_with_a_sampling_floor():
    from spritegan.metrics.evaluate import pixelart_with_floor

    red = rgba([[RED, RED], [RED, CLEAR]])
    blue = rgba([[BLUE, BLUE], [CLEAR, CLEAR]])
    real = torch.cat([red, blue] * 8).numpy()
    out = pixelart_with_floor(torch.cat([red] * 6).numpy(), real)
    assert out["metrics"]["pixelart_missing_colours"] == 1
    assert out["missing_colours"][0]["colour"] == "#0a0ac8ff"
    assert out["real_floor"]["pixelart_missing_colours"] == 0


def test_eval_reads_colour_coverage_of_off_palette_samples_after_snapping():
    from spritegan.metrics.evaluate import pixelart_with_floor

    real = torch.cat([rgba([[RED, RED], [RED, CLEAR]]), rgba([[BLUE, BLUE], [CLEAR, CLEAR]])] * 8).numpy()
    shaded = torch.cat(
        [rgba([[(190, 20, 12, 255), RED], [RED, CLEAR]]), rgba([[(12, 14, 190, 255)] * 2, [CLEAR] * 2])] * 4
    )
    out = pixelart_with_floor(shaded.numpy(), real)
    assert out["metrics"]["pixelart_off_palette"] > 0  # an RGB head's shades ...
    assert out["colour_coverage_snapped"] and out["metrics"]["pixelart_missing_colours"] == 0  # ... draw both
    assert out["metrics"]["pixelart_colour_tv"] == pytest.approx(0.0)  # snapped: red 3/5, blue 2/5 as real
    exact = pixelart_with_floor(real, real)
    assert "colour_coverage_snapped" not in exact
