"""R3GAN-style generator and discriminator (Huang et al., NeurIPS 2024), sized for sprites on a CPU.

No normalisation anywhere, no minibatch stddev, no styles or noise: each resolution is a stack of residual
blocks, each block an inverted bottleneck (1x1 conv widening by `r3_expansion`, grouped 3x3 conv with
`r3_group` channels per group, 1x1 conv back) with biased leaky ReLUs. Stability comes from the fix-up
style initialisation instead of norms: convs are He-initialised, the two inner ones scaled by
L^(-1/(2m-2)) = L^(-1/4) (L residual blocks in the network, m = 3 convs per branch) and the last conv of
every branch starts at zero, so each network starts as a composition of its transitions.

G: z (+ label embedding) -> a learned (C0, h0, w0) basis scaled per channel by a linear map of z -> per
resolution: [1x1 conv when the width changes, 2x upsample (bilinear or nearest)] + residual blocks ->
1x1 conv -> tanh. D: 1x1 conv from the image -> per resolution: residual blocks + [2x2 average pool,
1x1 conv when the width changes] -> residual blocks at (h0, w0) -> a depthwise (h0, w0) conv (the
paper's discriminative basis) -> linear score, plus a projection of the labels when conditional.
Sizes that do not halve cleanly are synthesised padded and cropped (G) or padded with -1 (D), as in DCGAN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from spritegan.config import CHOICES, ModelConfig, unknown_choice
from spritegan.models.layers import center_crop, center_pad, plan_resolution

SLOPE = 0.2
ACT_GAIN = math.sqrt(2.0 / (1.0 + SLOPE**2))  # keeps activations' second moment through a leaky ReLU


def _he(layer: nn.Conv2d | nn.Linear, gain: float = 1.0) -> nn.Module:
    """Weights ~ N(0, gain^2 / fan_in) (MSR init); biases zero; gain 0 zeroes the layer."""
    fan_in = layer.weight[0].numel()
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, SLOPE) * ACT_GAIN


def _widths(base: int, stages: int, cap: int) -> list[int]:
    """Filters per resolution from the highest (base) to the lowest, doubling and capped."""
    return [min(base * 2**i, cap) for i in range(stages)]


class ResidualBlock(nn.Module):
    """x + conv1x1(act(grouped conv3x3(act(conv1x1(x))))), the inner width `c * expansion`."""

    def __init__(self, c: int, expansion: int, group: int, n_blocks: int) -> None:
        super().__init__()
        inner = c * expansion
        groups = max(1, inner // max(1, group))
        while inner % groups:
            groups -= 1
        gain = ACT_GAIN * n_blocks ** (-1.0 / 4.0)  # L^(-1/(2m-2)) with m = 3 layers per branch
        self.expand = _he(nn.Conv2d(c, inner, 1), gain)  # its bias is the first activation's bias
        self.spatial = _he(nn.Conv2d(inner, inner, 3, 1, 1, groups=groups), gain)
        self.project = _he(nn.Conv2d(inner, c, 1, bias=False), 0.0)  # zero: the block starts as identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(_act(self.spatial(_act(self.expand(x)))))


def _stage(c: int, cfg: ModelConfig, n_blocks: int) -> nn.Sequential:
    return nn.Sequential(
        *[ResidualBlock(c, cfg.r3_expansion, cfg.r3_group, n_blocks) for _ in range(cfg.r3_blocks)]
    )


def _check(cfg: ModelConfig) -> None:
    if cfg.r3_upsample not in CHOICES["model.r3_upsample"]:
        raise ValueError(unknown_choice("model.r3_upsample", cfg.r3_upsample))
    if cfg.r3_blocks < 1 or cfg.r3_expansion < 1 or cfg.r3_group < 1:
        raise ValueError(
            f"model.r3_blocks, r3_expansion and r3_group must be >= 1 "
            f"(got {cfg.r3_blocks}, {cfg.r3_expansion}, {cfg.r3_group})"
        )


class R3GANGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        _check(cfg)
        self.cfg = cfg
        self.z_dim = cfg.z_dim
        self.cond_dim = cfg.cond_dim
        self.image_size = (cfg.image_size[0], cfg.image_size[1])
        h0, w0, n, _ = plan_resolution(self.image_size)
        widths = _widths(cfg.g_width, n + 1, cfg.max_channels)[::-1]  # lowest resolution first
        n_blocks = len(widths) * cfg.r3_blocks
        in_dim = cfg.z_dim
        if cfg.cond_dim:
            self.embed = _he(nn.Linear(cfg.cond_dim, cfg.cond_embed, bias=False))
            in_dim += cfg.cond_embed
        self.basis = nn.Parameter(torch.randn(widths[0], h0, w0))
        self.scale = _he(nn.Linear(in_dim, widths[0], bias=False))
        self.stages = nn.ModuleList([_stage(widths[0], cfg, n_blocks)])
        self.transitions = nn.ModuleList()
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            self.transitions.append(
                _he(nn.Conv2d(c_in, c_out, 1, bias=False)) if c_in != c_out else nn.Identity()
            )
            self.stages.append(_stage(c_out, cfg, n_blocks))
        self.to_image = _he(nn.Conv2d(widths[-1], cfg.channels, 1))
        self.upsample = cfg.r3_upsample

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.cond_dim:
            if labels is None:
                labels = z.new_zeros(z.shape[0], self.cond_dim)
            z = torch.cat([z, self.embed(labels)], dim=1)
        x = self.basis[None] * self.scale(z)[:, :, None, None]  # (N, C0, h0, w0)
        x = self.stages[0](x)
        for transition, stage in zip(self.transitions, self.stages[1:], strict=True):
            x = transition(x)
            if self.upsample == "nearest":
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            else:
                x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = stage(x)
        x = torch.tanh(self.to_image(x))  # (N, channels, h0 * 2**n, w0 * 2**n)
        return center_crop(x, self.image_size)


class R3GANDiscriminator(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        _check(cfg)
        self.cfg = cfg
        self.cond_dim = cfg.cond_dim
        self.image_size = (cfg.image_size[0], cfg.image_size[1])
        h0, w0, n, _ = plan_resolution(self.image_size)
        self.padded = (h0 * 2**n, w0 * 2**n)
        widths = _widths(cfg.d_width, n + 1, cfg.max_channels)  # highest resolution first
        n_blocks = len(widths) * cfg.r3_blocks
        self.from_image = _he(nn.Conv2d(cfg.channels, widths[0], 1))
        self.stages = nn.ModuleList([_stage(c, cfg, n_blocks) for c in widths])
        self.transitions = nn.ModuleList(
            _he(nn.Conv2d(c_in, c_out, 1, bias=False)) if c_in != c_out else nn.Identity()
            for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
        )
        c = widths[-1]
        self.basis = _he(nn.Conv2d(c, c, (h0, w0), groups=c, bias=False))  # (N, c, h0, w0) -> (N, c, 1, 1)
        self.fc = _he(nn.Linear(c, 1))
        if cfg.cond_dim:
            self.project = _he(nn.Linear(cfg.cond_dim, c, bias=False))
        self.classify = _he(nn.Linear(c, cfg.cond_dim)) if cfg.cond_dim and cfg.cond_aux else None

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after the input conv and after each resolution's blocks (highest first)."""
        x = self.from_image(center_pad(x, self.padded))
        maps = [x]
        for i, stage in enumerate(self.stages):
            if i:
                x = self.transitions[i - 1](F.avg_pool2d(x, 2))
            x = stage(x)
            maps.append(x)
        return maps  # last: (N, C, h0, w0)

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, with_logits: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        """Realness scores (N,); with_logits also returns label logits (N, cond_dim) when D has a classifier."""
        h = self.basis(self.feature_maps(x)[-1]).flatten(1)  # (N, C)
        out = self.fc(h).squeeze(1)
        if self.cond_dim and labels is not None:
            out = out + (self.project(labels) * h).sum(dim=1) / math.sqrt(h.shape[1])
        if with_logits:
            return out, (self.classify(h) if self.classify is not None else None)
        return out
