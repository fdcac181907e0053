"""Seamless tiles: the built-in tile set, the seam measure, circular G and D, torus rolls for D, the CLI
(`train --tileable`, `generate --tile-repeat`, `eval`) and the studio's tile view."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from spritegan.cli import main
from spritegan.config import build_config
from spritegan.data.augment import torus_roll
from spritegan.data.dataset import open_dataset
from spritegan.data.tiles import MATERIALS, PALETTES, SIZES, make_tile, make_tiles, tile_repeat
from spritegan.errors import DataError, SpriteganError
from spritegan.metrics.evaluate import evaluate
from spritegan.metrics.tiles import phase_steps, seam_measures, seam_with_floor
from spritegan.models import build_discriminator, build_generator


def _chw(tiles: np.ndarray) -> np.ndarray:
    return tiles.transpose(0, 3, 1, 2)


# ---- the built-in tile set -------------------------------------------------------------------------------
def test_real_tiles_have_no_seam_and_are_not_flat() -> None:
    tiles, _ = make_tiles(900)
    m = seam_measures(_chw(tiles))
    assert 0.94 < m["tile_seam_ratio"] < 1.06  # the wrap-around step is one more interior step
    assert m["tile_interior_diff"] > 8 and m["tile_std"] > 15
    # the measure can fail: halves of two different tiles put side by side show their seam
    spliced = np.concatenate([tiles[:, :, 8:], tiles[::-1, :, :8]], axis=2)
    assert seam_measures(_chw(spliced))["tile_seam_ratio"] > 2.0


def test_every_material_is_seamless_and_palette_exact() -> None:
    tiles, materials = make_tiles(9 * 60, seed=3)
    assert materials[:9] == list(MATERIALS)
    for name in MATERIALS:
        group = tiles[[m == name for m in materials]]
        ratio = seam_measures(_chw(group))["tile_seam_ratio"]
        assert 0.8 < ratio < 1.2, (name, ratio)
        colours = {tuple(c) for c in group.reshape(-1, 3).tolist()}
        assert colours <= set(PALETTES[name]), name
        assert len(colours) >= 3, name


def test_tiles_are_deterministic_by_seed_and_prefix_stable() -> None:
    a, _ = make_tiles(18, seed=0)
    b, _ = make_tiles(9, seed=0)
    assert np.array_equal(a[:9], b) and np.array_equal(a, make_tiles(18, seed=0)[0])
    assert not np.array_equal(a, make_tiles(18, seed=1)[0])
    assert len({t.tobytes() for t in a}) == 18  # variations: no two tiles alike
    for size in SIZES:
        assert make_tile("brick", 5, size).shape == (size, size, 3)
    with pytest.raises(ValueError, match="tile size 20"):
        make_tile("brick", 5, 20)


def test_builtin_tiles_source_has_material_labels() -> None:
    ds = open_dataset("builtin:tiles:27")
    assert tuple(ds.images.shape) == (27, 3, 16, 16) and ds.mode == "RGB"
    spec = ds.manifest["labels"]["material"]
    assert spec["kind"] == "categorical" and spec["classes"] == sorted(MATERIALS)
    named = [spec["classes"][i] for i in ds.labels["material"].tolist()]
    assert named == [MATERIALS[i % 9] for i in range(27)]
    assert len(ds.manifest["palette"]) == sum(len(p) for p in PALETTES.values())
    assert tuple(open_dataset("builtin:tiles:9:24").images.shape) == (9, 3, 24, 24)
    for bad, message in (
        ("builtin:tiles:0", "must be positive"),
        ("builtin:tiles:9:20", "tile size 20"),
        ("builtin:tyles", "builtin:tiles"),
    ):
        with pytest.raises(DataError, match=message):
            open_dataset(bad)


def test_tile_repeat_numpy_and_torch() -> None:
    x = np.arange(2 * 3 * 4 * 5, dtype=np.uint8).reshape(2, 3, 4, 5)
    r = tile_repeat(x, 3)
    assert r.shape == (2, 3, 12, 15) and np.array_equal(r[:, :, 4:8, 10:15], x)
    assert torch.equal(tile_repeat(torch.from_numpy(x), 3), torch.from_numpy(r))


# ---- the seam measure ------------------------------------------------------------------------------------
def test_seam_measure_by_hand() -> None:
    # one 1-channel 2x3 image: rows [0 10 20], [0 10 20]; interior steps 10, 10, 10, 10 (cols), 0, 0, 0 (rows)
    x = np.array([[[[0, 10, 20], [0, 10, 20]]]], dtype=np.uint8)
    m = seam_measures(x)
    assert m["tile_interior_diff"] == pytest.approx(40 / 7)
    assert m["tile_seam_diff"] == pytest.approx((20 + 20 + 0 + 0 + 0) / 5)  # 2 rows wrap by 20, 3 cols by 0
    flat = seam_measures(np.full((2, 3, 4, 4), 7, np.uint8))
    assert flat["tile_interior_diff"] == 0 and flat["tile_std"] == 0 and np.isnan(flat["tile_seam_ratio"])


def test_phase_steps_are_flat_for_real_tiles_and_peak_at_a_seam() -> None:
    tiles = _chw(make_tiles(900)[0])
    steps = phase_steps(tiles)
    assert steps.shape == (16,) and steps.max() / steps.min() < 1.1
    assert steps.mean() == pytest.approx(seam_measures(tiles)["tile_interior_diff"], rel=0.02)
    spliced = np.concatenate([tiles[..., 8:], tiles[::-1, ..., :8]], axis=3)
    assert phase_steps(spliced).argmax() in (7, 15)


def test_seam_metric_in_the_table_reports_the_real_floor() -> None:
    tiles = _chw(make_tiles(90)[0])
    shifted = _chw(np.roll(make_tiles(90)[0], 5, axis=2))  # rolled tiles are as seamless
    result = evaluate(torch.from_numpy(shifted), torch.from_numpy(tiles), metrics=["tiles"])
    got, floor = result["metrics"], result["real_floor"]
    assert floor["tile_seam_ratio"] == pytest.approx(seam_measures(tiles)["tile_seam_ratio"])
    assert got["tile_interior_vs_real"] == pytest.approx(1.0, abs=0.05)
    noise = np.random.default_rng(0).integers(0, 256, tiles.shape, dtype=np.uint8)
    assert seam_with_floor(noise, tiles)["metrics"]["tile_interior_vs_real"] > 3  # not like the real tiles


# ---- circular G and D ------------------------------------------------------------------------------------
def _model_cfg(tileable: bool, **extra):
    cfg = build_config(
        "sprite",
        {
            "model.tileable": tileable,
            "model.channels": 3,
            "model.image_size": [16, 16],
            "model.g_width": 8,
            "model.d_width": 8,
            "model.z_dim": 8,
            "model.head": "rgb",
            **extra,
        },
    )
    return cfg.model


def _start_rolled(G, z: torch.Tensor) -> torch.Tensor:
    """G(z) with its start grid (h0 x w0 cells, after the linear projection) rolled by (1, 2) cells."""
    h0, w0 = G.start

    def roll(_module, _inputs, out):
        return out.view(len(out), -1, h0, w0).roll((1, 2), (2, 3)).reshape(len(out), -1)

    handle = G.project.register_forward_hook(roll)
    try:
        return G(z)
    finally:
        handle.remove()


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"model.g_upsample": "convT"},
        {"model.head": "palette", "model.palette_colors": 6, "model.init": "glorot"},  # glorot: not flat
    ],
    ids=["nearest", "convT", "palette-head"],
)
def test_tileable_generator_is_a_torus(extra: dict) -> None:
    """Rolling G's start grid by one cell rolls its image by one cell's pixels, exactly: every pixel, the
    border ones too, sees its neighbours across the wrap-around edge. With zero padding it does not."""
    z = torch.randn(16, 8, generator=torch.Generator().manual_seed(1))
    for tileable in (True, False):
        torch.manual_seed(0)
        G = build_generator(_model_cfg(tileable, **extra)).eval()
        if "model.head" in extra:
            G.set_palette(torch.randint(0, 256, (6, 3), generator=torch.Generator().manual_seed(2)))
        with torch.no_grad():
            plain, rolled = G(z), _start_rolled(G, z)  # a palette G forwards start/project to its body
        assert len(plain.unique()) > 6  # images, not flat colour
        cell = 16 // G.start[0]
        expected = plain.roll((cell, 2 * cell), (2, 3))
        if tileable:
            assert torch.allclose(rolled, expected, atol=1e-6)
        else:
            assert not torch.allclose(rolled, expected, atol=1e-4)


def test_untrained_tileable_generator_has_a_smaller_seam() -> None:
    z = torch.randn(128, 8, generator=torch.Generator().manual_seed(1))
    ratios = {}
    for tileable in (True, False):
        torch.manual_seed(0)
        G = build_generator(_model_cfg(tileable)).eval()
        with torch.no_grad():
            ratios[tileable] = seam_measures((G(z) + 1) * 127.5)["tile_seam_ratio"]
    assert ratios[True] < 1.2 < 1.5 < ratios[False]


def test_tileable_discriminator_pads_circularly_and_others_are_refused() -> None:
    D = build_discriminator(_model_cfg(True))
    convs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.padding_mode == "circular" for m in convs)
    assert all(
        m.padding_mode == "zeros"
        for m in build_discriminator(_model_cfg(False)).modules()
        if isinstance(m, torch.nn.Conv2d)
    )
    with pytest.raises(SpriteganError, match="model.arch=stylegan"):
        build_generator(_model_cfg(True, **{"model.arch": "stylegan"}))
    with pytest.raises(SpriteganError, match="18x18 tile"):
        build_generator(_model_cfg(True, **{"model.image_size": [18, 18]}))


# ---- torus rolls for D -----------------------------------------------------------------------------------
def test_torus_roll_rolls_each_image_and_keeps_gradients() -> None:
    x = torch.randn(6, 3, 8, 8, requires_grad=True)
    y = torus_roll(x, torch.Generator().manual_seed(0))
    shifts = []
    for i in range(6):
        found = [
            (dy, dx) for dy in range(8) for dx in range(8) if torch.equal(y[i], x[i].roll((dy, dx), (1, 2)))
        ]
        assert found, i
        shifts.append(found[0])
    assert len(set(shifts)) > 1
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_trainer_shows_d_rolled_images(tmp_path: Path) -> None:
    from spritegan.train.loop import Trainer, fit_model_to_data

    cfg = build_config(
        "sprite",
        {
            "data.source": "builtin:tiles:18",
            "model.tileable": True,
            "model.g_width": 8,
            "model.d_width": 8,
            "model.z_dim": 8,
            "model.head": "rgb",
            "train.diffaug": "",
            "train.threads": 1,
            "train.sample_grid": 4,
        },
    )
    ds = open_dataset(cfg.data.source)
    fit_model_to_data(cfg, ds, conditional=False)
    trainer = Trainer(cfg, ds, tmp_path / "run")
    x = torch.randn(8, 3, 16, 16)
    torch.manual_seed(0)
    seen = trainer.diffaug(x)
    assert not torch.equal(seen, x)
    for a, b in zip(seen, x, strict=True):
        assert any(torch.equal(a, b.roll((dy, dx), (1, 2))) for dy in range(16) for dx in range(16))


# ---- the commands and the studio -------------------------------------------------------------------------
TINY_TRAIN = [
    "--set", "model.g_width=8", "--set", "model.d_width=8", "--set", "model.z_dim=8",
    "--set", "model.max_channels=32", "--set", "train.batch_size=8", "--set", "train.threads=1",
    "--set", "train.sample_every=2", "--set", "train.checkpoint_every=3", "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def tile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("tiles") / "run"
    args = ["train", "--data", "builtin:tiles:36", "--tileable", "--conditional", "--out", str(run)]
    assert main([*args, "--max-steps", "3", *TINY_TRAIN]) == 0
    return run


def test_train_tileable_writes_a_tileable_run(tile_run: Path) -> None:
    from spritegan.generate.pipeline import SpritePipeline

    assert "tileable: true" in (tile_run / "config.yaml").read_text()
    pipe = SpritePipeline.from_run(tile_run)
    assert pipe.model_config.tileable and pipe.model_config.cond_dim == 9
    convs = [m for m in pipe.generator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.padding_mode == "circular" for m in convs)


def test_generate_tile_repeat_writes_repeats(tile_run: Path, tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "g"
    assert (
        main(["generate", str(tile_run), "-n", "3", "--tile-repeat", "3", "--scale", "2", "--out", str(out)])
        == 0
    )
    one = np.asarray(Image.open(out / "seed000001.png"))
    tiled = np.asarray(Image.open(out / "seed000001-tiled.png"))
    assert tiled.shape[:2] == (96, 96) and np.array_equal(tiled, np.tile(one, (3, 3, 1)))
    assert (out / "sheet-tiled.png").is_file()
    assert json.loads((out / "generation.json").read_text())["tile_repeat"] == 3
    assert (
        main(["generate", str(tile_run), "-n", "1", "--tile-repeat", "9", "--out", str(tmp_path / "h")]) == 2
    )


def test_eval_reports_the_seam_measure_for_tileable_runs(tile_run: Path, capsys) -> None:
    assert main(["eval", str(tile_run), "--samples", "8", "--metrics", "tiles", "--no-progress"]) == 0
    table = capsys.readouterr().out
    assert "tile_seam_ratio" in table and "tile_interior_vs_real" in table and "real floor" in table
    from spritegan.metrics.evaluate import evaluate_run

    result = evaluate_run(tile_run, samples=4, metrics=["tiles"], write=False)
    assert 0.8 < result["real_floor"]["tile_seam_ratio"] < 1.25  # 36 real tiles: a noisy 1


def test_studio_shows_tileable_runs_repeated(tile_run: Path, tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    import io
    import shutil

    from fastapi.testclient import TestClient
    from PIL import Image

    from spritegan.serve.app import create_app
    from spritegan.serve.studio import Limits

    runs = tmp_path / "runs"
    (runs / "tiles").mkdir(parents=True)
    shutil.copy(tile_run / "generator.safetensors", runs / "tiles" / "generator.safetensors")
    limits = Limits(max_output_pixels=20_000)
    client = TestClient(create_app(runs, limits), base_url="http://127.0.0.1:8000")
    (model,) = client.get("/api/models").json()["models"]
    assert model["tileable"] is True
    page = client.get("/").text
    assert 'id="tile-toggle"' in page and "tileable" in client.get("/static/app.js").text
    one = client.post("/api/generate", json={"model": "tiles", "seeds": [4]})
    three = client.post("/api/generate", json={"model": "tiles", "seeds": [4], "repeat": 3})
    a, b = (np.asarray(Image.open(io.BytesIO(r.content))) for r in (one, three))
    assert b.shape[:2] == (48, 48) and np.array_equal(b, np.tile(a, (3, 3, 1)))
    data = client.post(
        "/api/generate", json={"model": "tiles", "seeds": [4, 5], "repeat": 3, "format": "json"}
    )
    assert data.json()["repeat"] == 3 and len(data.json()["sprites"]) == 2
    bad = client.post("/api/generate", json={"model": "tiles", "seeds": [4], "repeat": 5})
    assert bad.status_code == 422 and "repeat 5" in bad.json()["detail"]
    big = client.post("/api/generate", json={"model": "tiles", "count": 9, "repeat": 4})  # 9*64*64 > 20,000
    assert big.status_code == 413
