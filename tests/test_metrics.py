"""Fast, pure-function tests of the metric maths (no Inception network)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spritegan.metrics import novelty
from spritegan.metrics.frechet import fid_from_features, frechet_distance, gaussian_stats
from spritegan.metrics.kid import kernel_inception_distance, mmd2_unbiased
from spritegan.metrics.prdc import prdc


def test_fid_of_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(300, 16))
    mu, sigma = gaussian_stats(x)
    scale = float(np.trace(sigma))
    assert abs(frechet_distance(mu, sigma, mu, sigma)) <= 1e-6 * scale
    assert fid_from_features(x, x) <= 1e-6 * scale


def test_frechet_matches_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    s1, s2 = rng.uniform(0.1, 3, size=8), rng.uniform(0.1, 3, size=8)
    expected = ((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * np.sqrt(s1 * s2)).sum()
    got = frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_full_covariance_is_symmetric_and_positive():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + np.eye(6), b @ b.T + np.eye(6)
    mu = np.zeros(6)
    d12, d21 = frechet_distance(mu, s1, mu, s2), frechet_distance(mu, s2, mu, s1)
    assert d12 == pytest.approx(d21, rel=1e-9) and d12 > 0
    with pytest.raises(ValueError):
        frechet_distance(mu, s1, np.zeros(5), s2)


def test_kid_unbiased_near_zero_on_equal_distributions():
    rng = np.random.default_rng(3)
    values = [mmd2_unbiased(rng.normal(size=(50, 8)), rng.normal(size=(50, 8))) for _ in range(200)]
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values))


def test_kid_symmetric_and_detects_shift():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(120, 8)), rng.normal(size=(120, 8))
    assert mmd2_unbiased(x, y) == pytest.approx(mmd2_unbiased(y, x), rel=1e-12)
    same, _ = kernel_inception_distance(x, y, num_subsets=20, subset_size=100, seed=0)
    shifted, _ = kernel_inception_distance(x, y + 1.0, num_subsets=20, subset_size=100, seed=0)
    assert shifted > 10 * abs(same)
    with pytest.raises(ValueError, match="subset size"):
        kernel_inception_distance(x, y, subset_size=500)


def test_prdc_identical_sets():
    x = np.random.default_rng(5).normal(size=(200, 10))
    result = prdc(x, x, k=5)
    assert result["precision"] == 1.0 and result["recall"] == 1.0 and result["coverage"] == 1.0
    assert 0.5 < result["density"] < 2.0


def test_prdc_disjoint_sets():
    rng = np.random.default_rng(6)
    result = prdc(rng.normal(size=(100, 10)), rng.normal(size=(100, 10)) + 50.0, k=5)
    assert result == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_novelty_nearest_and_threshold(tmp_path):
    rng = np.random.default_rng(7)
    real = rng.integers(0, 256, size=(30, 4, 8, 8), dtype=np.uint8)
    real[:, 3] = 255
    fake = real[[3, 10, 20]].copy()
    fake[1, :3, 0, :2] = 255 - fake[1, :3, 0, :2]
    fake[2] = rng.integers(0, 256, size=(4, 8, 8), dtype=np.uint8)
    fake[2, 3] = 255
    index, dist = novelty.nearest_real(torch.from_numpy(fake), torch.from_numpy(real))
    assert index[0] == 3 and dist[0] == 0.0
    assert index[1] == 10 and 0 < dist[1] < 8.0
    assert dist[2] > 40
    stats = novelty.novelty_stats(dist, threshold=4.0)
    assert stats["exact_copies"] == 1
    expected = float(np.mean(dist >= 4.0))
    assert stats["novelty"] == pytest.approx(expected)
    assert novelty.novelty_stats(dist, threshold=0.0)["novelty"] == 1.0
    assert novelty.novelty_stats(dist, threshold=1000.0)["novelty"] == 0.0
    png = novelty.write_closest_pairs(fake, real, index, dist, tmp_path / "pairs.png", count=3)
    from PIL import Image

    with Image.open(png) as img:
        assert img.size[1] > 3 * 96


def test_transparent_pixels_compare_as_white():
    a = np.zeros((1, 4, 4, 4), dtype=np.uint8)
    b = a.copy()
    b[:, :3] = 77
    _, dist = novelty.nearest_real(a, b)
    assert dist[0] == 0.0


def test_near_copy_floor_reads_a_real_set_against_its_other_half():
    """Pairs of identical images: each held-out image has its twin in the other half unless the split put both
    on one side; distinct random images are never near copies."""
    rng = np.random.default_rng(3)
    distinct = rng.integers(0, 256, (40, 4, 6, 6), dtype=np.uint8)
    distinct[:, 3] = 255
    floor = novelty.near_copy_floor(distinct)
    assert floor == {"share": 0.0, "exact_copies": 0, "n": 20}
    twins = np.concatenate([distinct[:20], distinct[:20]])
    floor = novelty.near_copy_floor(twins, seed=1)
    order = np.random.default_rng(1).permutation(40)
    rest = set(order[20:] % 20)
    expected = sum(1 for i in order[:20] if i % 20 in rest) / 20
    assert floor["share"] == pytest.approx(expected) and floor["exact_copies"] == round(expected * 20)
    assert 0 < expected < 1


def test_evaluate_errors_without_network():
    from spritegan.errors import DataError
    from spritegan.metrics.evaluate import evaluate

    rgba = torch.zeros(4, 4, 8, 8, dtype=torch.uint8)
    rgb = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(DataError, match="channels"):
        evaluate(rgba, rgb, metrics=["novelty"])
    with pytest.raises(DataError, match="KID subset size 10"):
        evaluate(rgba, rgba, metrics=["kid"], kid_subset_size=10)
    with pytest.raises(DataError, match="unknown metric"):
        evaluate(rgba, rgba, metrics=["is"])
    result = evaluate(rgba, rgba, metrics=["novelty"])
    assert result["metrics"]["novelty"] == 0.0
    json.dumps(result)


def test_sprite_metrics_on_procedural_sprites():
    procedural = pytest.importorskip("spritegan.data.procedural")
    from spritegan.metrics.sprites import possible_combinations, sprite_metrics

    images, traits = procedural.make_sprites(40, seed=0)
    fake = images.transpose(0, 3, 1, 2)
    broken = fake.copy()
    broken[:10] = 0
    broken[:10, 3] = 255
    result = sprite_metrics(broken, fake)
    assert result["sprite_valid_share"] == pytest.approx(0.75)
    distinct = len({tuple(sorted(t.items())) for t in traits[10:]})
    assert result["sprite_combos"] == distinct
    assert result["sprite_combos_possible"] == possible_combinations()
    assert result["sprite_combo_coverage_real"] == pytest.approx(
        distinct / len({tuple(sorted(t.items())) for t in traits})
    )
    assert sprite_metrics(fake)["sprite_valid_share"] == 1.0
    # the 10 blanked sprites are unreadable (a flat block), the 30 others exact copies of the real ones
    assert result["sprite_readable_share"] == pytest.approx(0.75)
    assert result["sprite_novel_valid_share"] == 0.0
    novel = sprite_metrics(fake[20:], fake[:20])["sprite_novel_valid_share"]
    seen = {tuple(sorted(t.items())) for t in traits[:20]}
    assert novel == pytest.approx(sum(tuple(sorted(t.items())) not in seen for t in traits[20:]) / 20)


def test_training_data_options_rebuild_tiles_and_resize(tmp_path):
    from spritegan.metrics.evaluate import training_data_options

    sheet = tmp_path / "sheet.png"
    sheet.write_bytes(b"")
    assert training_data_options({"source": str(sheet), "size": [24, 24], "resize": None}) == {
        "tile": "24x24"
    }
    manifest = {
        "source": str(sheet),
        "size": [32, 32],
        "resize": {"from_sizes": [[24, 20]], "resize_to": [32, 32], "resample": "nearest"},
    }
    assert training_data_options(manifest) == {"resize": "32x32", "resample": "nearest", "tile": "20x24"}
    assert training_data_options({"source": "builtin:sprites:64", "size": [32, 32]}) == {}


def test_slerp_endpoints_and_norm():
    from spritegan.metrics.ppl import slerp

    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 16, generator=gen), torch.randn(5, 16, generator=gen)
    start = slerp(a, b, torch.zeros(5))
    end = slerp(a, b, torch.ones(5))
    torch.testing.assert_close(start, a / a.norm(dim=1, keepdim=True))
    torch.testing.assert_close(end, b / b.norm(dim=1, keepdim=True))
    mid = slerp(a, b, torch.full((5,), 0.3))
    torch.testing.assert_close(mid.norm(dim=1), torch.ones(5))


def test_ppl_with_stub_generator_and_features():
    from spritegan.metrics.ppl import perceptual_path_length

    def synthesize(z, labels=None):
        return torch.tanh(z.double()).reshape(len(z), 1, 4, 4)

    def flat(images):
        return images.reshape(len(images), -1).numpy()

    smooth = perceptual_path_length(synthesize, 16, num_samples=40, batch_size=16, feature_fn=flat)
    steep = perceptual_path_length(
        lambda z, labels=None: synthesize(10 * z), 16, num_samples=40, batch_size=16, feature_fn=flat
    )
    assert 0 < smooth["ppl"] < steep["ppl"]
    assert smooth["ppl_samples"] == 40 and "Inception" in smooth["ppl_variant"]


def test_fid_label_names_the_sample_count():
    from spritegan.metrics.evaluate import fid_label

    assert fid_label(5000) == "FID-5k"
    assert fid_label(10000) == "FID-10k"
    assert fid_label(500) == "FID-500"
    assert fid_label(1500) == "FID-1500"


def test_evaluate_pixelart_reports_real_floor_and_seconds():
    from spritegan.metrics.evaluate import DEFAULT_METRICS, evaluate

    assert DEFAULT_METRICS == ("fid", "kid", "pixelart")
    real = torch.zeros(6, 4, 5, 5, dtype=torch.uint8)
    real[:, :, 1:3, 1:3] = torch.tensor([200, 10, 10, 255], dtype=torch.uint8).view(1, 4, 1, 1)
    fake = real.clone()
    fake[:3, 0, 1, 1] = 9  # off-palette and stray, once per image for the first half
    fake[3:, :, 4, 4] = 255  # a white speck in the corner: off-palette, isolated, stray
    result = evaluate(fake, real, metrics=["pixelart"])
    m, floor = result["metrics"], result["real_floor"]
    assert floor == {
        "pixelart_off_palette": 0.0,
        "pixelart_isolated": 0.0,
        "pixelart_stray": 0.0,
        "pixelart_alpha_levels": 2,
        "pixelart_off_alpha": 0.0,
        "pixelart_visible_share": 0.16,
        "pixelart_missing_colours": 0,
        "pixelart_colour_tv": 0.0,
    }
    assert m["pixelart_off_palette"] == pytest.approx(6 / 27)
    # off-palette samples are read snapped to the palette: every visible pixel then the one colour
    assert m["pixelart_missing_colours"] == 0 and result["colour_coverage_snapped"]
    assert m["pixelart_colour_tv"] == pytest.approx(0.0)
    assert m["pixelart_isolated"] == pytest.approx(3 / 27)
    assert m["pixelart_stray"] == pytest.approx(6 / 27)
    assert result["palette_size"] == 1 and result["seconds"] >= 0 and "fid_label" not in result
    given = evaluate(fake, real, metrics=["pixelart"], palette=[[9, 10, 10, 255]], alpha_levels=[0])
    assert given["real_floor"]["pixelart_off_palette"] == 1.0
    assert given["real_floor"]["pixelart_off_alpha"] == 0.16
    json.dumps(result)


def test_format_table_shows_fid_label_and_floors():
    from spritegan.commands.eval import format_table

    result = {
        "n_fake": 500,
        "n_real": 10000,
        "fid_label": "FID-500",
        "standard_protocol": False,
        "metrics": {"fid": 61.5, "kid_mean": 0.02, "kid_std": 0.001, "pixelart_stray": 0.31},
        "real_floor": {"pixelart_stray": 0.0012},
        "timings_s": {"real_features": 1.0, "fake_features": 2.0},
        "seconds": 3.25,
    }
    text = format_table(result)
    assert text.splitlines()[0].startswith("FID-500 (in-training signal only")
    assert any(line.split()[:2] == ["FID-500", "61.5000"] for line in text.splitlines())
    stray = next(line for line in text.splitlines() if line.startswith("stray-colour pixels"))
    assert stray.split()[-2:] == ["0.3100", "0.0012"]
    assert "3.2 in all" in text or "3.3 in all" in text
    result.update(n_fake=5000, fid_label="FID-5k", standard_protocol=True)
    assert format_table(result).splitlines()[0].startswith("FID-5k (standard protocol): 5,000 generated")


def test_eval_run_records_counts_seconds_and_floors(tiny_run, capsys):
    from spritegan.cli import main

    assert main(["eval", str(tiny_run), "--samples", "8", "--metrics", "pixelart,sprites"]) == 0
    out = capsys.readouterr()
    assert "off-palette pixels" in out.out and "real floor" in out.out
    assert "sampling 8 images" in out.err
    record = json.loads((tiny_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["n_fake"] == 8 and record["n_real"] == 64 and record["seconds"] > 0
    assert record["real_floor"]["pixelart_off_palette"] == 0.0
    assert record["real_floor"]["sprite_valid_share"] == 1.0
    assert 0.0 <= record["metrics"]["pixelart_stray"] <= 1.0


def test_colour_confusions_name_a_near_colour_swap_and_where_it_is():
    import numpy as np

    from spritegan.data import procedural as P
    from spritegan.metrics.sprites import colour_confusions

    traits = P.traits_from_index(123)
    hwc = P.render_sprite(traits).copy()  # (32, 32, 4)
    outline = np.all(hwc == P.PALETTE[P._IDX["outline"]], axis=2)
    rows = np.nonzero(outline.any(1))[0]
    swapped = outline & (np.arange(32)[:, None] == rows[0])  # the top outline row in the glasses' black
    hwc[swapped] = P.PALETTE[P._IDX["glasses"]]
    exact = np.transpose(P.render_sprite(traits), (2, 0, 1))
    result = colour_confusions(np.stack([np.transpose(hwc, (2, 0, 1)), exact]))
    n = int(swapped.sum())
    assert result["confusions"] == [{"drawn": "glasses", "wanted": "outline", "share": 1.0}]
    assert abs(result["mean_agreement"] - (1 - n / 1024 / 2)) < 1e-9
    assert (
        abs(result["wrong_by_row"][rows[0]] - n / 32 / 2) < 1e-9 and sum(result["wrong_by_row"]) * 32 * 2 == n
    )
