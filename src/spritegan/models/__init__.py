"""Model builders: a config in, a generator and a discriminator out (models know nothing of files).

`ARCHITECTURES` is the one table of model families: a new architecture is a module under models/ with a
generator and a discriminator class that keep the protocols in `models/protocols.py`, its test, and one
row here; the config accepts its name as model.arch because this table registers its names there
(docs/architecture.md walks through it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from importlib import import_module

from torch import nn

from spritegan.config import ModelConfig, register_choices, unknown_choice
from spritegan.errors import SpriteganError
from spritegan.models.heads import SWAP_ARCHS, palette_generator
from spritegan.models.palette_head import colour_code_channels
from spritegan.models.progressive import check_progressive


@dataclass(frozen=True)
class Architecture:
    """One row of the table: where its networks live (imported only when built) and what G is."""

    module: str  # e.g. "spritegan.models.dcgan"
    generator: str  # class name: (cfg: ModelConfig) -> a Generator (protocols.py)
    discriminator: str  # class name: (cfg) -> a Discriminator
    style: bool = False  # G is a StyleGenerator (W space)
    discriminators: dict[str, tuple[str, str]] = field(default_factory=dict)  # cfg.style_d -> (module, class)

    def build_generator(self, cfg: ModelConfig) -> nn.Module:
        return getattr(import_module(self.module), self.generator)(cfg)

    def build_discriminator(self, cfg: ModelConfig) -> nn.Module:
        module, name = self.discriminators.get(cfg.style_d, (self.module, self.discriminator))
        return getattr(import_module(module), name)(cfg)


ARCHITECTURES: dict[str, Architecture] = {
    "dcgan": Architecture("spritegan.models.dcgan", "DCGANGenerator", "DCGANDiscriminator"),
    "mlp": Architecture("spritegan.models.mlp", "MLPGenerator", "MLPDiscriminator"),
    "stylegan": Architecture(
        "spritegan.models.stylegan",
        "StyleGANGenerator",
        "StyleGANDiscriminator",
        style=True,
        # model.style_d=dcgan: the StyleGAN-style G against the DCGAN's strided-conv D
        discriminators={"dcgan": ("spritegan.models.dcgan", "DCGANDiscriminator")},
    ),
    "r3gan": Architecture("spritegan.models.r3gan", "R3GANGenerator", "R3GANDiscriminator"),
    # character sheets drawn frame by frame from one latent and a pose (models/posed.py); D on whole sheets
    "posed": Architecture("spritegan.models.posed", "PosedGenerator", "PosedDiscriminator"),
}
register_choices("model.arch", ARCHITECTURES.keys())  # live: a row added later is a valid model.arch too


def architecture(cfg: ModelConfig) -> Architecture:
    """The table row for `cfg.arch`; an unknown name is a one-line error listing the known ones."""
    if cfg.arch not in ARCHITECTURES:
        raise SpriteganError(unknown_choice("model.arch", cfg.arch))
    return ARCHITECTURES[cfg.arch]


def build_generator(cfg: ModelConfig) -> nn.Module:
    """Generator for `cfg.arch`; every generator maps (z, labels=None) to images in [-1, 1]."""
    _check(cfg)
    if cfg.head in ("palette", "snap"):
        return palette_generator(cfg, build_generator)
    return architecture(cfg).build_generator(cfg)


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    """Discriminator for `cfg.arch`; maps (images, labels=None) to one score per image. With a palette
    head's `palette_identity` codes it takes that many input channels more than the images have."""
    _check(cfg)
    if colour_code_channels(cfg):
        cfg = replace(cfg, channels=cfg.channels + colour_code_channels(cfg))
    return architecture(cfg).build_discriminator(cfg)


def _check(cfg: ModelConfig) -> None:
    h, w = cfg.image_size
    if not (8 <= h <= 512 and 8 <= w <= 512):
        raise SpriteganError(f"image size {h}x{w} is outside 8..512; use --resize or --pad-to")
    if cfg.channels not in (1, 3, 4) and cfg.head != "features":  # "features": a palette head's body
        raise SpriteganError(f"{cfg.channels} channels: only 1 (L), 3 (RGB) or 4 (RGBA) are supported")
    if cfg.head == "palette" and cfg.palette_slots > 0 and cfg.arch not in SWAP_ARCHS:
        raise SpriteganError(
            f"model.palette_slots needs a generator fed z directly ({', '.join(SWAP_ARCHS)}), "
            f"not model.arch={cfg.arch}"
        )
    posed_only = (
        ("posed_hold", cfg.posed_hold > 0),
        ("posed_stack_d", cfg.posed_stack_d),
        ("posed_stack_g", cfg.posed_stack_g),
        ("palette_refiner_stack", cfg.palette_refiner_stack and cfg.palette_refiner > 0),
        ("palette_reader", cfg.palette_reader > 0),
    )
    for name, on in posed_only:
        if on and cfg.arch != "posed":
            raise SpriteganError(
                f"model.{name} needs character sheets drawn by model.arch=posed, not {cfg.arch}"
            )
    if cfg.d_pack > 1 and (cfg.arch != "dcgan" or cfg.cond_dim):
        raise SpriteganError(
            f"model.d_pack {cfg.d_pack}: packs of images are scored by the unconditional dcgan discriminator "
            f"only (the sprite preset's), not model.arch={cfg.arch}"
            + (" with labels" if cfg.cond_dim else "")
        )
    if cfg.tileable and cfg.arch != "dcgan":
        raise SpriteganError(
            f"model.tileable: only the dcgan networks (the sprite preset's) pad circularly; model.arch="
            f"{cfg.arch} cannot make seamless tiles (use --preset sprite)"
        )
    check_progressive(cfg)
