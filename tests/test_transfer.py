import pytest
import torch
from safetensors.torch import load_file

from conftest import train_tiny
from spritegan.config import RunConfig
from spritegan.errors import RunError
from spritegan.models import build_discriminator, build_generator
from spritegan.train.transfer import freeze_first_layers, init_from


def test_init_from_run_copies_g_and_d(tiny_run):
    cfg = RunConfig.load(tiny_run / "config.yaml").model  # the run's model, palette size included
    cfg.image_size, cfg.channels = [32, 32], 4
    g, d = build_generator(cfg), build_discriminator(cfg)
    note = init_from(tiny_run, g, d)
    assert note.startswith(f"init-from {tiny_run}: G ") and "D " in note
    src = load_file(tiny_run / "generator.safetensors")
    assert all(torch.equal(g.state_dict()[k], v) for k, v in src.items())


def test_init_from_generator_file_leaves_d_fresh(tiny_run):
    cfg = RunConfig.load(tiny_run / "config.yaml").model  # the run's model, palette size included
    cfg.image_size, cfg.channels = [32, 32], 4
    note = init_from(tiny_run / "generator.safetensors", build_generator(cfg), build_discriminator(cfg))
    assert "D from scratch" in note


def test_init_from_incompatible_model_is_an_error(tiny_run):
    cfg = RunConfig.load(tiny_run / "config.yaml").model  # the run's model, palette size included
    cfg.image_size, cfg.channels, cfg.g_width, cfg.z_dim = [32, 32], 4, 24, 20
    with pytest.raises(RunError, match="generator tensors match"):
        init_from(tiny_run, build_generator(cfg), build_discriminator(cfg))


def test_transfer_run_with_frozen_d_layers(tiny_run, tmp_path):
    before = load_file(tiny_run / "checkpoints" / "step-000004.safetensors")
    train_tiny(tmp_path / "tl", steps=2, **{"train.init_from": str(tiny_run), "train.freeze_d": 1})
    after = load_file(tmp_path / "tl" / "checkpoints" / "step-000002.safetensors")
    assert torch.equal(before["D.features.0.weight"], after["D.features.0.weight"])  # frozen
    assert not torch.equal(before["D.fc.weight"], after["D.fc.weight"])  # trained


def test_freeze_first_layers_counts():
    from conftest import tiny_config

    cfg = tiny_config().model
    cfg.image_size, cfg.channels = [32, 32], 4
    d = build_discriminator(cfg)
    frozen = freeze_first_layers(d, 2)
    assert len(frozen) == 4  # weight + bias of two conv layers
    assert sum(not p.requires_grad for p in d.parameters()) == 4


def test_cli_flags_reach_the_config(capsys):
    from spritegan.cli import main

    argv = [
        "train",
        "--data",
        "builtin:sprites",
        "--init-from",
        "runs/x",
        "--freeze-d",
        "2",
        "--eval-every",
        "50",
    ]
    assert main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "init_from: runs/x" in out and "freeze_d: 2" in out and "eval_every: 50" in out
