"""Every named preset trains end to end (shortened: 1 step, small batch) and its generator samples."""

import pytest

from spritegan.cli import main
from spritegan.config import PRESETS, build_config
from spritegan.generate.pipeline import SpritePipeline


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_runs_shortened(preset, tmp_path):
    run = tmp_path / preset
    argv = [
        "train",
        "--data",
        "builtin:sprites:16",
        "--preset",
        preset,
        "--out",
        str(run),
        "--max-steps",
        "1",
        "--batch-size",
        "4",
        "--no-progress",
        "--set",
        "train.threads=1",
    ]
    assert main(argv) == 0
    cfg = build_config(preset)
    pipe = SpritePipeline.from_run(run)
    size = int(cfg.data.resize) if cfg.data.resize else 32
    assert pipe(n=2).shape == (2, 4, size, size)
    assert pipe.model_config.arch == cfg.model.arch


def test_presets_command_lists_every_preset(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in PRESETS)


def test_seed_recipes_are_as_documented():
    c = build_config("cyberpunk-gan")
    assert (c.data.resize, c.train.lr_g, c.train.loss, c.train.epochs) == ("64", 2e-4, "bce", 100.0)
    v = build_config("vgc-gan")
    assert (v.train.batch_size, v.train.steps, v.train.sample_every) == (40, 10000, 10)
    p = build_config("pokegan")
    assert p.train.real_label == 0.9 and "hue" in p.train.augment
    assert build_config("concept-gan").model.init == "glorot"
    assert build_config("pokegan-mlp").model.arch == "mlp"


def test_overrides_are_type_checked_and_lists_take_both_forms():
    from spritegan.errors import SpriteganError

    for value in ("mirror,hue", "[mirror, hue]", "['mirror', 'hue']"):
        assert build_config("sprite", {"train.augment": value}).train.augment == ["mirror", "hue"]
    assert build_config("sprite", {"model.image_size": "[32, 24]"}).model.image_size == [32, 24]
    assert build_config("sprite", {"model.cond_aux": "true"}).model.cond_aux is True
    with pytest.raises(SpriteganError, match="expected a int"):
        build_config("sprite", {"train.steps": "many"})
    with pytest.raises(SpriteganError, match="unknown setting"):
        build_config("sprite", {"train.stpes": 3})


def test_values_take_the_type_of_their_annotation() -> None:
    cfg = build_config("sprite", {"data.pad_to": "32", "train.epochs": "3", "data.label_columns": "hat,eyes"})
    assert cfg.data.pad_to == 32 and cfg.train.epochs == 3.0 and isinstance(cfg.train.epochs, float)
    assert cfg.data.label_columns == ["hat", "eyes"]
    assert build_config("sprite", {"model.image_size": "[24, 16]"}).model.image_size == [24, 16]


@pytest.mark.parametrize(
    "key,bad", [("model.cond_mode", "film"), ("model.style_upsample", "bicubic"), ("train.loss", "wgan")]
)
def test_word_settings_reject_typos_in_one_line(key, bad, tmp_path, capsys):
    from spritegan.config import CHOICES
    from spritegan.errors import SpriteganError

    with pytest.raises(SpriteganError, match=f"{key}: unknown value '{bad}'; choose from"):
        build_config("sprite", {key: bad})
    for good in CHOICES[key]:
        build_config("sprite", {key: good})
    argv = ["train", "--data", "builtin:sprites:64", "--out", str(tmp_path / "r"), "--set", f"{key}={bad}"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and key in err[0] and not (tmp_path / "r").exists()


def test_number_choice_rejected_in_one_line(tmp_path, capsys):
    from spritegan.errors import SpriteganError

    with pytest.raises(SpriteganError, match="model.style_convs: unknown value 3; choose from 1, 2"):
        build_config("stylegan", {"model.style_convs": "3"})
    assert build_config("stylegan", {"model.style_convs": "1"}).model.style_convs == 1
    argv = ["train", "--data", "builtin:sprites:64", "--preset", "stylegan", "--out", str(tmp_path / "r")]
    assert main(argv + ["--set", "model.style_convs=3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "style_convs" in err[0] and not (tmp_path / "r").exists()
