"""Speck removal at sampling: visible parts of a few pixels, found by 8-connectivity, removed except where
the training data has such parts too."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spritegan.config import ModelConfig
from spritegan.generate.pipeline import SpritePipeline
from spritegan.metrics.pixelart import pixel_counts
from spritegan.models import build_generator
from spritegan.models.despeckle import data_speck_sites, remove_specks, sites_map, speck_mask

PALETTE = torch.tensor(
    [[9, 9, 9, 255], [0, 0, 0, 0], [255, 0, 0, 255], [10, 200, 30, 128]], dtype=torch.uint8
)  # the clear colour is not first on purpose


def _mask(rows: list[str]) -> torch.Tensor:
    return torch.tensor([[c == "#" for c in row] for row in rows]).unsqueeze(0)


SCENE = _mask(
    [
        "#......#",  # a lone pixel (left) and the end of a vertical pair (right)
        ".......#",
        "........",
        "..###...",  # a body of 4 ...
        "..#.....",
        ".....#..",  # ... and a diagonal pair that touches nothing else
        "......#.",
        "........",
    ]
)


def test_speck_mask_finds_lone_pixels_then_pairs_and_leaves_bodies():
    lone = speck_mask(SCENE, 1)[0]
    assert lone.nonzero().tolist() == [[0, 0]]
    pairs = speck_mask(SCENE, 2)[0]
    assert pairs.nonzero().tolist() == [[0, 0], [0, 7], [1, 7], [5, 5], [6, 6]]
    assert not speck_mask(SCENE, 0).any()
    assert speck_mask(SCENE, 3).sum() == 5  # the body of 4 is not a speck of at most 3 pixels ...
    assert speck_mask(SCENE, 4).sum() == 9  # ... but one of at most 4
    with pytest.raises(ValueError, match="speck size 33"):
        speck_mask(SCENE, 33)


def _parts(mask: torch.Tensor) -> list[list[tuple[int, int]]]:
    """8-connected parts of one (H, W) bool mask, by breadth-first search: the reference."""
    h, w = mask.shape
    seen, parts = set(), []
    for start in zip(*torch.nonzero(mask, as_tuple=True), strict=True):
        start = (int(start[0]), int(start[1]))
        if start in seen:
            continue
        part, todo = [], [start]
        seen.add(start)
        while todo:
            y, x = todo.pop()
            part.append((y, x))
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    q = (y + dy, x + dx)
                    if 0 <= q[0] < h and 0 <= q[1] < w and mask[q] and q not in seen:
                        seen.add(q)
                        todo.append(q)
        parts.append(part)
    return parts


@pytest.mark.parametrize("density", [0.15, 0.3, 0.45])
def test_speck_mask_matches_a_breadth_first_search_at_every_size(density):
    torch.manual_seed(int(density * 100))
    masks = torch.rand(6, 14, 17) < density  # snakes, rings and blobs of every size
    for size in (1, 2, 3, 5, 8, 13):
        want = torch.zeros_like(masks)
        for i, mask in enumerate(masks):
            for part in _parts(mask):
                if len(part) <= size:
                    for y, x in part:
                        want[i, y, x] = True
        assert torch.equal(speck_mask(masks, size), want), size


def test_on_a_tile_specks_touch_across_the_edges():
    tile = _mask(["#...", "....", "....", "...#"])  # opposite corners: neighbours on a torus
    assert speck_mask(tile, 1).sum() == 2
    assert speck_mask(tile, 1, wrap=True).sum() == 0
    assert speck_mask(tile, 2, wrap=True).sum() == 2  # together they are one lone pair


def test_lone_pixels_agree_with_the_isolated_measure():
    torch.manual_seed(0)
    alpha = (torch.rand(20, 1, 16, 16) < 0.12).to(torch.uint8) * 255
    images = torch.cat([torch.full((20, 3, 16, 16), 90, dtype=torch.uint8), alpha], dim=1)
    assert int(speck_mask(images[:, 3] > 0, 1).sum()) == pixel_counts(images)["isolated"] > 0


def _rgba(mask: torch.Tensor) -> torch.Tensor:
    alpha = mask.to(torch.uint8).unsqueeze(1) * 255
    return torch.cat([torch.full((mask.shape[0], 3, *mask.shape[1:]), 40, dtype=torch.uint8), alpha], dim=1)


def test_data_speck_sites_are_where_the_data_has_small_parts():
    body = _mask(["....", ".##.", ".##.", "...."])
    assert data_speck_sites(_rgba(body), 3) == []
    assert data_speck_sites(_rgba(body), 4) == [5, 6, 9, 10]  # y * W + x
    pair = _mask(["##..", "....", "...#", "...#"])
    assert data_speck_sites(_rgba(torch.cat([body, pair])), 2) == [0, 1, 11, 15]
    assert torch.equal(sites_map([0, 1, 11, 15], (4, 4)), pair[0])


def test_train_resolves_the_speck_size_and_finds_the_sites():
    from spritegan.train.loop import fit_speck_removal

    lone = _mask(["#...", "....", ".##.", ".##."])
    cfg = ModelConfig()
    (note,) = fit_speck_removal(cfg, _rgba(lone))
    assert cfg.palette_despeckle == 8 and cfg.palette_speck_sites == [0, 9, 10, 13, 14]
    assert "except at the 5 positions" in note
    cfg = ModelConfig()
    assert fit_speck_removal(cfg, _rgba(lone)[:, :3]) == []  # RGB: no background, nothing removed
    assert cfg.palette_despeckle == 0 and cfg.palette_speck_sites == []
    cfg = ModelConfig(palette_despeckle=1)  # asked for: lone pixels only
    fit_speck_removal(cfg, _rgba(lone))
    assert cfg.palette_speck_sites == [0]


def test_remove_specks_clears_them_to_the_transparent_colour_and_keeps_the_rest():
    model_palette = PALETTE.float() / 127.5 - 1
    index = torch.where(SCENE, torch.tensor(2), torch.tensor(1))
    index[0, 3, 2] = 3  # a half-transparent pixel of the body stays: it is visible and not alone
    out = remove_specks(index, model_palette, 2)
    assert torch.equal(out == 1, ~SCENE | speck_mask(SCENE, 2))
    assert out[0, 3, 2] == 3
    assert torch.equal(remove_specks(index, model_palette, 0), index)
    assert torch.equal(remove_specks(index, model_palette[:, :3], 2), index)  # RGB: nothing to clear to
    keep = torch.zeros(8, 8, dtype=torch.bool)
    keep[6, 6] = True  # the data has a small part here: the diagonal pair stays, whole
    kept = remove_specks(index, model_palette, 2, keep=keep)
    assert kept[0, 5, 5] == 2 and kept[0, 6, 6] == 2 and kept[0, 0, 0] == 1
    assert torch.equal(remove_specks(index, model_palette, 2, keep=keep[:4]), out)  # another size: ignored


SITES = list(range(0, 240, 7))  # positions where "the data" had small parts: G's specks there stay
CLEAR_BIAS = 4.0  # an untrained G then draws 60 lone pixels and 25 lone pairs in 12 samples


def _run(tmp_path, despeckle: int):
    from spritegan.storage import save_generator

    cfg = ModelConfig(
        arch="dcgan",
        image_size=[12, 20],
        channels=4,
        z_dim=8,
        g_width=8,
        d_width=8,
        max_channels=16,
        head="palette",
        palette_colors=len(PALETTE),
        palette_despeckle=despeckle,
        palette_speck_sites=SITES,
    )
    torch.manual_seed(0)
    G = build_generator(cfg)
    G.set_palette(PALETTE)
    with torch.no_grad():  # an untrained G draws flat images: make it scatter colours, specks among them
        for p in G.body.parameters():
            p.add_(torch.randn_like(p) * 0.3)
        G.head.log_scale.fill_(0.0)
        G.head.bias[1] = CLEAR_BIAS  # mostly background
    manifest = {"alpha_levels": [0, 128, 255], "channels": 4, "mode": "RGBA", "size": [12, 20]}
    run = tmp_path / "run"
    save_generator(run / "generator.safetensors", G, {"model_config": cfg.__dict__, "manifest": manifest})
    return run


def test_pipeline_cli_and_onnx_remove_the_specks(tmp_path):
    from PIL import Image

    from spritegan.cli import main
    from spritegan.errors import SpriteganError

    run = _run(tmp_path, despeckle=2)
    seeds = list(range(12))
    pipe, plain = SpritePipeline.from_run(run), SpritePipeline.from_run(run, despeckle=0)
    clean, raw = pipe(seeds), plain(seeds)
    keep = sites_map(SITES, (12, 20))
    removable = speck_mask(raw[:, 3] > 0, 2, keep=keep)
    assert removable.sum() > 20 and speck_mask(raw[:, 3] > 0, 2).sum() > removable.sum()  # some on sites
    assert not speck_mask(clean[:, 3] > 0, 2, keep=keep).any()  # the specks off the sites are gone ...
    assert torch.equal((clean != raw).any(1), removable)  # ... and nothing else changed
    assert pipe.sampling_record["palette_despeckle"] == 2

    assert (
        main(["generate", str(run), "--seeds", "0,1", "--despeckle", "0", "--out", str(tmp_path / "g")]) == 0
    )
    written = torch.from_numpy(np.array(Image.open(tmp_path / "g" / "seed000001.png"))).permute(2, 0, 1)
    assert torch.equal(written, raw[1])
    assert json.loads((tmp_path / "g" / "generation.json").read_text())["palette_despeckle"] == 0
    with pytest.raises(SpriteganError, match="--despeckle 33"):
        SpritePipeline.from_run(run, despeckle=33)

    ort = pytest.importorskip("onnxruntime")
    from spritegan.export.onnx import export_onnx

    export_onnx(run, tmp_path / "g.onnx")
    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    feeds = {"z": pipe.latents(seeds).numpy(), "truncation": np.array([1.0], np.float32)}
    out = torch.from_numpy(sess.run(["sprites"], feeds)[0]).permute(0, 3, 1, 2)
    assert torch.equal(out, clean)


def test_training_sets_the_speck_size_from_the_data(tmp_path, capsys):
    from spritegan.cli import main

    assert main(["train", "--data", "builtin:sprites", "--dry-run", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "palette_despeckle: 8" in out and "palette_speck_sites: []" in out  # one part per sprite
    assert "removed at sampling, as the data has none" in out
