"""Prepared datasets: write/load round trip, manifest, hash check, open_dataset and batch sampling."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from spritegan.data.dataset import load_prepared, open_dataset, prepare
from spritegan.data.sources import load_source
from spritegan.errors import DataError

torch.set_num_threads(1)


def test_prepare_round_trip(tmp_path):
    src = load_source("builtin:sprites:40")
    out = prepare(src, tmp_path / "prep")
    assert sorted(p.name for p in out.iterdir()) == ["data.safetensors", "manifest.json"]
    ds = load_prepared(out)
    assert ds.images.dtype == torch.uint8 and ds.images.shape == (40, 4, 32, 32)
    assert np.array_equal(ds.images.permute(0, 2, 3, 1).numpy(), src.images)
    assert ds.channels == 4 and ds.size == (32, 32) and len(ds) == 40 and ds.mode == "RGBA"
    m = ds.manifest
    assert m["n"] == 40 and m["size"] == [32, 32] and m["alpha_levels"] == [0, 255]
    assert m["palette"] is not None and all(len(c) == 4 and c[3] == 255 for c in m["palette"])
    assert set(ds.label_spec) == set(ds.labels) and ds.labels["hair"].dtype == torch.int64
    assert torch.equal(ds.labels["body"], torch.from_numpy(src.labels["values"]["body"]))
    mem = open_dataset("builtin:sprites:40")
    assert torch.equal(mem.images, ds.images) and mem.manifest["sha256"] == m["sha256"]
    assert torch.equal(open_dataset(out).images, ds.images)


def test_manifest_palette_null_and_modes(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(tmp_path / "noise.png")
    ds = open_dataset(tmp_path / "noise.png")
    assert ds.manifest["palette"] is None and ds.manifest["alpha_levels"] is None and ds.channels == 3
    Image.fromarray(np.full((5, 5), 9, np.uint8)).save(tmp_path / "g.png")
    gray = open_dataset(tmp_path / "g.png", pad_to=8)
    assert gray.channels == 1 and gray.manifest["palette"] == [[0, 0, 0, 255], [9, 9, 9, 255]]
    assert gray.manifest["resize"]["pad_to"] == [8, 8]


def test_load_errors(tmp_path):
    with pytest.raises(DataError, match="not a prepared dataset"):
        load_prepared(tmp_path)
    out = prepare(load_source("builtin:sprites:5"), tmp_path / "p")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["sha256"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="sha256"):
        load_prepared(out)
    (out / "data.safetensors").write_bytes(b"garbage")
    with pytest.raises(DataError, match="cannot read"):
        load_prepared(out)
    (out / "data.safetensors").unlink()
    with pytest.raises(DataError, match="missing"):
        load_prepared(out)
    manifest["format_version"] = 99
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="format version"):
        load_prepared(out)
    with pytest.raises(DataError, match="already prepared"):
        open_dataset(out, resize=8)


def test_data_command(tmp_path, capsys):
    import argparse

    from PIL import ImageFile

    from spritegan.commands import data as data_cmd

    parser = argparse.ArgumentParser()
    data_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "inspect", "builtin:sprites:20"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "images:       20" in out and "label accessory" in out and "alpha levels: [0, 255]" in out
    args = parser.parse_args(
        ["data", "prepare", "builtin:sprites:8", "--pad-to", "40", "--out", str(tmp_path / "d")]
    )
    assert args.func(args) == 0
    assert load_prepared(tmp_path / "d").size == (40, 40)
    assert "examples:" in parser._subparsers._group_actions[0].choices["data"].format_help()
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
