"""Atlases for game engines (spritegan.export.atlas, `generate --atlas`, `morph --atlas`).

Every frame rectangle of both JSON layouts is cut back out of the atlas PNG as read from disk and compared
with the sprite, byte for byte; both JSON files are validated against JSON schemas written from the
formats' documentation (tests/data/*.schema.json: no maintained Python parser of either format exists).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import torch
from PIL import Image

from spritegan.cli import main
from spritegan.export.atlas import (
    MAX_SIDE,
    Tag,
    as_rgba,
    aseprite_json,
    atlas_paths,
    pack_atlas,
    save_atlas,
    shelf_layout,
    texturepacker_json,
)
from spritegan.generate.morph import morph_frames
from spritegan.generate.pipeline import SpritePipeline
from spritegan.generate.postprocess import upscale

DATA = Path(__file__).resolve().parent / "data"
DCGAN = DATA / "pinned-dcgan.safetensors"
STYLEGAN = DATA / "pinned-stylegan.safetensors"


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((DATA / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


TEXTUREPACKER = _validator("texturepacker-json-hash.schema.json")
ASEPRITE = _validator("aseprite-json.schema.json")


def frames_of(data: dict) -> list[tuple[str, dict]]:
    """(name, frame entry) in file order from either layout (hash keyed by name, or array with filename)."""
    if isinstance(data["frames"], dict):
        return list(data["frames"].items())
    return [(f["filename"], f) for f in data["frames"]]


def read_atlas(folder: Path, stem: str = "atlas") -> tuple[np.ndarray, dict, dict]:
    """The PNG as PIL reads it from disk and both JSON files, each checked by its schema and for the facts a
    schema cannot state (image name and size, rectangles inside the image, tags and animations in range)."""
    png, tp_path, ase_path = atlas_paths(folder, stem)
    image = Image.open(png)
    assert image.mode == "RGBA"
    pixels = np.asarray(image)
    tp, ase = json.loads(tp_path.read_text()), json.loads(ase_path.read_text())
    TEXTUREPACKER.validate(tp)
    ASEPRITE.validate(ase)
    for data in (tp, ase):
        assert data["meta"]["image"] == png.name
        assert data["meta"]["size"] == {"w": image.width, "h": image.height}
        for _, f in frames_of(data):
            r = f["frame"]
            assert 0 <= r["x"] and r["x"] + r["w"] <= image.width and r["y"] + r["h"] <= image.height
            assert f["sourceSize"] == {"w": r["w"], "h": r["h"]} and not f["rotated"] and not f["trimmed"]
    assert [n for n, _ in frames_of(tp)] == [n for n, _ in frames_of(ase)]
    for name, frame in frames_of(ase):
        assert tp["frames"][name]["frame"] == frame["frame"]
    for tag in ase["meta"]["frameTags"]:
        assert 0 <= tag["from"] <= tag["to"] < len(ase["frames"])
    for names in tp.get("animations", {}).values():
        assert set(names) <= set(tp["frames"])
    return pixels, tp, ase


def cut(pixels: np.ndarray, entry: dict) -> np.ndarray:
    r = entry["frame"]
    return pixels[r["y"] : r["y"] + r["h"], r["x"] : r["x"] + r["w"]]


def assert_frames_equal(pixels: np.ndarray, data: dict, expected: dict[str, np.ndarray]) -> None:
    """Every named frame cut from the atlas equals its (H, W, 4) sprite byte for byte, and nothing is missing."""
    frames = frames_of(data)
    assert [n for n, _ in frames] == list(expected)
    for name, entry in frames:
        got = cut(pixels, entry)
        assert got.shape == expected[name].shape and got.tobytes() == expected[name].tobytes(), name


def _odd_sprites() -> list[np.ndarray]:
    """Sprites of odd sizes and every channel count, with see-through pixels whose RGB is not zero."""
    rng = np.random.default_rng(7)
    rgba = rng.integers(0, 256, (32, 24, 4), dtype=np.uint8)
    rgba[::3, :, 3] = 0  # transparent rows keep their colour bytes
    rgba[1::3, :, 3] = 128
    return [
        rgba,
        rng.integers(0, 256, (32, 24, 4), dtype=np.uint8),
        rng.integers(0, 256, (10, 7, 3), dtype=np.uint8),
        rng.integers(0, 256, (5, 3), dtype=np.uint8),
        rng.integers(0, 256, (1, 1, 4), dtype=np.uint8),
    ]


@pytest.mark.parametrize(("padding", "extrude"), [(0, 0), (1, 0), (2, 1), (3, 2)])
def test_frames_cut_back_out_of_the_png_byte_for_byte(tmp_path, padding, extrude):
    sprites = _odd_sprites()
    names = ["hero", "hero-2", "rgb", "grey", "dot"]
    tags = [Tag("walk", 0, 1, "pingpong"), Tag("all", 0, 4)]
    atlas = pack_atlas(sprites, names, padding=padding, extrude=extrude)
    save_atlas(atlas, tmp_path, durations=[100, 120, 80, 80, 40], tags=tags)
    pixels, tp, ase = read_atlas(tmp_path)
    expected = dict(zip(names, as_rgba(sprites), strict=True))
    assert expected["hero"].tobytes() == sprites[0].tobytes()  # RGBA taken as is, alpha 0 and 128 kept
    assert (expected["rgb"][..., 3] == 255).all() and (expected["grey"][..., 0] == sprites[3]).all()
    for data in (tp, ase):
        assert_frames_equal(pixels, data, expected)
    assert [f["duration"] for f in ase["frames"]] == [100, 120, 80, 80, 40]
    assert ase["meta"]["frameTags"] == [
        {"name": "walk", "from": 0, "to": 1, "direction": "pingpong"},
        {"name": "all", "from": 0, "to": 4, "direction": "forward"},
    ]
    assert tp["animations"] == {"walk": ["hero", "hero-2"], "all": names}
    # cells (frame + extrude) lie `padding` apart and from the border; extrude repeats the frame's edge;
    # every other pixel is transparent black
    e = extrude
    cells = [(x - e, y - e, x + w + e, y + h + e) for x, y, w, h in atlas.rects]
    height, width = pixels.shape[:2]
    covered = np.zeros((height, width), bool)
    for i, (x0, y0, x1, y1) in enumerate(cells):
        assert min(x0, y0) >= padding and x1 + padding <= width and y1 + padding <= height
        for a0, b0, a1, b1 in cells[i + 1 :]:
            assert a0 >= x1 + padding or x0 >= a1 + padding or b0 >= y1 + padding or y0 >= b1 + padding
        grown = np.pad(expected[atlas.names[i]], ((e, e), (e, e), (0, 0)), mode="edge")
        assert pixels[y0:y1, x0:x1].tobytes() == grown.tobytes()
        covered[y0:y1, x0:x1] = True
    assert (pixels[~covered] == 0).all()


def test_layout_is_a_deterministic_grid_for_equal_sprites():
    corners, size = shelf_layout([(24, 32)] * 10, padding=1)
    assert corners == shelf_layout([(24, 32)] * 10, padding=1)[0]
    xs, ys = sorted({x for x, _ in corners}), sorted({y for _, y in corners})
    assert xs == [1 + 25 * i for i in range(len(xs))] and ys == [1 + 33 * i for i in range(len(ys))]
    assert corners[: len(xs)] == [(x, 1) for x in xs]  # input order, row by row
    assert size == (1 + 25 * len(xs), 1 + 33 * len(ys)) and len(xs) * len(ys) >= 10 > len(xs) * (len(ys) - 1)
    corners, size = shelf_layout([(24, 32)] * 10, padding=1, max_width=60)
    assert size[0] <= 60 and len({x for x, _ in corners}) == 2


def test_layout_and_inputs_refused_with_reasons():
    with pytest.raises(ValueError, match="over 16384"):
        shelf_layout([(MAX_SIDE, 8)])
    with pytest.raises(ValueError, match="does not fit"):
        shelf_layout([(24, 32)], max_width=20)
    with pytest.raises(ValueError, match="unique"):
        pack_atlas(_odd_sprites()[:2], ["a", "a"])
    with pytest.raises(ValueError, match="2 sprites but 1 names"):
        pack_atlas(_odd_sprites()[:2], ["a"])
    with pytest.raises(ValueError, match="uint8"):
        pack_atlas([np.zeros((4, 4, 4), np.float32)], ["a"])
    atlas = pack_atlas(_odd_sprites()[:2], ["a", "b"])
    with pytest.raises(ValueError, match="outside"):
        texturepacker_json(atlas, "a.png", [Tag("t", 0, 2)])
    with pytest.raises(ValueError, match="direction"):
        aseprite_json(atlas, "a.png", 100, [Tag("t", 0, 1, "backwards")])
    with pytest.raises(ValueError, match="durations"):
        aseprite_json(atlas, "a.png", [100])


def test_schemas_refuse_what_engines_would_misread():
    atlas = pack_atlas(_odd_sprites()[:2], ["a", "b"])
    tp, ase = texturepacker_json(atlas, "a.png"), aseprite_json(atlas, "a.png", 100, [Tag("t", 0, 1)])
    TEXTUREPACKER.validate(tp)
    ASEPRITE.validate(ase)
    bad = [
        (TEXTUREPACKER, {**tp, "frames": {"a": {**tp["frames"]["a"], "frame": {"x": 0, "y": 0, "w": 3}}}}),
        (TEXTUREPACKER, {**tp, "meta": {**tp["meta"], "scale": 1}}),
        (TEXTUREPACKER, {"frames": tp["frames"]}),
        (
            ASEPRITE,
            {**ase, "frames": [{k: v for k, v in f.items() if k != "duration"} for f in ase["frames"]]},
        ),
        (ASEPRITE, {**ase, "meta": {**ase["meta"], "frameTags": [{"name": "t", "from": 0, "to": 1}]}}),
        (ASEPRITE, {**ase, "meta": {**ase["meta"], "format": "RGB"}}),
    ]
    for validator, data in bad:
        assert not validator.is_valid(data)


def test_torch_batches_are_read_as_nchw():
    batch = torch.randint(0, 256, (3, 4, 5, 7), dtype=torch.uint8)
    frames = as_rgba(batch)
    assert [f.shape for f in frames] == [(5, 7, 4)] * 3
    assert frames[1].tobytes() == batch[1].permute(1, 2, 0).contiguous().numpy().tobytes()
    assert as_rgba(batch.permute(0, 2, 3, 1).numpy())[2].tobytes() == frames[2].tobytes()


def test_generate_atlas_holds_every_sprite_byte_for_byte(tmp_path):
    out = tmp_path / "g"
    seeds = [3, 4, 5, 9, 11, -2, 123456789]
    args = ["generate", str(DCGAN), "--seeds", ",".join(map(str, seeds)), "--scale", "3", "--atlas"]
    assert main([*args, "--out", str(out)]) == 0
    pixels, tp, ase = read_atlas(out)
    sprites = upscale(SpritePipeline.from_run(DCGAN)(seeds), 3)
    expected = {f"seed{s:06d}": img.permute(1, 2, 0).numpy() for s, img in zip(seeds, sprites, strict=True)}
    for data in (tp, ase):
        assert_frames_equal(pixels, data, expected)
    for name, entry in frames_of(tp):  # and the same bytes as the sprite's own PNG
        assert cut(pixels, entry).tobytes() == np.asarray(Image.open(out / f"{name}.png")).tobytes()
    assert tp["meta"]["scale"] == "1" and "animations" not in tp and ase["meta"]["frameTags"] == []
    before = (out / "atlas.png").read_bytes()
    assert main([*args, "--out", str(out)]) == 0  # the same seeds write the same atlas
    assert (out / "atlas.png").read_bytes() == before


def test_generate_atlas_refuses_before_writing(tmp_path, capsys):
    out = tmp_path / "g"
    assert main(["generate", str(DCGAN), "--seeds", "1,2,1", "--atlas", "--out", str(out)]) == 2
    assert "--atlas: --seeds names seed 1 twice" in capsys.readouterr().err
    assert main(["generate", str(DCGAN), "-n", "100000", "--scale", "32", "--atlas", "--out", str(out)]) == 2
    assert "smaller --scale" in capsys.readouterr().err
    (out / "atlas.json").mkdir(parents=True)
    assert main(["generate", str(DCGAN), "-n", "2", "--atlas", "--out", str(out)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["atlas.json"]


@pytest.mark.parametrize(("model", "space"), [(STYLEGAN, "w"), (DCGAN, "z")])
def test_morph_atlas_frames_in_order_with_a_tag_and_durations(tmp_path, model, space):
    gif = tmp_path / "walk.gif"
    cmd = ["morph", str(model), "--seeds", "3,17", "--frames", "12", "--scale", "2", "--fps", "8"]
    assert main([*cmd, "--space", space, "--atlas", "--out", str(gif)]) == 0
    pixels, tp, ase = read_atlas(tmp_path, "walk_atlas")
    frames, _ = morph_frames(SpritePipeline.from_run(model), [3, 17], 12, space)
    names = [f"walk-{i:02d}" for i in range(12)]
    expected = {n: f.permute(1, 2, 0).numpy() for n, f in zip(names, upscale(frames, 2), strict=True)}
    for data in (tp, ase):
        assert_frames_equal(pixels, data, expected)
    assert [f["duration"] for f in ase["frames"]] == [125] * 12  # 1000 / --fps ms (a GIF keeps 120: cs)
    assert ase["meta"]["frameTags"] == [{"name": "walk", "from": 0, "to": 11, "direction": "forward"}]
    assert tp["animations"] == {"walk": names}
