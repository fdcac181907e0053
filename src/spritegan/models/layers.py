"""Small building blocks shared by the generators and discriminators."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def plan_resolution(
    size: tuple[int, int], min_start: int = 3, max_start: int = 8
) -> tuple[int, int, int, int]:
    """Pick (start_h, start_w, n_scale, pad) so that start * 2**n_scale covers `size`.

    Any size from 16 to 256 works: 24 -> 3x3 and 3 doublings, 80 -> 5x5 and 4, 64 -> 4x4 and 4. Sizes that
    do not halve cleanly are padded up to a multiple of 8 (`pad` > 0) and cropped back after synthesis.
    """
    h, w = size
    best = None
    for n in range(8, -1, -1):
        f = 2**n
        if h % f == 0 and w % f == 0 and min(h, w) // f >= min_start and max(h, w) // f <= max_start * 2:
            best = (h // f, w // f, n, 0)
            break
    if best is not None and best[2] >= 2:
        return best
    ph, pw = math.ceil(h / 8) * 8, math.ceil(w / 8) * 8
    if (ph, pw) == (h, w):  # 8 pixels cannot halve twice from a start of 3: grow to the next multiple of 8
        ph, pw = h + 8, w + 8
    start_h, start_w, n, _ = plan_resolution((ph, pw), min_start, max_start)
    return start_h, start_w, n, max(ph - h, pw - w)


def center_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop (N, C, H, W) to `size` around the centre (no-op when sizes match)."""
    h, w = size
    top = (x.shape[-2] - h) // 2
    left = (x.shape[-1] - w) // 2
    if top == 0 and left == 0 and x.shape[-2] == h and x.shape[-1] == w:
        return x
    return x[..., top : top + h, left : left + w]


def center_pad(x: torch.Tensor, size: tuple[int, int], value: float = -1.0) -> torch.Tensor:
    """Pad (N, C, H, W) to `size`, centred, with `value` (-1 is black / transparent in model space)."""
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
    if dh == 0 and dw == 0:
        return x
    return nn.functional.pad(x, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2), value=value)


class CircularConvTranspose2d(nn.ConvTranspose2d):
    """A transposed conv whose input wraps around (a torus): pad the input circularly by `wrap` cells, run the
    transposed conv without padding, crop back. Same parameters and state-dict keys as nn.ConvTranspose2d.

    For the doubling conv (kernel 4, stride 2, padding 1), output pixel o = 2i + k - 1 takes input cells i in
    [o/2 - 1, o/2 + 1]; padding the input by one cell a side gives every output pixel all of its cells, and
    the first output pixel of the unpadded result sits at stride * wrap + padding.
    """

    def __init__(self, *args, wrap: int = 1, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.wrap = wrap

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:  # type: ignore[override]
        h, w = x.shape[-2:]
        k, s, p = self.wrap, self.stride[0], self.padding[0]
        padded = nn.functional.pad(x, (k, k, k, k), mode="circular")
        out = nn.functional.conv_transpose2d(
            padded, self.weight, self.bias, self.stride, 0, 0, self.groups, self.dilation
        )
        top = s * k + p
        out_h = (h - 1) * s - 2 * p + self.kernel_size[0]
        out_w = (w - 1) * self.stride[1] - 2 * self.padding[1] + self.kernel_size[1]
        left = self.stride[1] * k + self.padding[1]
        return out[..., top : top + out_h, left : left + out_w]


# output pixels (3x3, 3x4, 4x4) at or below which Conv2d computes its own weight gradient
SMALL_OUTPUT = 16


def conv_weight_grad(
    x: torch.Tensor, grad: torch.Tensor, kernel: int, stride: int, padding: int
) -> torch.Tensor:
    """The weight gradient (O, C, k, k) of a square-kernel conv2d from its input x (N, C, H, W) and output
    gradient (N, O, Ho, Wo): the zero-padded input's k x k windows as rows (one strided view, one copy) times
    the output gradient, one matmul. Built from differentiable operations, so it has a second derivative."""
    n, c = x.shape[:2]
    o, ho, wo = grad.shape[1:]
    padded = F.pad(x, (padding,) * 4) if padding else x
    padded = padded.contiguous(memory_format=torch.channels_last)  # strides (H W C, 1, W C, C)
    sn, sc, sh, sw = padded.stride()
    windows = padded.as_strided((n, ho, wo, kernel, kernel, c), (sn, sh * stride, sw * stride, sh, sw, sc))
    rows = windows.reshape(n * ho * wo, kernel * kernel * c)
    dw = grad.permute(0, 2, 3, 1).reshape(n * ho * wo, o).t() @ rows  # (O, k k C)
    return dw.view(o, kernel, kernel, c).permute(0, 3, 1, 2)


class _SmallConv(torch.autograd.Function):
    """conv2d computed in `dtype` (bf16 in training; any float in tests) whose weight gradient is
    `conv_weight_grad`; the input gradient stays the native one. The saved tensors are the inputs themselves,
    so the backward's casts are recorded and a second derivative reaches the weight (R1)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride: int, padding: int, dtype: torch.dtype):
        ctx.save_for_backward(x, weight, bias)
        ctx.stride, ctx.padding, ctx.dtype = stride, padding, dtype
        b = None if bias is None else bias.to(dtype)
        return F.conv2d(x.to(dtype), weight.to(dtype), b, stride, padding)  # what bf16 autocast computes

    @staticmethod
    def backward(ctx, grad):
        x, weight, bias = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        s, p, dtype = ctx.stride, ctx.padding, ctx.dtype
        grad, xc = grad.to(dtype), x.to(dtype)
        gx = gw = gb = None
        if need_x:
            mask = (True, False, False)
            gx = torch.ops.aten.convolution_backward(
                grad, xc, weight.to(dtype), None, (s, s), (p, p), (1, 1), False, (0, 0), 1, mask
            )[0].to(x.dtype)
        if need_w:
            gw = conv_weight_grad(xc, grad, weight.shape[-1], s, p).to(weight.dtype)
        if need_b:
            gb = grad.sum((0, 2, 3), dtype=bias.dtype)  # summed in the parameter's precision
        return gx, gw, gb, None, None, None


class Conv2d(nn.Conv2d):
    """nn.Conv2d (the same parameters and function) whose weight gradient, for bf16 on the CPU at outputs of
    at most SMALL_OUTPUT pixels, is an im2col view and one matmul: oneDNN's bf16 backward-weights ran 3-5x
    slower than that at D's deepest layers on an AMX Xeon (docs/benchmarks.md)."""

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
        if not self._own_weight_grad(input, weight):
            return super()._conv_forward(input, weight, bias)
        return _SmallConv.apply(input, weight, bias, self.stride[0], self.padding[0], torch.bfloat16)

    def _own_weight_grad(self, x: torch.Tensor, weight: torch.Tensor) -> bool:
        if not (weight.requires_grad and torch.is_grad_enabled()) or x.device.type != "cpu":
            return False
        k, s, p = self.kernel_size, self.stride, self.padding
        if (
            self.padding_mode != "zeros"
            or self.groups != 1
            or self.dilation != (1, 1)
            or isinstance(p, str)
            or k[0] != k[1]
            or s[0] != s[1]
            or p[0] != p[1]
            or torch.jit.is_tracing()
        ):
            return False
        if torch.is_autocast_enabled("cpu"):
            if torch.get_autocast_dtype("cpu") != torch.bfloat16:
                return False
        elif not (x.dtype == weight.dtype == torch.bfloat16):
            return False
        ho = (x.shape[-2] + 2 * p[0] - k[0]) // s[0] + 1
        wo = (x.shape[-1] + 2 * p[0] - k[0]) // s[0] + 1
        return ho * wo <= SMALL_OUTPUT


def padding_mode(tileable: bool) -> str:
    """Conv padding for a model: "circular" (the image is a torus, it tiles without a seam) or "zeros"."""
    return "circular" if tileable else "zeros"


def maybe_spectral(layer: nn.Module, norm: str) -> nn.Module:
    return spectral_norm(layer) if norm == "spectral" else layer


def norm_2d(norm: str, channels: int) -> nn.Module:
    """Normalisation after a conv: batch norm, or nothing (spectral norm wraps the conv instead)."""
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm in ("none", "spectral"):
        return nn.Identity()
    raise ValueError(f"unknown norm {norm!r} (batch | none | spectral)")


class MinibatchStd(nn.Module):
    """Append the mean standard deviation over a group of samples as one extra feature map.

    Karras et al. 2018 (Progressive GAN): D sees batch statistics, so a collapsed G is easy to spot.
    """

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group, n)
        while n % g:
            g -= 1
        y = x.reshape(g, -1, c, h, w)
        y = y.float()
        y = (
            (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()
        )  # var over the group; faster than .var here
        y = y.mean(dim=(1, 2, 3)).to(x.dtype)  # (n // g,)
        y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


def init_weights(module: nn.Module, scheme: str) -> None:
    """DCGAN init (conv weights ~ N(0, 0.02), BN gamma ~ N(1, 0.02)) or Glorot uniform."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            if scheme == "normal":
                nn.init.normal_(weight, 0.0, 0.02)
            elif scheme == "glorot":
                nn.init.xavier_uniform_(weight)
            else:
                raise ValueError(f"unknown init {scheme!r} (normal | glorot)")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
