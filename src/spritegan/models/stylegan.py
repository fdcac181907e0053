"""StyleGAN-style generator and residual discriminator, sized for sprites (16-256 px) on a CPU.

G: z (+ label embedding) -> mapping MLP -> w; a learned constant at the start size of `plan_resolution`
is refined by style-modulated 3x3 convs (StyleGAN2 weight demodulation, Karras et al. 2020, or AdaIN as in
StyleGAN, Karras et al. 2019), each with a per-layer noise input; the image is the sum of upsampled toRGB
outputs of every resolution (skip architecture). Style mixing, truncation around the tracked mean W.
D: fromRGB, residual blocks with average-pool downsampling, minibatch stddev, an MLP head and a label
projection (Miyato & Koyama 2018). All layers use equalised learning rate.
With model.progressive both grow (Karras et al. 2018, models/progressive.py): G stops at the phase's
resolution, fades its newest toRGB in by alpha and upsamples (nearest) to full size; D pools its input to that
resolution and fades a fromRGB at each resolution into its blocks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from spritegan.config import CHOICES, ModelConfig, unknown_choice
from spritegan.models.layers import MinibatchStd, center_crop, center_pad, plan_resolution
from spritegan.models.progressive import Growable

SQRT2 = math.sqrt(2.0)


def _widths(base: int, n: int, cap: int) -> list[int]:
    """Filters per resolution from the highest (base) to the lowest (capped)."""
    return [min(base * 2**i, cap) for i in range(n + 1)]


def _normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class EqLinear(nn.Module):
    """Linear layer with equalised learning rate (weights ~ N(0, 1) scaled at run time)."""

    def __init__(self, c_in: int, c_out: int, lr_mul: float = 1.0, bias_init: float = 0.0, act: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((c_out,), float(bias_init) / lr_mul))
        self.scale, self.lr_mul, self.act = lr_mul / math.sqrt(c_in), lr_mul, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return F.leaky_relu(x, 0.2) * SQRT2 if self.act else x


class EqConv(nn.Module):
    """Conv layer with equalised learning rate and optional LeakyReLU (gain sqrt 2)."""

    def __init__(self, c_in: int, c_out: int, k: int, bias: bool = True, act: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.scale, self.pad, self.act = 1.0 / math.sqrt(c_in * k * k), k // 2, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.scale, self.bias, padding=self.pad)
        return F.leaky_relu(x, 0.2) * SQRT2 if self.act else x


class MappingNetwork(nn.Module):
    """z (+ label embedding) -> w through `layers` equalised-lr linear layers (lr multiplier 0.01)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cond_dim = cfg.cond_dim
        c_in = cfg.z_dim
        if cfg.cond_dim:
            self.embed = EqLinear(cfg.cond_dim, cfg.cond_embed)
            c_in += cfg.cond_embed
        dims = [c_in] + [cfg.w_dim] * max(1, cfg.mapping_layers)
        self.net = nn.Sequential(
            *[EqLinear(a, b, lr_mul=0.01, act=True) for a, b in zip(dims[:-1], dims[1:], strict=True)]
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = _normalize_2nd_moment(z)
        if self.cond_dim:
            if labels is None:
                labels = z.new_zeros(z.shape[0], self.cond_dim)
            x = torch.cat([x, _normalize_2nd_moment(self.embed(labels))], dim=1)
        return self.net(x)  # (N, w_dim)


class StyledConv(nn.Module):
    """3x3 conv whose input channels are scaled per sample by a style from w (modulated) or AdaIN after it."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, size: tuple[int, int], mode: str, noise: bool):
        super().__init__()
        if mode not in CHOICES["model.style_mode"]:
            raise ValueError(unknown_choice("model.style_mode", mode))
        self.mode = mode
        self.weight = nn.Parameter(torch.randn(c_out, c_in, 3, 3))
        self.scale = 1.0 / math.sqrt(c_in * 9)
        self.bias = nn.Parameter(torch.zeros(c_out))
        if mode == "modulated":
            self.affine = EqLinear(w_dim, c_in, bias_init=1.0)
        else:
            self.affine = EqLinear(w_dim, 2 * c_out)
            with torch.no_grad():
                self.affine.bias[:c_out] = 1.0
        self.use_noise = noise
        if noise:
            self.noise_strength = nn.Parameter(torch.zeros(()))
            gen = torch.Generator().manual_seed(c_in * 7919 + c_out * 31 + size[0] * 3 + size[1])
            self.register_buffer("noise_const", torch.randn(1, 1, *size, generator=gen))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        weight = self.weight * self.scale
        if self.mode == "modulated":
            s = self.affine(w)  # (N, c_in)
            x = F.conv2d(x * s[:, :, None, None], weight, padding=1)
            demod = (s.square() @ weight.square().sum(dim=(2, 3)).t()).add(1e-8).rsqrt()  # (N, c_out)
            x = x * demod[:, :, None, None]  # (N, c_out, H, W), unit expected variance
        else:
            x = F.conv2d(x, weight, padding=1)
        if self.use_noise:
            if self.training:
                noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
            else:
                noise = self.noise_const.to(x.dtype)
            x = x + noise * self.noise_strength
        x = F.leaky_relu(x + self.bias[None, :, None, None], 0.2) * SQRT2
        if self.mode == "adain":
            scale, shift = self.affine(w).chunk(2, dim=1)  # (N, c_out) each
            x = F.instance_norm(x) * scale[:, :, None, None] + shift[:, :, None, None]
        return x


class ToRGB(nn.Module):
    """1x1 modulated conv (no demodulation) from features to image channels."""

    def __init__(self, c_in: int, channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = EqLinear(w_dim, c_in, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(channels, c_in, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.scale = 1.0 / math.sqrt(c_in)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w) * self.scale  # (N, c_in)
        return F.conv2d(x * s[:, :, None, None], self.weight, self.bias)


class StyleGANGenerator(Growable, nn.Module):
    supports_truncation = True

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.cond_dim, self.w_dim = cfg.z_dim, cfg.cond_dim, cfg.w_dim
        self.image_size = (cfg.image_size[0], cfg.image_size[1])
        self.mixing_prob = cfg.mixing_prob
        if cfg.style_upsample not in CHOICES["model.style_upsample"]:
            raise ValueError(unknown_choice("model.style_upsample", cfg.style_upsample))
        self.upsample_mode = cfg.style_upsample
        h0, w0, n, _ = plan_resolution(self.image_size)
        self.start = (h0, w0)
        widths = _widths(cfg.g_width, n, cfg.max_channels)[::-1]  # lowest resolution first
        self.mapping = MappingNetwork(cfg)
        self.const = nn.Parameter(torch.randn(widths[0], h0, w0))
        mode, noise = cfg.style_mode, cfg.use_noise
        self.convs = nn.ModuleList([StyledConv(widths[0], widths[0], cfg.w_dim, (h0, w0), mode, noise)])
        self.to_rgbs = nn.ModuleList([ToRGB(widths[0], cfg.channels, cfg.w_dim)])
        if cfg.style_convs not in CHOICES["model.style_convs"]:
            raise ValueError(unknown_choice("model.style_convs", cfg.style_convs))
        self.per_res = cfg.style_convs
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:], strict=True), start=1):
            size = (h0 * 2**i, w0 * 2**i)
            self.convs.append(StyledConv(c_in, c_out, cfg.w_dim, size, mode, noise))
            if self.per_res == 2:
                self.convs.append(StyledConv(c_out, c_out, cfg.w_dim, size, mode, noise))
            self.to_rgbs.append(ToRGB(c_out, cfg.channels, cfg.w_dim))
        self.num_ws = len(self.convs) + 1
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))
        self.w_avg_beta = 0.995
        self._init_growth(n, cfg.progressive)  # a `growth` buffer only when progressive

    def _up(self, x: torch.Tensor) -> torch.Tensor:
        """2x upsampling: bilinear (smooth) or nearest (each pixel becomes a 2x2 block, edges stay hard)."""
        if self.upsample_mode == "nearest":
            return F.interpolate(x, scale_factor=2.0, mode="nearest")
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)

    def truncate(self, w: torch.Tensor, psi: float | torch.Tensor) -> torch.Tensor:
        """Pull w (any leading shape, last axis w_dim) towards the tracked mean: w_avg + psi (w - w_avg).
        A tensor psi (an exported graph's input) is always applied: a traced `psi != 1.0` would be a constant."""
        if isinstance(psi, torch.Tensor):
            return self.w_avg.to(w.dtype).lerp(w, psi.to(w.dtype))
        return self.w_avg.to(w.dtype).lerp(w, psi) if psi != 1.0 else w

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        """ws (N, num_ws, w_dim) -> images (N, channels, H, W) in [-1, 1]."""
        grown = self.current_growth()  # phase `levels`, alpha 1: the fixed-resolution path
        x = self.const[None].expand(ws.shape[0], -1, -1, -1).to(ws.dtype)  # (N, C0, h0, w0)
        x = self.convs[0](x, ws[:, 0])
        img = self.to_rgbs[0](x, ws[:, 1])
        k = 1  # index of the next styled conv; toRGB at a resolution reads the w after its convs
        for i in range(1, grown.phase + 1):
            x = self._up(x)
            for _ in range(self.per_res):
                x = self.convs[k](x, ws[:, k])
                k += 1
            low = img
            img = self._up(img) + self.to_rgbs[i](x, ws[:, k])  # (N, channels, h0 * 2**i, w0 * 2**i)
            if i == grown.phase and grown.alpha < 1.0:  # fading in: lerp(nearest-upsampled low image, image)
                img = torch.lerp(F.interpolate(low, scale_factor=2.0, mode="nearest"), img, grown.alpha)
        if grown.phase < self.levels:  # a lower phase: nearest upsampling to full size
            img = F.interpolate(img, scale_factor=float(2 ** (self.levels - grown.phase)), mode="nearest")
        return center_crop(torch.tanh(img), self.image_size)

    def ws_from_z(
        self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float = 1.0
    ) -> torch.Tensor:
        """Map z to broadcast ws (N, num_ws, w_dim); training mode tracks w_avg and mixes styles."""
        w = self.mapping(z, labels)
        if self.training:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, self.w_avg_beta))
        ws = w[:, None].repeat(1, self.num_ws, 1)
        if self.training and self.mixing_prob > 0 and torch.rand(()) < self.mixing_prob:
            cut = int(torch.randint(1, self.num_ws, ()))
            ws[:, cut:] = self.mapping(torch.randn_like(z), labels)[:, None]
        return self.truncate(ws, truncation)

    def forward(
        self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float = 1.0
    ) -> torch.Tensor:
        return self.synthesis(self.ws_from_z(z, labels, truncation))


class ResBlock(nn.Module):
    """3x3 conv, 2x average-pool, 3x3 conv, plus a pooled 1x1 skip path, summed / sqrt 2."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = EqConv(c_in, c_in, 3)
        self.conv2 = EqConv(c_in, c_out, 3)
        self.skip = EqConv(c_in, c_out, 1, bias=False, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.avg_pool2d(self.conv1(x), 2))  # second conv at half resolution: 4x cheaper
        return (y + self.skip(F.avg_pool2d(x, 2))) / SQRT2


class PlainBlock(nn.Module):
    """3x3 conv then 2x average-pool: one conv per resolution, half the calls of a ResBlock (faster on a CPU)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = EqConv(c_in, c_out, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(self.conv(x), 2)


class StyleGANDiscriminator(Growable, nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.cond_dim = cfg.cond_dim
        self.image_size = (cfg.image_size[0], cfg.image_size[1])
        h0, w0, n, _ = plan_resolution(self.image_size)
        self.padded = (h0 * 2**n, w0 * 2**n)
        widths = _widths(cfg.d_width, n, cfg.max_channels)
        self.from_rgb = EqConv(cfg.channels, widths[0], 1)
        blocks = {
            "resnet": ResBlock,
            "plain": PlainBlock,
        }  # style_d=dcgan: build_discriminator makes the DCGAN's D
        if cfg.style_d not in blocks:
            raise ValueError(unknown_choice("model.style_d", cfg.style_d))
        block = blocks[cfg.style_d]
        self.blocks = nn.ModuleList([block(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)])
        c = widths[-1]
        self.mbstd = MinibatchStd()
        self.final_conv = EqConv(c + 1, c, 3)
        self.fc = EqLinear(c * h0 * w0, c, act=True)
        self.out = EqLinear(c, 1)
        if cfg.cond_dim:
            self.project = EqLinear(cfg.cond_dim, c)
        self.classify = EqLinear(c, cfg.cond_dim) if cfg.cond_dim and cfg.cond_aux else None
        self._init_growth(n, cfg.progressive)
        if cfg.progressive:  # last, so the shared layers start as a fixed-resolution D's (same seed)
            # fromRGB into the block that reads resolution i, for i = 0..n-1 (lowest first)
            self.from_rgbs = nn.ModuleList([EqConv(cfg.channels, widths[n - i], 1) for i in range(n)])

    def _from_rgb(self, i: int) -> nn.Module:
        return self.from_rgb if i == self.levels else self.from_rgbs[i]

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after fromRGB and after each residual block (highest resolution first); a growing D
        starts at its phase's resolution."""
        x = center_pad(x, self.padded)
        grown = self.current_growth()
        first = self.levels - grown.phase  # the block that reads the phase's resolution
        if first:  # a lower phase: pool the (full-size) input down to it
            x = F.avg_pool2d(x, 2**first)  # (N, channels, h0 * 2**phase, w0 * 2**phase)
        image = x
        x = self._from_rgb(grown.phase)(image)  # (N, width, h, w)
        maps = [x]
        if grown.alpha < 1.0 and grown.phase > 0:  # fading in: lerp(fromRGB of the pooled image, block)
            low = self._from_rgb(grown.phase - 1)(F.avg_pool2d(image, 2))
            x = torch.lerp(low, self.blocks[first](x), grown.alpha)
            maps.append(x)
            first += 1
        for block in self.blocks[first:]:
            x = block(x)
            maps.append(x)
        return maps  # last: (N, C, h0, w0)

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, with_logits: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        """Realness scores (N,); with_logits also returns label logits (N, cond_dim) when D has a classifier."""
        h = self.feature_maps(x)[-1]
        h = self.final_conv(self.mbstd(h)).flatten(1)
        h = self.fc(h)  # (N, C)
        out = self.out(h).squeeze(1)  # (N,)
        if self.cond_dim and labels is not None:
            out = out + (self.project(labels) * h).sum(dim=1) / math.sqrt(h.shape[1])
        if with_logits:
            return out, (self.classify(h) if self.classify is not None else None)
        return out
