"""A generator body with a palette-exact head: `palette_generator` picks the head `model.head` names.

`PaletteGenerator` wraps any body so the W-space tools (mapping, synthesis, truncation) keep working.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from spritegan.models.despeckle import sites_map
from spritegan.models.palette_head import PaletteHead, SnapHead
from spritegan.models.reader import SheetReader
from spritegan.models.swap_head import SwapPaletteHead
from spritegan.tensors import to_uint8


class PaletteGenerator(nn.Module):
    """A generator body followed by a palette head; (z, labels) -> images whose pixels are palette colours."""

    def __init__(self, body: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.head = head

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            body = super().__getattr__("body")
            if name == "synthesis" and hasattr(body, "synthesis"):
                return lambda ws: self.head(body.synthesis(ws))
            return getattr(body, name)

    def set_palette(self, palette_uint8: torch.Tensor) -> None:
        self.head.set_palette(palette_uint8)

    def palette_uint8(self) -> torch.Tensor:
        """The colours G draws from, uint8 (K, C) on the CPU (the inverse of set_palette)."""
        return to_uint8(self.head.palette.cpu())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        features = self.body(z, labels, **kwargs)
        if getattr(self.head, "takes_latent", False):
            return self.head(features, swap_latent(z, labels, self.head.latent_dim))
        return self.head(features)


# generators whose input is (z, labels) alone, so the palette-swap head can read them
SWAP_ARCHS = ("dcgan", "posed", "r3gan", "mlp")


def swap_latent(z: torch.Tensor, labels: torch.Tensor | None, width: int) -> torch.Tensor:
    """(N, z_dim + cond_dim) rows of z followed by the labels (zeros for the unconditional slot)."""
    z = z.flatten(1)
    missing = width - z.shape[1]
    if missing <= 0:
        return z
    if labels is None:
        labels = z.new_zeros(len(z), missing)
    return torch.cat([z, labels.to(z.dtype)], dim=1)


def refiner_grid(cfg) -> tuple[int, int] | None:
    """The sheet's (rows, columns) of frames when the refiner works on stacked frames, else None."""
    if not cfg.palette_refiner_stack or cfg.arch != "posed":  # other archs: refused by models._check
        return None
    return (int(cfg.pose_grid[0]), int(cfg.pose_grid[1]))


def palette_generator(cfg, build_body) -> PaletteGenerator:
    """Wrap the body that `build_body` makes for `cfg` with the head `cfg.head` names (palette | snap)."""
    if cfg.palette_colors < 1:
        raise ValueError(
            "model.palette_colors is 0: it is set from the data's palette before the model is built"
        )
    sites = sites_map(cfg.palette_speck_sites, tuple(cfg.image_size)) if cfg.palette_speck_sites else None
    if cfg.head == "palette":
        body = build_body(replace(cfg, head="features", channels=cfg.palette_embed))
        shared = dict(
            temperature=cfg.palette_temperature,
            soft_training=cfg.palette_train_mix,
            agree=cfg.palette_agree,
            agree_steps=cfg.palette_agree_steps,
            tileable=cfg.tileable,
            identity=cfg.palette_identity,
            despeckle=cfg.palette_despeckle,
            speck_sites=sites,
            refiner=cfg.palette_refiner,
            refine_passes=cfg.palette_refine_passes,
            refiner_grid=refiner_grid(cfg),
        )
        sizes = (cfg.palette_embed, cfg.palette_colors, cfg.channels)
        if cfg.palette_slots > 0:
            head = SwapPaletteHead(*sizes, cfg.palette_slots, latent_dim=cfg.z_dim + cfg.cond_dim, **shared)
        else:
            # a swap head's slots already cap its colours per image; the per-pixel head is capped here
            cap = cfg.palette_max_colours
            head = PaletteHead(*sizes, sprite_prior=cfg.palette_sprite_prior, max_colours=cap, **shared)
        if cfg.palette_reader > 0:
            # drawn from a fork of the random state: the GAN starts as it would without a reader
            with torch.random.fork_rng(devices=[]):
                head.reader = sheet_reader(cfg)
    else:
        body = build_body(replace(cfg, head="rgb"))
        head = SnapHead(cfg.palette_colors, cfg.channels)
    return PaletteGenerator(body, head)


def sheet_reader(cfg) -> SheetReader:
    """A posed run's sheet reader (model.palette_reader wide), for the label classes set from the data (none:
    an identity reader)."""
    grid = (int(cfg.pose_grid[0]), int(cfg.pose_grid[1]))
    return SheetReader(cfg.palette_colors, grid, cfg.palette_reader_classes, cfg.palette_reader)
