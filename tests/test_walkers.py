"""One character in every pose: builtin:walkers (decodable frames, sheets, labels), the frames-CSV route to
character sheets, `generate --atlas` on a sheet run (frames, tags, walk GIFs) and the whole-character measure."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from spritegan.data import walkers as W
from spritegan.data.dataset import open_dataset
from spritegan.errors import DataError


# ---- the built-in walkers ----------------------------------------------------------------------------------
def test_every_shape_and_pose_is_a_distinct_role_map_showing_every_colour_trait() -> None:
    maps, lookup = W._role_maps()
    assert len(maps) == len(W.SHAPES) * 16 == 768 and len(lookup) == 768  # no two poses or shapes alike
    for m in maps:
        present = set(m.tolist())
        assert W._R["skin"] in present and W._R["hair"] in present
        assert present & {W._R["cloth"], W._R["cloth_dark"]}


def test_every_character_frame_decodes_to_its_traits_direction_and_frame() -> None:
    """All 768 shapes x poses, each shape in other colours (every value of every colour trait appears with 9 or
    10 shapes), and 60 random characters' 16 frames: read_frame returns exactly what was drawn."""
    cases = []
    for i, shape in enumerate(W.SHAPES):
        colours = {
            name: W.TRAITS[name][(i * (k + 1) + k) % 5]
            for k, name in enumerate(("skin", "hair_colour", "outfit_colour"))
        }
        cases.append({**colours, **dict(zip(W.SHAPE_TRAITS, shape, strict=True))})
    for name in ("skin", "hair_colour", "outfit_colour"):
        assert {c[name] for c in cases} == set(W.TRAITS[name])
    rng = np.random.default_rng(0)
    cases += [W.traits_from_index(int(i)) for i in rng.choice(W.N_COMBINATIONS, 60, replace=False)]
    for t in cases:
        frames = W.sheet_frames(W.render_sheet(t)[None])[0]
        for k, (d, f) in enumerate(W.POSES):
            assert W.read_frame(np.ascontiguousarray(frames[k])) == (t, d, f)


def test_read_frame_rejects_what_is_not_a_walker_frame() -> None:
    t = W.traits_from_index(1234)
    frame = W.render_frame(t, "left", 2)
    assert W.read_frame(frame) is not None
    off = frame.copy()
    off[8, 8, :3] += 1  # a colour outside the palette
    assert W.read_frame(off) is None
    moved = frame.copy()
    moved[15, :] = moved[14, :]  # palette colours, but no drawn shape
    assert W.read_frame(moved) is None
    other = W.render_frame(dict(t, skin="dark" if t["skin"] != "dark" else "pale"), "left", 2)
    mixed = frame.copy()
    mixed[:, 8:] = other[:, 8:]  # two skins in one frame
    assert W.read_frame(mixed) is None
    assert W.read_frame(frame[:, :, :3]) is None and W.read_frame(frame.astype(np.int32)) is None


def test_nearest_frame_is_exact_on_frames_and_low_on_non_frames() -> None:
    sheets, traits = W.make_walkers(6, seed=2)
    frames = W.sheet_frames(sheets)
    for t, row in zip(traits, frames, strict=True):
        for k, (d, f) in enumerate(W.POSES):
            assert W.nearest_frame(np.ascontiguousarray(row[k])) == (t, d, f, 1.0)
    one = np.ascontiguousarray(frames[0, 5])
    noisy = one.copy()
    noisy[3, 3] = (1, 250, 1, 255)  # one wrong pixel: still the nearest, agreement 255/256
    assert W.nearest_frame(noisy) == (traits[0], "left", 1, 255 / 256)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    assert W.nearest_frame(noise)[3] < 0.6
    assert W.nearest_frame(np.zeros((16, 16, 4), np.uint8))[3] < 0.75  # blank: background only


def test_walkers_are_palette_exact_distinct_and_share_traits_across_their_frames() -> None:
    sheets, traits = W.make_walkers(24, seed=0)
    assert sheets.shape == (24, 64, 64, 4) and sheets.dtype == np.uint8
    assert len({tuple(sorted(t.items())) for t in traits}) == 24
    colours = {tuple(c) for c in sheets.reshape(-1, 4).tolist()}
    assert colours <= {tuple(c) for c in W.PALETTE.tolist()}
    for sheet, t in zip(sheets, traits, strict=True):
        decoded = [W.read_frame(np.ascontiguousarray(f)) for f in W.sheet_frames(sheet[None])[0]]
        assert {tuple(sorted(d[0].items())) for d in decoded} == {tuple(sorted(t.items()))}
        assert [(d[1], d[2]) for d in decoded] == W.POSES
    assert np.array_equal(W.make_walkers(8, seed=0)[0], W.make_walkers(8, seed=0)[0])


def test_builtin_walkers_give_labelled_sheets_and_walker_frames_labelled_frames() -> None:
    ds = open_dataset("builtin:walkers:12")
    assert tuple(ds.images.shape) == (12, 4, 64, 64) and ds.mode == "RGBA"
    assert ds.manifest["sheet"] == {
        "rows": ["down", "left", "right", "up"],
        "columns": ["0", "1", "2", "3"],
        "frame_size": [16, 16],
    }
    assert set(ds.label_spec) == set(W.TRAITS)
    frames = open_dataset("builtin:walker-frames:3")
    assert tuple(frames.images.shape) == (48, 4, 16, 16) and "sheet" not in frames.manifest
    spec = frames.label_spec
    assert spec["direction"]["classes"] == list(W.DIRECTIONS) and spec["frame"]["classes"] == [
        "0",
        "1",
        "2",
        "3",
    ]
    assert frames.labels["direction"].tolist()[:16] == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    assert frames.labels["frame"].tolist()[:8] == [0, 1, 2, 3, 0, 1, 2, 3]
    for column in W.TRAITS:  # a character's traits are shared by its 16 frames
        values = frames.labels[column].reshape(3, 16)
        assert (values == values[:, :1]).all()
        assert (values[:, 0] == ds.labels[column][:3]).all()
    first = np.ascontiguousarray(frames.images[17].permute(1, 2, 0).numpy())
    decoded = W.read_frame(first)
    assert decoded is not None and decoded[1:] == ("down", 1)
    assert decoded[0]["hair"] == spec["hair"]["classes"][int(frames.labels["hair"][17])]
    for bad in ("builtin:walkers:0", "builtin:walkers:x", "builtin:walkers:3:2"):
        with pytest.raises(DataError, match="walker"):
            open_dataset(bad)


# ---- a user's frames through a labels CSV ---------------------------------------------------------------------
def _write_frames(
    folder: Path, characters: dict[str, dict[str, str]], rows=W.DIRECTIONS, cols=range(4)
) -> Path:
    """Each character's frames as PNGs named NAME_DIRECTION_FRAME.png (rows in a shuffled order), and the CSV."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, traits in characters.items():
        for d in rows:
            for f in cols:
                file = f"{name}_{d}_{f}.png"
                Image.fromarray(W.render_frame(traits, W.DIRECTIONS[list(rows).index(d)], f)).save(
                    folder / file
                )
                lines.append(
                    {"file": file, "character": name, "direction": d, "frame": str(f), "team": name[0]}
                )
    np.random.default_rng(0).shuffle(lines)
    table = folder / "frames.csv"
    with open(table, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(lines[0]))
        writer.writeheader()
        writer.writerows(lines)
    return table


HEROES = {
    "hero2": W.traits_from_index(10),
    "hero10": W.traits_from_index(2000),
    "ann": W.traits_from_index(5555),
}


def test_a_frames_csv_assembles_each_characters_sheet(tmp_path) -> None:
    table = _write_frames(tmp_path / "frames", HEROES)
    ds = open_dataset(tmp_path / "frames", labels_csv=table, label_columns=["team"])
    assert tuple(ds.images.shape) == (3, 4, 64, 64)
    assert ds.manifest["names"] == ["ann", "hero2", "hero10"]  # natural order
    assert ds.manifest["sheet"]["rows"] == list(W.DIRECTIONS) and ds.manifest["sheet"]["columns"] == list(
        "0123"
    )
    assert ds.manifest["sheet"]["labels_csv"] == str(table)
    for i, name in enumerate(ds.manifest["names"]):
        got = ds.images[i].permute(1, 2, 0).numpy()
        assert np.array_equal(got, W.render_sheet(HEROES[name])), name
    assert ds.label_spec == {"team": {"kind": "categorical", "classes": ["a", "h"]}}
    assert ds.labels["team"].tolist() == [0, 1, 1]
    # other grids and direction names: 2 directions (sorted: east, west) x 3 frames
    table = _write_frames(tmp_path / "small", {"a": HEROES["ann"]}, rows=("west", "east"), cols=range(3))
    small = open_dataset(tmp_path / "small", labels_csv=table)
    assert tuple(small.images.shape) == (1, 4, 32, 48) and small.manifest["sheet"]["rows"] == ["east", "west"]
    east = small.images[0, :, :16, :16].permute(1, 2, 0).numpy()
    assert np.array_equal(east, W.render_frame(HEROES["ann"], "left", 0))  # east was drawn as DIRECTIONS[1]


def _rewrite(table: Path, change) -> None:
    rows = list(csv.DictReader(open(table, newline="")))
    rows = change(rows)
    with open(table, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_a_frames_csv_refuses_missing_doubled_and_mismatched_frames_naming_the_file(tmp_path, capsys) -> None:
    from spritegan.cli import main

    def fails(folder: Path, table: Path, *pattern: str) -> None:
        with pytest.raises(DataError) as info:
            open_dataset(folder, labels_csv=table)
        message = str(info.value)
        assert "\n" not in message and str(table) in message
        for p in pattern:
            assert p in message, message

    table = _write_frames(tmp_path / "a", HEROES)
    (tmp_path / "a" / "ann_up_3.png").unlink()
    _rewrite(table, lambda rows: [r for r in rows if r["file"] != "ann_up_3.png"])
    fails(tmp_path / "a", table, "character 'ann' has no frame facing up, frame 3", "ann_")
    table = _write_frames(tmp_path / "b", HEROES)
    _rewrite(table, lambda rows: [dict(r, frame="1") if r["file"] == "hero2_left_2.png" else r for r in rows])
    fails(tmp_path / "b", table, "hero2_left_1.png", "hero2_left_2.png", "facing left, frame 1")
    sizes = _write_frames(tmp_path / "c", HEROES)
    Image.fromarray(np.zeros((24, 16, 4), np.uint8)).save(tmp_path / "c" / "hero10_down_0.png")
    fails(tmp_path / "c", sizes, "frame hero10_down_0.png is 16x24 but")
    table = _write_frames(tmp_path / "d", HEROES)
    _rewrite(table, lambda rows: [dict(r, team="z") if r["file"] == "ann_left_1.png" else r for r in rows])
    with pytest.raises(DataError, match="label 'team' differs within character 'ann'"):
        open_dataset(tmp_path / "d", labels_csv=table, label_columns=["team"])
    # through the CLI: one line, exit 2, before a run folder is made
    run = tmp_path / "run"
    args = [
        "train",
        "--data",
        str(tmp_path / "c"),
        "--labels",
        str(sizes),
        "--out",
        str(run),
        "--max-steps",
        "1",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "hero10_down_0.png is 16x24" in err and not run.exists()
    table = _write_frames(tmp_path / "e", HEROES)
    assert main(["train", "--data", str(tmp_path / "e"), "--labels", str(table), "--dry-run"]) == 0
    assert "image_size:\n  - 64\n  - 64" in capsys.readouterr().out


# ---- generation: one seed, one character's 16 frames --------------------------------------------------------
@pytest.fixture(scope="module")
def sheet_run(tmp_path_factory) -> Path:
    """An untrained tiny DCGAN saved as a run on builtin:walkers:3 (64x64 sheets): the generation path only."""
    import dataclasses

    import torch

    from spritegan.config import build_config
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.models import build_generator
    from spritegan.train.loop import fit_model_to_data

    torch.manual_seed(0)
    tiny = {"model.g_width": 4, "model.max_channels": 16, "model.z_dim": 8, "model.head": "rgb"}
    cfg = build_config("sprite", tiny)  # the RGB head: an untrained one draws frames that differ
    dataset = open_dataset("builtin:walkers:3")
    fit_model_to_data(cfg, dataset, conditional=False)
    meta = {"model_config": dataclasses.asdict(cfg.model), "manifest": dataset.manifest, "step": 0}
    folder = tmp_path_factory.mktemp("walkers-run")
    SpritePipeline(build_generator(cfg.model), meta).save_pretrained(folder)
    return folder


def _schema(name: str):
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads((Path(__file__).parent / "data" / name).read_text()))


def test_generate_atlas_cuts_each_sheet_into_named_frames_with_walk_tags_and_gifs(
    sheet_run, tmp_path, monkeypatch
):
    from spritegan.cli import main
    from spritegan.data import procedural
    from spritegan.generate.pipeline import SpritePipeline

    def forbidden(*args, **kwargs):
        raise AssertionError("generation called the procedural renderer")

    for module, name in (
        (W, "render_roles"),
        (W, "render_frame"),
        (W, "render_sheet"),
        (procedural, "render_indices"),
    ):
        monkeypatch.setattr(module, name, forbidden)
    W._role_maps.cache_clear()
    out = tmp_path / "out"
    assert (
        main(["generate", str(sheet_run), "--seeds", "1,2", "--atlas", "--scale", "2", "--out", str(out)])
        == 0
    )
    sheets = SpritePipeline.from_run(sheet_run)([1, 2])  # (2, 4, 64, 64)
    atlas = np.asarray(Image.open(out / "atlas.png"))
    tp, ase = (
        json.loads((out / "atlas.json").read_text()),
        json.loads((out / "atlas.aseprite.json").read_text()),
    )
    _schema("texturepacker-json-hash.schema.json").validate(tp)
    _schema("aseprite-json.schema.json").validate(ase)
    names = [f"char-{s:04d}/{d}-{f}" for s in (1, 2) for d in W.DIRECTIONS for f in range(4)]
    assert [f["filename"] for f in ase["frames"]] == names and list(tp["frames"]) == names
    for i, name in enumerate(names):  # every frame cut back out equals its cell of the sheet, byte for byte
        r = tp["frames"][name]["frame"]
        got = atlas[r["y"] : r["y"] + r["h"], r["x"] : r["x"] + r["w"]]
        row, col = divmod(i % 16, 4)
        cell = sheets[i // 16, :, row * 16 : row * 16 + 16, col * 16 : col * 16 + 16]
        expected = cell.repeat_interleave(2, 1).repeat_interleave(2, 2).permute(1, 2, 0).numpy()
        assert got.tobytes() == expected.tobytes(), name
    assert [f["duration"] for f in ase["frames"]] == [150] * 32
    tags = ase["meta"]["frameTags"]
    assert [t["name"] for t in tags] == [f"char-{s:04d}/{d}" for s in (1, 2) for d in W.DIRECTIONS]
    assert [(t["from"], t["to"]) for t in tags] == [(4 * k, 4 * k + 3) for k in range(8)]
    assert tp["animations"]["char-0002/up"] == [f"char-0002/up-{f}" for f in range(4)]
    for s in (1, 2):  # the sheet itself, and its walk cycle: 4 GIF frames, every direction side by side
        assert np.asarray(Image.open(out / f"seed{s:06d}.png")).shape == (128, 128, 4)
        gif = Image.open(out / f"seed{s:06d}-walk.gif")
        assert gif.n_frames == 4 and gif.size == (4 * 32 + 3 * 4, 32)
    record = json.loads((out / "generation.json").read_text())
    assert record["sheet"]["rows"] == list(W.DIRECTIONS)


def test_a_run_on_single_sprites_keeps_its_one_frame_per_seed_atlas(tmp_path) -> None:
    from spritegan.cli import main

    pinned = Path(__file__).parent / "data" / "pinned-dcgan.safetensors"
    assert main(["generate", str(pinned), "--seeds", "1,2", "--atlas", "--out", str(tmp_path)]) == 0
    assert list(json.loads((tmp_path / "atlas.json").read_text())["frames"]) == ["seed000001", "seed000002"]
    assert not list(tmp_path.glob("*-walk.gif"))


# ---- the whole-character measure -----------------------------------------------------------------------------
def test_the_walker_measure_is_one_on_real_sheets_and_zero_on_noise_and_broken_identity() -> None:
    from spritegan.metrics.evaluate import evaluate
    from spritegan.metrics.walkers import walker_metrics

    sheets, _ = W.make_walkers(12, seed=5)
    real = sheets.transpose(0, 3, 1, 2)
    got = walker_metrics(real)
    assert got["walker_pixel_perfect_share"] == got["walker_readable_share"] == 1.0
    assert got["walker_frame_readable_share"] == got["walker_mean_agreement"] == 1.0
    assert got["walker_readable_distinct"] == 12
    noise = np.random.default_rng(0).integers(0, 256, real[:4].shape, dtype=np.uint8)
    got = walker_metrics(noise)
    assert got["walker_pixel_perfect_share"] == got["walker_readable_share"] == 0
    assert got["walker_frame_readable_share"] == 0
    a, b = real[:4], real[4:8]
    mixed = a.copy()
    mixed[:, :, 16:32] = b[:, :, 16:32]  # each sheet's "left" row drawn by another character
    got = walker_metrics(mixed)
    assert got["walker_pixel_perfect_share"] == got["walker_readable_share"] == 0.0
    assert got["walker_frame_readable_share"] == 1.0  # every frame fine alone: only identity is lost
    turned = a.copy()
    turned[:, :, 16:32], turned[:, :, 32:48] = a[:, :, 32:48], a[:, :, 16:32]  # left and right swapped
    assert walker_metrics(turned)["walker_readable_share"] == 0.0
    stepped = a.copy()
    stepped[:, :, :, :16] = a[:, :, :, 16:32]  # frame 1 where frame 0 is asked
    assert walker_metrics(stepped)["walker_pixel_perfect_share"] == 0.0
    speck = a.copy()
    speck[:, :, 5, 20] = 255 - speck[:, :, 5, 20]  # one pixel off in one frame: readable, not perfect
    got = walker_metrics(speck)
    assert got["walker_readable_share"] == 1.0 and got["walker_pixel_perfect_share"] == 0.0
    table = evaluate(real[:2], real[:3], metrics=["walkers"])  # through the metric table, with its real floor
    assert (
        table["metrics"]["walker_pixel_perfect_share"] == table["real_floor"]["walker_readable_share"] == 1.0
    )


def test_the_walker_measure_checks_a_conditional_models_asked_traits() -> None:
    """Readable as asked: readable, and drawn with the traits the labels asked for (unasked traits free)."""
    import torch

    from spritegan.labels import label_layout
    from spritegan.metrics.evaluate import evaluate
    from spritegan.metrics.walkers import asked_traits, walker_metrics

    data = W.builtin("builtin:walkers:8")
    spec = {"columns": data["labels"]["columns"]}
    layout = {c.name: c for c in label_layout(spec)}
    sheets, traits = W.make_walkers(6, seed=3)
    real = sheets.transpose(0, 3, 1, 2)
    labels = torch.zeros(6, sum(c.width for c in layout.values()))
    for i, t in enumerate(traits):
        for name in ("hair", "outfit"):  # ask for two shape traits; the rest are left to the model
            col = layout[name]
            value = t[name] if i < 4 else next(v for v in col.classes if v != t[name])  # 4 right, 2 wrong
            labels[i, col.offset + col.classes.index(value)] = 1.0
    asked = asked_traits(labels, spec)
    assert asked[0] == {"hair": traits[0]["hair"], "outfit": traits[0]["outfit"]}
    assert asked_traits(torch.zeros(1, labels.shape[1]), spec) == [{}]  # the unconditional slot asks nothing
    got = walker_metrics(real, asked)
    assert got["walker_readable_share"] == 1.0 and got["walker_readable_as_asked_share"] == 4 / 6
    assert "walker_readable_as_asked_share" not in walker_metrics(real)

    class Pipe:
        label_spec = spec

    table = evaluate(real, real, metrics=["walkers"], pipeline=Pipe(), fake_labels=labels)
    assert table["metrics"]["walker_readable_as_asked_share"] == 4 / 6


def test_trait_disagreements_name_the_trait_and_row_that_break_a_character() -> None:
    from spritegan.metrics.walkers import _frames, trait_disagreements

    t = W.traits_from_index(77)
    other = dict(t, hair="ponytail" if t["hair"] != "ponytail" else "short")
    sheet = W.render_sheet(t)
    sheet[48:64, 16:32] = W.render_frame(other, "up", 1)  # one back view with the other hairstyle
    got = trait_disagreements(_frames(np.stack([W.render_sheet(t), sheet]).transpose(0, 3, 1, 2)))
    assert got["hair"] == {"down": 0, "left": 0, "right": 0, "up": 1, "characters": 1}
    assert all(v == 0 for trait, row in got.items() if trait != "hair" for v in row.values())


def test_eval_of_a_walkers_run_reads_whole_characters(sheet_run) -> None:
    from spritegan.metrics.evaluate import evaluate_run

    result = evaluate_run(sheet_run, samples=4, metrics=["walkers"], write=False)
    assert result["metrics"]["walker_readable_share"] == 0.0  # untrained: noise, nothing readable
    assert result["real_floor"]["walker_pixel_perfect_share"] == 1.0 and result["n_real"] == 3


# ---- the pose-conditional generator (model.arch=posed) ---------------------------------------------------------
def test_posed_generator_draws_each_cell_with_one_frame_network_from_one_latent() -> None:
    """Cell (row, col) of a sheet is the frame network's output for the sheet's z and that cell's pose."""
    import torch

    from spritegan.config import ModelConfig
    from spritegan.models import build_discriminator, build_generator

    cfg = ModelConfig(
        arch="posed", image_size=[64, 64], channels=4, z_dim=8, g_width=8, d_width=4, max_channels=16
    )
    torch.manual_seed(0)
    g = build_generator(cfg).eval()
    z = torch.randn(2, 8)
    with torch.no_grad():
        sheets = g(z)
        assert sheets.shape == (2, 4, 64, 64) and build_discriminator(cfg)(sheets).shape == (2,)
        for k in (0, 5, 15):
            row, col = divmod(k, 4)
            pose = torch.nn.functional.one_hot(torch.tensor([k, k]), 16).float()
            frame = g.frames(z, pose)
            cell = sheets[:, :, row * 16 : row * 16 + 16, col * 16 : col * 16 + 16]
            torch.testing.assert_close(cell, frame)
        cells = sheets[0].reshape(4, 4, 16, 4, 16).permute(1, 3, 0, 2, 4).reshape(16, 4, 16, 16)
        assert len({cell.numpy().tobytes() for cell in cells}) == 16  # the pose changes the frame


def test_stacked_posed_generator_draws_every_pose_from_one_frame_sized_pass() -> None:
    """model.posed_stack_g: one frame-sized network writes every cell's channels at each pixel (laid out as
    stack_frames reads a sheet), z and labels fed once per character; other archs refuse it in one line."""
    import torch

    from spritegan.config import ModelConfig
    from spritegan.errors import SpriteganError
    from spritegan.models import build_generator
    from spritegan.tensors import stack_frames

    cfg = ModelConfig(
        arch="posed", image_size=[32, 64], pose_grid=[2, 4], channels=4, z_dim=8, g_width=8, max_channels=16
    )
    torch.manual_seed(0)
    g = build_generator(ModelConfig(**{**cfg.__dict__, "posed_stack_g": True})).eval()
    assert g.frames.to_rgb.out_channels == 8 * 4 and g.frames.cond_dim == 0
    z = torch.randn(3, 8, requires_grad=True)
    sheets = g(z)
    assert sheets.shape == (3, 4, 32, 64)
    with torch.no_grad():
        torch.testing.assert_close(stack_frames(sheets, 2, 4), g.frames(z))
    sheets[0, :, 16:, 48:].sum().backward()  # the last cell of character 0 comes from its z alone
    assert bool((z.grad[0] != 0).any()) and not bool((z.grad[1:] != 0).any())
    plain = sum(p.numel() for p in build_generator(cfg).parameters())
    assert plain != sum(p.numel() for p in g.parameters())  # its own network, not the per-frame one
    told = build_generator(ModelConfig(**{**cfg.__dict__, "posed_stack_g": True, "cond_dim": 5}))
    assert told(torch.randn(2, 8), torch.eye(5)[:2]).shape == (2, 4, 32, 64) and told.frames.cond_dim == 5
    with pytest.raises(SpriteganError, match="model.posed_stack_g needs character sheets"):
        build_generator(ModelConfig(arch="dcgan", image_size=[32, 32], channels=4, posed_stack_g=True))


_POSED_D = dict(
    arch="posed", image_size=[32, 64], pose_grid=[2, 4], channels=4, z_dim=8, d_width=4, max_channels=16
)


def _sheet_d_and_extended(prefix: str, **extra):
    """The plain sheet D and one with an extra D (parameters under `prefix`), the sheet D's weights shared;
    the sheet D's parameter names must be unchanged, so runs made without the extra D still load."""
    from spritegan.config import ModelConfig
    from spritegan.models import build_discriminator

    plain = build_discriminator(ModelConfig(**_POSED_D))
    extended = build_discriminator(ModelConfig(**_POSED_D, **extra))
    assert set(plain.state_dict()) == {k for k in extended.state_dict() if not k.startswith(prefix + ".")}
    extended.load_state_dict({**extended.state_dict(), **plain.state_dict()})
    return plain, extended


def test_posed_frame_discriminator_adds_each_frames_pose_conditional_score() -> None:
    """model.posed_frame_d: D's score is the sheet D's plus the mean of a pose-conditional D over the frames,
    and the sheet D's parameters keep their names (runs without the frame D still load)."""
    import torch

    plain, framed = _sheet_d_and_extended("frame_d", posed_frame_d=True)
    sheets = torch.randn(3, 4, 32, 64)
    with torch.no_grad():
        frames = sheets.reshape(3, 4, 2, 16, 4, 16).permute(0, 2, 4, 1, 3, 5).reshape(24, 4, 16, 16)
        poses = torch.eye(8).repeat(3, 1)  # 2 rows x 4 columns of 16x16 frames
        want = plain(sheets) + framed.frame_d(frames, poses).view(3, 8).mean(1)
        torch.testing.assert_close(framed(sheets), want)
        # the frame D is told the pose: the same frame in another cell scores differently
        swapped = sheets.clone()
        swapped[:, :, :16, :16], swapped[:, :, :16, 16:32] = sheets[:, :, :16, 16:32], sheets[:, :, :16, :16]
        assert not torch.allclose(framed.frame_scores(swapped), framed.frame_scores(sheets))


def test_stacked_frames_put_each_cell_in_its_own_channel_group() -> None:
    import torch

    from spritegan.tensors import stack_frames

    sheets = torch.arange(2 * 3 * 4 * 8, dtype=torch.float32).view(2, 3, 4, 8)  # 2x2 cells of 2x4 pixels
    stacked = stack_frames(sheets, 2, 2)
    assert stacked.shape == (2, 12, 2, 4)
    for cell, (row, col) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        want = sheets[:, :, row * 2 : row * 2 + 2, col * 4 : col * 4 + 4]
        torch.testing.assert_close(stacked[:, cell * 3 : cell * 3 + 3], want)


def test_posed_stack_discriminator_adds_a_score_that_sees_every_pose_at_each_pixel() -> None:
    """model.posed_stack_d: D's score is the sheet D's plus a D on the frames stacked as channels; the sheet
    D's parameters keep their names; other archs refuse the setting in one line."""
    import torch

    from spritegan.config import ModelConfig
    from spritegan.errors import SpriteganError
    from spritegan.models import build_discriminator
    from spritegan.tensors import stack_frames

    plain, stacked = _sheet_d_and_extended("stack_d", posed_stack_d=True)
    assert stacked.stack_d.features[0].in_channels == 8 * 4
    sheets = torch.randn(3, 4, 32, 64, requires_grad=True)
    score = stacked(sheets)
    with torch.no_grad():
        torch.testing.assert_close(score, plain(sheets) + stacked.stack_d(stack_frames(sheets, 2, 4)))
    score.sum().backward()
    assert sheets.grad is not None and bool((sheets.grad[:, :, 16:, 48:] != 0).any())  # the last cell too
    with pytest.raises(SpriteganError, match="model.posed_stack_d needs character sheets"):
        build_discriminator(
            ModelConfig(**{**_POSED_D, "arch": "dcgan", "image_size": [32, 32]}, posed_stack_d=True)
        )


def test_posed_run_takes_its_grid_from_the_data_and_refuses_single_sprites(tmp_path) -> None:
    from spritegan.config import build_config
    from spritegan.errors import SpriteganError
    from spritegan.train.loop import fit_model_to_data

    cfg = build_config("sprite", {"model.arch": "posed"})
    fit_model_to_data(cfg, open_dataset("builtin:walkers:3"), conditional=False)
    assert cfg.model.pose_grid == [4, 4] and cfg.model.image_size == [64, 64]
    with pytest.raises(SpriteganError, match="model.arch=posed draws character sheets"):
        fit_model_to_data(
            build_config("sprite", {"model.arch": "posed"}), open_dataset("builtin:sprites:4"), False
        )


@pytest.mark.parametrize("stack_g", [False, True])
def test_a_posed_run_trains_and_its_atlas_keeps_one_character_per_seed(tmp_path, stack_g) -> None:
    """Two training steps with the palette head (frame by frame, or stacked: model.posed_stack_g), then
    generate --atlas: 16 frames per seed."""
    from spritegan.cli import main

    run = tmp_path / "run"
    args = ["train", "--data", "builtin:walkers:8", "--batch-size", "4", "--steps", "2", "--out", str(run)]
    tiny = [
        "model.arch=posed",
        "model.cond_mode=cbn",
        "model.g_width=8",
        "model.d_width=8",
        "train.threads=1",
        f"model.posed_stack_g={str(stack_g).lower()}",
    ]
    assert main([*args, "--no-progress", *[x for kv in tiny for x in ("--set", kv)]]) == 0
    out = tmp_path / "out"
    assert main(["generate", str(run), "--seeds", "1,2", "--atlas", "--out", str(out)]) == 0
    frames = json.loads((out / "atlas.json").read_text())["frames"]
    assert len(frames) == 32 and "char-0002/up-3" in frames
    ort = pytest.importorskip("onnxruntime")
    from spritegan.export.onnx import export_onnx
    from spritegan.generate.pipeline import SpritePipeline

    pipe = SpritePipeline.from_run(run)
    export_onnx(run, tmp_path / "g.onnx")  # the frames, stacked or not, export as reshapes
    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    feeds = {"z": pipe.latents([1, 2]).numpy(), "truncation": np.array([1.0], np.float32)}
    onnx_out = torch.from_numpy(sess.run(["sprites"], feeds)[0]).permute(0, 3, 1, 2)
    assert torch.equal(onnx_out, pipe([1, 2]))


def test_posed_hold_trains_logs_its_drift_and_is_refused_off_the_posed_generator(tmp_path, capsys) -> None:
    """model.posed_hold adds the frame drift to G's loss (logged as pose_hold); other archs: a one-line error."""
    import csv as csv_module

    from spritegan.cli import main

    run = tmp_path / "run"
    args = ["train", "--data", "builtin:walkers:8", "--batch-size", "4", "--steps", "2", "--no-progress"]
    tiny = ["model.arch=posed", "model.g_width=8", "model.d_width=8", "train.threads=1", "model.posed_hold=5"]
    sets = [x for kv in [*tiny, "train.log_every=1"] for x in ("--set", kv)]
    assert main([*args, "--out", str(run), *sets]) == 0
    with open(run / "metrics.csv", newline="") as fh:
        drift = [float(row["pose_hold"]) for row in csv_module.DictReader(fh)]
    assert len(drift) == 2 and all(d > 0 for d in drift)
    capsys.readouterr()
    sheet_g = [x for kv in ["model.arch=dcgan", "model.posed_hold=5"] for x in ("--set", kv)]
    assert main([*args, "--out", str(tmp_path / "refused"), *sheet_g]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.posed_hold needs character sheets drawn by model.arch=posed" in err[0]
    assert not (tmp_path / "refused" / "generator.safetensors").exists()


def test_join_frames_undoes_cut_frames_and_refuses_a_wrong_count() -> None:
    from spritegan.tensors import cut_frames, join_frames

    sheets = torch.arange(2 * 3 * 8 * 12).reshape(2, 3, 8, 12)
    frames = cut_frames(sheets, 2, 3)
    assert frames.shape == (2, 6, 3, 4, 4) and torch.equal(frames[0, 1], sheets[0, :, :4, 4:8])
    assert torch.equal(join_frames(frames, 2, 3), sheets)
    from spritegan.tensors import stack_frames, unstack_frames

    assert torch.equal(unstack_frames(stack_frames(sheets, 2, 3), 2, 3), sheets)
    with pytest.raises(ValueError, match="5 frames do not fill a 3x2 sheet"):
        join_frames(frames[:, :5], 2, 3)
