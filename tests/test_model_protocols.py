"""The architecture table and the model protocols: every row builds a G and a D that keep them."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from spritegan.config import CHOICES, ModelConfig, build_config
from spritegan.errors import SpriteganError
from spritegan.models import ARCHITECTURES, build_discriminator, build_generator
from spritegan.models.protocols import Discriminator, Generator, StyleGenerator

TINY = ModelConfig(image_size=[16, 16], channels=4, z_dim=8, g_width=4, d_width=4, max_channels=16, w_dim=16)


def test_the_table_names_every_architecture_choice() -> None:
    assert tuple(ARCHITECTURES) == tuple(CHOICES["model.arch"])
    with pytest.raises(SpriteganError, match="model.arch"):
        build_generator(replace(TINY, arch="vqgan"))


def test_a_new_row_is_a_model_arch_without_a_second_list(monkeypatch) -> None:
    """docs/architecture.md's walk-through: the row alone makes the name a valid config value."""
    monkeypatch.setitem(ARCHITECTURES, "tinygan", ARCHITECTURES["dcgan"])
    assert build_config("sprite", {"model.arch": "tinygan"}).model.arch == "tinygan"
    assert isinstance(build_generator(replace(TINY, arch="tinygan")), Generator)
    with pytest.raises(SpriteganError, match="model.arch: unknown value 'vqgan'; choose from dcgan.*tinygan"):
        build_config("sprite", {"model.arch": "vqgan"})


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_keeps_the_protocols(arch: str) -> None:
    cfg = replace(TINY, arch=arch, mlp_hidden=[16, 16], pose_grid=[2, 2])  # posed: four 8x8 frames
    G, D = build_generator(cfg), build_discriminator(cfg)
    assert isinstance(G, Generator) and isinstance(D, Discriminator)
    assert isinstance(G, StyleGenerator) == ARCHITECTURES[arch].style
    z = torch.randn(2, cfg.z_dim)
    images = G(z)
    assert images.shape == (2, 4, 16, 16) and float(images.detach().abs().max()) <= 1.0
    scores = D(images)
    assert scores.shape == (2,)
    both = D(images, None, with_logits=True)
    assert isinstance(both, tuple) and both[0].shape == (2,)
    maps = D.feature_maps(images)
    assert maps and all(m.ndim == 4 and m.shape[0] == 2 for m in maps)
    if ARCHITECTURES[arch].style:
        ws = G.truncate(G.mapping(z)[:, None].repeat(1, G.num_ws, 1), 0.5)
        assert G.synthesis(ws).shape == images.shape


def test_stylegan_with_the_dcgan_discriminator() -> None:
    D = build_discriminator(replace(TINY, arch="stylegan", style_d="dcgan"))
    assert type(D).__name__ == "DCGANDiscriminator"


def test_a_palette_head_keeps_the_style_protocol() -> None:
    cfg = replace(TINY, arch="stylegan", head="palette", palette_colors=4)
    G = build_generator(cfg)
    assert type(G).__name__ == "PaletteGenerator" and isinstance(G, StyleGenerator)
