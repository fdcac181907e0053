"""One character in every pose: builtin:walkers (decodable frames, sheets, labels), the frames-CSV route to
character sheets, `generate --atlas` on a sheet run (frames, tags, walk GIFs) and the whole-character measure."""

from __future__ import annotations

import numpy as np
import pytest

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
    """All 768 shapes x poses with every value of each colour trait (each colour trait varied in turn), and
    600 random characters' 16 frames: read_frame returns exactly what was drawn."""
    base = W.traits_from_index(0)
    cases = [dict(base, **dict(zip(W.SHAPE_TRAITS, s, strict=True))) for s in W.SHAPES]
    for name in ("skin", "hair_colour", "outfit_colour"):
        cases += [dict(c, **{name: v}) for c in cases[:48] for v in W.TRAITS[name]]
    rng = np.random.default_rng(0)
    cases += [W.traits_from_index(int(i)) for i in rng.choice(W.N_COMBINATIONS, 600, replace=False)]
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
    sheets, traits = W.make_walkers(64, seed=0)
    assert sheets.shape == (64, 64, 64, 4) and sheets.dtype == np.uint8
    assert len({tuple(sorted(t.items())) for t in traits}) == 64
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
