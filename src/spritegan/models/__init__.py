"""Model builders: a config in, a generator and a discriminator out (models know nothing of files)."""

from __future__ import annotations

from torch import nn

from spritegan.config import ModelConfig, unknown_choice
from spritegan.errors import SpriteganError


def build_generator(cfg: ModelConfig) -> nn.Module:
    """Generator for `cfg.arch`; every generator maps (z, labels=None) to images in [-1, 1]."""
    _check(cfg)
    if cfg.head in ("palette", "snap"):
        from spritegan.models.palette_head import palette_generator

        return palette_generator(cfg, build_generator)
    if cfg.arch == "dcgan":
        from spritegan.models.dcgan import DCGANGenerator

        return DCGANGenerator(cfg)
    if cfg.arch == "mlp":
        from spritegan.models.mlp import MLPGenerator

        return MLPGenerator(cfg)
    if cfg.arch == "stylegan":
        from spritegan.models.stylegan import StyleGANGenerator

        return StyleGANGenerator(cfg)
    if cfg.arch == "r3gan":
        from spritegan.models.r3gan import R3GANGenerator

        return R3GANGenerator(cfg)
    raise SpriteganError(unknown_choice("model.arch", cfg.arch))


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    """Discriminator for `cfg.arch`; maps (images, labels=None) to one score per image."""
    _check(cfg)
    if cfg.arch == "dcgan":
        from spritegan.models.dcgan import DCGANDiscriminator

        return DCGANDiscriminator(cfg)
    if cfg.arch == "mlp":
        from spritegan.models.mlp import MLPDiscriminator

        return MLPDiscriminator(cfg)
    if cfg.arch == "stylegan" and cfg.style_d == "dcgan":
        from spritegan.models.dcgan import DCGANDiscriminator

        return DCGANDiscriminator(cfg)  # StyleGAN-style G against the DCGAN's strided-conv D
    if cfg.arch == "stylegan":
        from spritegan.models.stylegan import StyleGANDiscriminator

        return StyleGANDiscriminator(cfg)
    if cfg.arch == "r3gan":
        from spritegan.models.r3gan import R3GANDiscriminator

        return R3GANDiscriminator(cfg)
    raise SpriteganError(unknown_choice("model.arch", cfg.arch))


def _check(cfg: ModelConfig) -> None:
    h, w = cfg.image_size
    if not (8 <= h <= 512 and 8 <= w <= 512):
        raise SpriteganError(f"image size {h}x{w} is outside 8..512; use --resize or --pad-to")
    if cfg.channels not in (1, 3, 4) and cfg.head != "features":  # "features": a palette head's body
        raise SpriteganError(f"{cfg.channels} channels: only 1 (L), 3 (RGB) or 4 (RGBA) are supported")
