"""StyleGAN-style model: shapes, style modes, truncation, style mixing and a real 3-step training run."""

from __future__ import annotations

import pytest
import torch

from spritegan.config import ModelConfig
from spritegan.models import build_discriminator, build_generator


def tiny(size: int = 16, channels: int = 4, **extra) -> ModelConfig:
    base = dict(arch="stylegan", image_size=[size, size], channels=channels, z_dim=8, w_dim=8, g_width=4)
    base.update(d_width=4, max_channels=8, mapping_layers=2)
    return ModelConfig(**{**base, **extra})


@pytest.mark.parametrize("size", [16, 24, 32, 80])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_shapes(size: int, channels: int) -> None:
    cfg = tiny(size, channels)
    G, D = build_generator(cfg), build_discriminator(cfg)
    x = G(torch.randn(2, 8))
    assert x.shape == (2, channels, size, size)
    assert x.abs().max() <= 1.0
    assert D(x).shape == (2,)
    assert G.mapping(torch.randn(2, 8)).shape == (2, 8)
    assert G.synthesis(torch.zeros(2, G.num_ws, 8)).shape == (2, channels, size, size)


@pytest.mark.parametrize("mode", ["modulated", "adain"])
def test_style_modes_and_labels(mode: str) -> None:
    cfg = tiny(24, 3, style_mode=mode, cond_dim=5)
    G, D = build_generator(cfg), build_discriminator(cfg)
    labels = torch.eye(5)[:2]
    x = G(torch.randn(2, 8), labels)
    assert x.shape == (2, 3, 24, 24)
    D(x, labels).sum().backward()
    assert G(torch.randn(2, 8)).shape == (2, 3, 24, 24)  # no labels: the unconditional slot


@pytest.mark.parametrize("size", [16, 24, 80])
def test_light_variant_one_conv_per_resolution_and_plain_d(size: int) -> None:
    full, light = build_generator(tiny(size)), build_generator(tiny(size, style_convs=1))
    n_res = len(full.to_rgbs)
    assert len(full.convs) == 1 + 2 * (n_res - 1) and full.num_ws == len(full.convs) + 1
    assert len(light.convs) == n_res and light.num_ws == n_res + 1
    ws = torch.randn(2, light.num_ws, 8, requires_grad=True)
    light.synthesis(ws).sum().backward()
    assert (ws.grad.abs().sum(dim=(0, 2)) > 0).all()  # every w slot (each conv and the last toRGB) is used
    D = build_discriminator(tiny(size, style_d="plain"))
    assert all(type(b).__name__ == "PlainBlock" for b in D.blocks)
    assert D(light(torch.randn(2, 8))).shape == (2,)
    assert len(D.feature_maps(torch.zeros(1, 4, size, size))) == len(D.blocks) + 1
    hybrid = build_discriminator(tiny(size, style_d="dcgan", d_norm="none", minibatch_std=True))
    assert type(hybrid).__name__ == "DCGANDiscriminator"  # the StyleGAN-style G against the DCGAN's D
    hybrid(light(torch.randn(2, 8))).sum().backward()


def test_bad_style_mode() -> None:
    with pytest.raises(ValueError, match="style_mode"):
        build_generator(tiny(style_mode="nope"))
    with pytest.raises(ValueError, match="style_upsample"):
        build_generator(tiny(style_upsample="bicubic"))
    with pytest.raises(ValueError, match="style_convs"):
        build_generator(tiny(style_convs=3))
    with pytest.raises(ValueError, match="style_d"):
        build_discriminator(tiny(style_d="dense"))
    from spritegan.models.stylegan import StyleGANDiscriminator

    with pytest.raises(
        ValueError, match="style_d"
    ):  # dcgan is build_discriminator's job, never a silent plain D
        StyleGANDiscriminator(tiny(style_d="dcgan"))


def test_nearest_upsampling_keeps_the_skip_image_blocky() -> None:
    torch.manual_seed(0)
    smooth = build_generator(tiny(16, 3)).eval()
    torch.manual_seed(0)
    blocky = build_generator(tiny(16, 3, style_upsample="nearest")).eval()
    blocky.load_state_dict(smooth.state_dict())  # same weights: only the upsampling differs
    ws = torch.randn(1, blocky.num_ws, 8)
    up = blocky._up(torch.arange(4.0).view(1, 1, 2, 2))
    assert torch.equal(up[0, 0], torch.tensor([[0.0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]))
    assert not torch.allclose(smooth.synthesis(ws), blocky.synthesis(ws))


def test_truncation_zero_is_w_avg_image() -> None:
    G = build_generator(tiny(16))
    G.train()
    G(torch.randn(64, 8))  # tracks w_avg
    assert G.w_avg.abs().sum() > 0
    G.eval()
    with torch.no_grad():
        a = G(torch.randn(3, 8), truncation=0.0)
        ref = G.synthesis(G.w_avg[None, None].repeat(1, G.num_ws, 1))
    assert torch.allclose(a, ref.expand_as(a), atol=1e-6)


def test_eval_is_deterministic_and_w_avg_frozen() -> None:
    G = build_generator(tiny(16)).eval()
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(G(z), G(z))
    assert G.w_avg.abs().sum() == 0


def test_style_mixing_uses_two_latents() -> None:
    G = build_generator(tiny(16, mixing_prob=1.0)).train()
    z = torch.randn(4, 8)
    torch.manual_seed(0)
    ws = G.ws_from_z(z)
    assert ws.shape == (4, G.num_ws, 8)
    assert not torch.allclose(ws[:, 0], ws[:, -1])  # layers after the cut-off come from another z
    G.mixing_prob = 0.0
    ws = G.ws_from_z(z)
    assert torch.allclose(ws[:, 0], ws[:, -1])


def test_three_steps_through_the_cli(tmp_path) -> None:
    from spritegan.cli import main

    run = tmp_path / "run"
    argv = [
        "train",
        "--data",
        "builtin:sprites:64",
        "--preset",
        "stylegan",
        "--out",
        str(run),
        "--steps",
        "3",
    ]
    argv += ["--batch-size", "8", "--no-progress"]
    for s in ("model.g_width=4", "model.d_width=4", "model.max_channels=8", "model.w_dim=8", "model.z_dim=8"):
        argv += ["--set", s]
    argv += ["--set", "train.r1_every=2", "--set", "train.threads=1", "--set", "train.sample_grid=4"]
    assert main(argv) == 0
    assert (run / "generator.safetensors").exists()
    assert "r1" in (run / "metrics.csv").read_text().splitlines()[0]
    from spritegan.generate.pipeline import SpritePipeline

    pipe = SpritePipeline.from_run(run)
    assert pipe.generator.w_avg.abs().sum() > 0
    a = pipe([1, 2], truncation=0.5)
    assert a.shape == (2, 4, 32, 32) and torch.equal(a, pipe([1, 2], truncation=0.5))


def test_transfer_and_freeze_work_on_stylegan() -> None:
    from spritegan.train.transfer import _load_matching, freeze_first_layers

    src, dst = build_generator(tiny(24)), build_generator(tiny(24))
    hit, total, share = _load_matching(dst, src.state_dict())
    assert hit == total and share == 1.0 and torch.equal(src.const, dst.const)
    D = build_discriminator(tiny(24))
    frozen = freeze_first_layers(D, 2)
    assert frozen and not any(p.requires_grad for p in D.from_rgb.parameters())
    assert any(p.requires_grad for p in D.blocks[-1].parameters())
