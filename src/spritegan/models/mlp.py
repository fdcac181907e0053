"""Fully-connected GAN, the PokeGAN blog's no-convolution comparison (Goodfellow et al. 2014 style)."""

from __future__ import annotations

import torch
from torch import nn

from spritegan.config import ModelConfig
from spritegan.models.layers import init_weights


class MLPGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_dim = cfg.z_dim
        self.cond_dim = cfg.cond_dim
        self.shape = (cfg.channels, cfg.image_size[0], cfg.image_size[1])
        layers: list[nn.Module] = []
        d = cfg.z_dim + cfg.cond_dim
        for width in cfg.mlp_hidden:
            layers += [nn.Linear(d, width), nn.BatchNorm1d(width), nn.LeakyReLU(0.2, inplace=True)]
            d = width
        layers += [nn.Linear(d, self.shape[0] * self.shape[1] * self.shape[2]), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self, cfg.init)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.cond_dim:
            z = torch.cat([z, labels if labels is not None else z.new_zeros(z.shape[0], self.cond_dim)], 1)
        return self.net(z).view(z.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.cond_dim = cfg.cond_dim
        d = cfg.channels * cfg.image_size[0] * cfg.image_size[1] + cfg.cond_dim
        layers: list[nn.Module] = []
        for width in reversed(cfg.mlp_hidden):
            layers += [nn.Linear(d, width), nn.LeakyReLU(0.2, inplace=True), nn.Dropout(0.3)]
            d = width
        layers.append(nn.Linear(d, 1))
        self.net = nn.Sequential(*layers)
        init_weights(self, cfg.init)

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each hidden layer's activations as (N, width, 1, 1) maps: an MLP has no spatial features."""
        h = x.flatten(1)
        if self.cond_dim:  # the unconditional input, as forward() gives it without labels
            h = torch.cat([h, h.new_zeros(h.shape[0], self.cond_dim)], 1)
        maps = []
        for layer in self.net:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                maps.append(h[:, :, None, None])
        return maps

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, with_logits: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, None]:
        """Realness scores (N,); with_logits adds None (the MLP has no label classifier)."""
        x = x.flatten(1)
        if self.cond_dim:
            x = torch.cat([x, labels if labels is not None else x.new_zeros(x.shape[0], self.cond_dim)], 1)
        out = self.net(x).squeeze(1)
        return (out, None) if with_logits else out
