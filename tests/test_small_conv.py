"""models.layers.Conv2d: its own weight gradient at small outputs equals the native one, to second order."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spritegan.models.layers import SMALL_OUTPUT, Conv2d, _SmallConv, conv_weight_grad

CASES = [  # (C in, C out, kernel, stride, padding, H, W)
    (5, 3, 3, 1, 1, 3, 3),
    (4, 6, 4, 2, 1, 6, 8),
    (3, 2, 3, 1, 0, 5, 4),
    (2, 3, 4, 2, 1, 7, 5),
]


@pytest.mark.parametrize("cin,cout,k,s,p,h,w", CASES)
def test_weight_grad_matches_native(cin, cout, k, s, p, h, w):
    torch.manual_seed(0)
    x = torch.randn(3, cin, h, w, dtype=torch.float64)
    weight = torch.randn(cout, cin, k, k, dtype=torch.float64, requires_grad=True)
    y = nn.functional.conv2d(x, weight, None, s, p)
    grad = torch.randn_like(y)
    (native,) = torch.autograd.grad(y, weight, grad)
    for layout in (torch.contiguous_format, torch.channels_last):
        ours = conv_weight_grad(x.contiguous(memory_format=layout), grad, k, s, p)
        assert ours.shape == native.shape
        torch.testing.assert_close(ours, native, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cin,cout,k,s,p,h,w", CASES)
def test_first_and_second_derivatives(cin, cout, k, s, p, h, w):
    """gradcheck and gradgradcheck in float64: the second derivative is what R1 differentiates."""
    torch.manual_seed(1)
    x = torch.randn(2, cin, h, w, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(cout, cin, k, k, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(cout, dtype=torch.float64, requires_grad=True)

    def conv(x, weight, bias):
        return _SmallConv.apply(x, weight, bias, s, p, torch.float64)

    assert torch.autograd.gradcheck(conv, (x, weight, bias))
    assert torch.autograd.gradgradcheck(conv, (x, weight, bias))


def r1_weight_grads(conv: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Weight and bias gradients of an R1-style penalty (squared input gradient of the output's sum)."""
    x = x.clone().requires_grad_(True)
    with torch.autocast("cpu", torch.bfloat16):
        out = nn.functional.leaky_relu(conv(x), 0.2)
    (gx,) = torch.autograd.grad(out.float().square().sum(), x, create_graph=True)
    return torch.autograd.grad(gx.square().sum(), (conv.weight, conv.bias))


def test_module_under_bf16_autocast_matches_nn_conv2d():
    torch.manual_seed(2)
    ours, native = Conv2d(16, 32, 4, 2, 1), nn.Conv2d(16, 32, 4, 2, 1)
    native.load_state_dict(ours.state_dict())
    x = torch.randn(8, 16, 6, 6).to(memory_format=torch.channels_last)
    with torch.autocast("cpu", torch.bfloat16):
        assert ours._own_weight_grad(x, ours.weight)  # 3x3 output: the own path is taken
        y_ours, y_native = ours(x), native(x)
    torch.testing.assert_close(y_ours, y_native, rtol=0, atol=0)
    g = torch.randn_like(y_ours.float())
    grads_ours = torch.autograd.grad(y_ours.float(), (ours.weight, ours.bias), g)
    grads_native = torch.autograd.grad(y_native.float(), (native.weight, native.bias), g)
    for a, b in zip(grads_ours, grads_native, strict=True):
        assert a.dtype == b.dtype == torch.float32
        assert (a - b).norm() / b.norm() < 1e-2  # both bf16 products; a different formula would be O(1) off
    for a, b in zip(r1_weight_grads(ours, x), r1_weight_grads(native, x), strict=True):
        assert b.norm() > 0
        assert (a - b).norm() / b.norm() < 2e-2


def test_native_path_elsewhere():
    conv = Conv2d(4, 4, 3, 1, 1)
    small = torch.randn(2, 4, 4, 4)
    big = torch.randn(2, 4, 8, 8)
    assert 4 * 4 <= SMALL_OUTPUT < 8 * 8
    assert not conv._own_weight_grad(small, conv.weight)  # fp32 without autocast
    with torch.autocast("cpu", torch.bfloat16):
        assert conv._own_weight_grad(small, conv.weight)
        assert not conv._own_weight_grad(big, conv.weight)  # oneDNN is faster at larger outputs
        with torch.no_grad():
            assert not conv._own_weight_grad(small, conv.weight)
        conv.weight.requires_grad_(False)  # G's step: D frozen, input gradients only
        assert not conv._own_weight_grad(small, conv.weight)
    assert not Conv2d(4, 4, 3, 1, 1, padding_mode="circular")._own_weight_grad(
        small.bfloat16(), conv.weight.bfloat16().requires_grad_(True)
    )
