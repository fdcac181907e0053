"""DCGAN generator and discriminator (Radford et al. 2016) for any size 16-256 and 1, 3 or 4 channels.

G: z (+ label embedding) -> linear -> (C0, h0, w0) -> n doublings -> tanh image; with cond_mode=cbn every
norm after a doubling also takes a gain and bias from the label embedding (conditional batch norm,
de Vries et al. 2017; Miyato & Koyama 2018), so the labels reach every resolution, not only the first.
D: image -> n strided 4x4 convs with LeakyReLU -> [minibatch std] -> linear score (+ projection of labels,
Miyato & Koyama 2018, when conditional).
"""

from __future__ import annotations

import torch
from torch import nn

from spritegan.config import CHOICES, ModelConfig, unknown_choice
from spritegan.errors import SpriteganError
from spritegan.models.layers import (
    CircularConvTranspose2d,
    Conv2d,
    MinibatchStd,
    center_crop,
    center_pad,
    init_weights,
    maybe_spectral,
    norm_2d,
    padding_mode,
    plan_resolution,
)


def _widths(base: int, n: int, cap: int) -> list[int]:
    """Filters of the n feature blocks from the highest resolution (base) to the lowest (capped)."""
    return [min(base * 2**i, cap) for i in range(max(n, 1))]


def _check_tileable(cfg: ModelConfig, pad: int) -> None:
    """A tile must be the whole synthesised grid: a size that is padded and cropped back cannot wrap."""
    if cfg.tileable and pad:
        h, w = cfg.image_size
        raise SpriteganError(
            f"model.tileable: a {w}x{h} tile is drawn inside a larger padded grid and cropped, so its edges "
            "would not meet; use a size that halves twice or more (16, 20, 24, 32, 40, 48, 64 px)"
        )


class ConditionalNorm(nn.Module):
    """A norm whose per-channel gain and bias come from a label embedding: x_hat * (1 + gain(e)) + bias(e).

    Both maps start at zero, so at initialisation (and for the unconditional all-zero embedding, whose
    output is the learned bias of each map) it is an ordinary norm with a learned affine.
    """

    def __init__(self, norm: nn.Module, channels: int, embed_dim: int) -> None:
        super().__init__()
        if isinstance(norm, nn.BatchNorm2d):
            norm = nn.BatchNorm2d(channels, affine=False)
        self.norm = norm
        self.gain = nn.Linear(embed_dim, channels)
        self.bias = nn.Linear(embed_dim, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Zero both maps (call again after a whole-model init)."""
        for layer in (self.gain, self.bias):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        gain = self.gain(embedding)[:, :, None, None]
        return self.norm(x) * (1.0 + gain) + self.bias(embedding)[:, :, None, None]


class _LabelSequential(nn.Sequential):
    """nn.Sequential (same state-dict keys) that hands the label embedding to its ConditionalNorm layers."""

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        for layer in self:
            x = layer(x, embedding) if isinstance(layer, ConditionalNorm) else layer(x)
        return x


class DCGANGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_dim = cfg.z_dim
        self.cond_dim = cfg.cond_dim
        self.image_size = (cfg.image_size[0], cfg.image_size[1])
        h0, w0, n, pad = plan_resolution(self.image_size)
        self.start = (h0, w0)
        _check_tileable(cfg, pad)
        pad_mode = padding_mode(cfg.tileable)
        widths = _widths(cfg.g_width, n, cfg.max_channels)[::-1]  # lowest resolution first
        in_dim = cfg.z_dim
        if cfg.cond_dim:
            self.embed = nn.Linear(cfg.cond_dim, cfg.cond_embed, bias=False)
            in_dim += cfg.cond_embed
        self.project = nn.Linear(in_dim, widths[0] * h0 * w0, bias=cfg.g_norm != "batch")
        self.project_norm = norm_2d(cfg.g_norm, widths[0])
        if cfg.cond_mode not in CHOICES["model.cond_mode"]:
            raise ValueError(unknown_choice("model.cond_mode", cfg.cond_mode))
        cbn = bool(cfg.cond_dim) and cfg.cond_mode == "cbn"
        if cfg.g_upsample not in CHOICES["model.g_upsample"]:
            raise ValueError(unknown_choice("model.g_upsample", cfg.g_upsample))
        blocks = []
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            blocks += [self._up(c_in, c_out, cfg, bias=cfg.g_norm != "batch")]
            norm = norm_2d(cfg.g_norm, c_out)
            blocks += [ConditionalNorm(norm, c_out, cfg.cond_embed) if cbn else norm, nn.ReLU(inplace=True)]
        self.blocks = _LabelSequential(*blocks)
        # the last doubling writes the image directly, as in Radford et al.'s DCGAN
        self.to_rgb = (
            self._up(widths[-1], cfg.channels, cfg, bias=True)
            if n
            else nn.Conv2d(widths[-1], cfg.channels, 3, 1, 1, padding_mode=pad_mode)
        )
        init_weights(self, cfg.init)
        for m in self.modules():
            if isinstance(m, ConditionalNorm):
                m.reset_parameters()

    @staticmethod
    def _up(c_in: int, c_out: int, cfg: ModelConfig, bias: bool) -> nn.Module:
        """One resolution doubling: a 4x4 stride-2 transposed conv, or nearest upsample + 3x3 conv; with
        model.tileable both wrap around (nearest upsampling of a torus is a torus)."""
        if cfg.g_upsample == "convT":
            convt = CircularConvTranspose2d if cfg.tileable else nn.ConvTranspose2d
            return convt(c_in, c_out, 4, 2, 1, bias=bias)
        conv = nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias, padding_mode=padding_mode(cfg.tileable))
        return nn.Sequential(nn.Upsample(scale_factor=2.0, mode="nearest"), conv)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        embedding = None
        if self.cond_dim:
            if labels is None:
                labels = z.new_zeros(z.shape[0], self.cond_dim)
            embedding = self.embed(labels)
            z = torch.cat([z, embedding], dim=1)
        x = self.project(z).view(z.shape[0], -1, *self.start)  # (N, C0, h0, w0)
        x = torch.relu(self.project_norm(x))
        x = self.blocks(x, embedding)  # (N, g_width, h0 * 2**(n-1), w0 * 2**(n-1))
        x = torch.tanh(self.to_rgb(x))  # (N, channels, h0 * 2**n, w0 * 2**n)
        return center_crop(x, self.image_size)  # (N, channels, H, W)


class DCGANDiscriminator(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.cond_dim = cfg.cond_dim
        self.image_size = (cfg.image_size[0], cfg.image_size[1])
        h0, w0, n, pad = plan_resolution(self.image_size)
        _check_tileable(cfg, pad)
        pad_mode = padding_mode(cfg.tileable)  # tileable: D's convs wrap too, so no border tells a position
        self.padded = (h0 * 2**n, w0 * 2**n)
        widths = _widths(cfg.d_width, n, cfg.max_channels)
        layers: list[nn.Module] = []
        self.block_ends: list[int] = []  # index in `features` of each block's activation (feature_maps)
        self.pack = cfg.d_pack
        c_in = cfg.channels * self.pack
        for i, c_out in enumerate(widths):
            conv = (
                Conv2d(c_in, c_out, 4, 2, 1, padding_mode=pad_mode)
                if n
                else Conv2d(c_in, c_out, 3, 1, 1, padding_mode=pad_mode)
            )
            layers.append(maybe_spectral(conv, cfg.d_norm))
            if i > 0:  # no norm on the first layer (Radford et al.)
                layers.append(norm_2d(cfg.d_norm, c_out))
            self.block_ends.append(len(layers))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.mbstd = MinibatchStd() if cfg.minibatch_std else None
        c_final = c_in + (1 if cfg.minibatch_std else 0)
        # with minibatch stddev, one 3x3 conv mixes the extra map in; without it D is exactly Radford et al.'s
        self.final_conv = (
            maybe_spectral(Conv2d(c_final, c_in, 3, 1, 1, padding_mode=pad_mode), cfg.d_norm)
            if cfg.minibatch_std
            else None
        )
        feat_dim = c_in * h0 * w0
        self.dropout = nn.Dropout(cfg.d_dropout) if cfg.d_dropout > 0 else nn.Identity()
        self.fc = maybe_spectral(nn.Linear(feat_dim, 1), cfg.d_norm)
        if cfg.cond_dim:
            self.project = maybe_spectral(nn.Linear(cfg.cond_dim, feat_dim, bias=False), cfg.d_norm)
        # the free slot's own projection (zeros at the start: the plain unconditional score)
        self.free_project = nn.Parameter(torch.zeros(feat_dim)) if cfg.cond_dim and cfg.d_free_head else None
        self.classify = (
            maybe_spectral(nn.Linear(feat_dim, cfg.cond_dim), cfg.d_norm)
            if cfg.cond_dim and cfg.cond_aux
            else None
        )
        init_weights(self, cfg.init)

    def packed(self, x: torch.Tensor) -> torch.Tensor:
        """model.d_pack m > 1 (PacGAN, Lin et al. 2018): each m consecutive images stacked on the channels,
        so D scores (N / m) packs; a pack of m samples shows a collapsed G's sameness that one sample hides."""
        if self.pack == 1:
            return x
        n, c, h, w = x.shape
        if n % self.pack:
            raise SpriteganError(f"model.d_pack {self.pack}: a batch of {n} images does not split into packs")
        return x.reshape(n // self.pack, self.pack * c, h, w)

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after each strided-conv block's LeakyReLU (highest resolution first); with packs
        (model.d_pack) each image is read as a pack of copies of itself, so every image has its maps."""
        if self.pack > 1:
            x = x.repeat(1, self.pack, 1, 1)
        maps, h = [], center_pad(x, self.padded)
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in self.block_ends:
                maps.append(h)
        return maps  # last: (N, C, h0, w0)

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, with_logits: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        """Realness scores (N,), or (N / d_pack,) of packs; with_logits also returns label logits (N, cond_dim)
        when D has a classifier."""
        x = center_pad(self.packed(x), self.padded)
        h = self.features(x)  # (N, C, h0, w0)
        if self.mbstd is not None:
            h = self.mbstd(h)
        if self.final_conv is not None:
            h = nn.functional.leaky_relu(self.final_conv(h), 0.2)
        h = h.flatten(1)
        h = self.dropout(h)
        out = self.fc(h).squeeze(1)  # (N,)
        if self.cond_dim and labels is not None:
            out = out + (self.project(labels) * h).sum(dim=1)
            if self.free_project is not None:  # rows with the all-zero label: the free-sampling slot
                free = (labels == 0).all(dim=1).to(h.dtype)
                out = out + free * (h @ self.free_project.to(h.dtype))
        if with_logits:
            return out, (self.classify(h) if self.classify is not None else None)
        return out
