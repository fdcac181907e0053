"""Augmentations: shapes, ranges, alpha untouched by colour ops, reproducibility, gradients."""

import pytest
import torch

from spritegan.data.augment import brightness, build_augment, diff_augment, hflip, hue_recolour, translate
from spritegan.errors import SpriteganError
from spritegan.tensors import to_model

torch.set_num_threads(1)


def _batch(c: int = 4, n: int = 6, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, c, size, size), generator=g, dtype=torch.uint8)
    if c == 4:
        images[:, 3] = torch.where(images[:, 3] > 128, 255, 0).to(torch.uint8)
        images[:, :3] *= (images[:, 3:] > 0).to(torch.uint8)
    return to_model(images)


def gen(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("op", [lambda x, g: brightness(x, generator=g), hue_recolour])
def test_colour_ops_keep_alpha_range_and_transparent(op):
    x = _batch()
    y = op(x, gen())
    assert y.shape == x.shape and float(y.min()) >= -1 and float(y.max()) <= 1
    assert torch.equal(y[:, 3], x[:, 3])
    transparent = (x[:, 3:] == -1).expand(-1, 3, -1, -1)
    assert torch.allclose(y[:, :3][transparent], torch.tensor(-1.0), atol=1e-5)
    assert not torch.allclose(y[:, :3], x[:, :3])
    assert torch.equal(op(x, gen()), y)


def test_brightness_scales_in_unit_space():
    x = torch.zeros(2, 3, 2, 2)
    y = brightness(x, 0.5, 0.5, gen())
    assert torch.allclose(y, torch.full_like(y, -0.5))


def test_hue_skips_gray_and_full_turn_is_identity():
    x = _batch(c=1)
    assert torch.equal(hue_recolour(x, gen()), x)
    from spritegan.data.augment import hue_matrices

    m = hue_matrices(torch.tensor([0.0, 2 * torch.pi]))
    assert torch.allclose(m, torch.eye(3).expand(2, 3, 3), atol=1e-6)
    grey = torch.full((1, 3, 1, 1), 0.3)
    assert torch.allclose(torch.einsum("nij,njhw->nihw", hue_matrices(torch.tensor([1.0])), grey), grey)


def test_hflip_and_translate():
    x = _batch()
    assert torch.equal(hflip(x, 1.0, gen()), x.flip(3))
    assert torch.equal(hflip(x, 0.0, gen()), x)
    y = translate(x, 0.25, gen())
    assert y.shape == x.shape and torch.equal(translate(x, 0.25, gen()), y)
    assert torch.equal(translate(x, 0.0, gen()), x)
    one = torch.zeros(1, 1, 4, 4)
    one[0, 0, 0, 0] = 1.0
    from spritegan.data.augment import _shift

    shifted = _shift(one, torch.tensor([1]), torch.tensor([2]))
    assert shifted[0, 0, 1, 2] == 1.0 and shifted[0, 0, 0, 0] == -1.0


def _shift_by_gather(x, dy, dx, fill=-1.0):
    """The plain definition: out[i, :, y, x] = x[i, :, y - dy_i, x - dx_i], fill outside."""
    n, _, h, w = x.shape
    iy = torch.arange(h).view(1, h) - dy.view(n, 1)
    ix = torch.arange(w).view(1, w) - dx.view(n, 1)
    valid = ((iy >= 0) & (iy < h)).view(n, 1, h, 1) & ((ix >= 0) & (ix < w)).view(n, 1, 1, w)
    moved = x[
        torch.arange(n).view(n, 1, 1), :, iy.clamp(0, h - 1).view(n, h, 1), ix.clamp(0, w - 1).view(n, 1, w)
    ]
    return torch.where(valid, moved.permute(0, 3, 1, 2), torch.full_like(x, fill))


@pytest.mark.parametrize("channels_last", [False, True])
def test_shift_matches_its_definition_and_gradient(channels_last):
    from spritegan.data.augment import _shift

    x = torch.randn(7, 5, 6, 9, generator=gen())
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    x.requires_grad_(True)
    dy = torch.tensor([0, 2, -3, 5, -6, 9, 1])  # 9 and -6 push a whole image out of view
    dx = torch.tensor([0, -4, 8, 1, -9, 0, 3])
    ours, plain = _shift(x, dy, dx, fill=-0.5), _shift_by_gather(x, dy, dx, fill=-0.5)
    assert torch.equal(ours, plain)
    weights = torch.randn(ours.shape, generator=gen())
    (g_ours,) = torch.autograd.grad(ours, x, weights)
    (g_plain,) = torch.autograd.grad(plain, x, weights)
    assert torch.equal(g_ours, g_plain)
    assert float(g_ours[5].abs().sum()) == 0  # shifted wholly out: no gradient reaches it
    # second order, as R1 takes it: the gradient of a function of the input gradient
    second = []
    for shift in (_shift, _shift_by_gather):
        (g,) = torch.autograd.grad((shift(x, dy, dx, -0.5) ** 2 * weights).sum(), x, create_graph=True)
        second.append(torch.autograd.grad((g**2).sum(), x)[0])
    assert float(second[1].abs().sum()) > 0 and torch.allclose(second[0], second[1], rtol=1e-5, atol=1e-5)


def test_diff_augment_gradients_and_shapes():
    for c in (1, 3, 4):
        x = _batch(c=c).requires_grad_(True)
        y = diff_augment(x, generator=gen())
        assert y.shape == x.shape
        y.sum().backward()
        assert x.grad is not None and float(x.grad.abs().sum()) > 0
    x = _batch()
    assert torch.equal(
        diff_augment(x, "translation,cutout", gen()), diff_augment(x, "translation,cutout", gen())
    )
    assert torch.equal(diff_augment(x, "color", gen())[:, 3], x[:, 3])
    assert torch.equal(diff_augment(x, "", gen()), x)
    with pytest.raises(SpriteganError, match="policy"):
        diff_augment(x, "colour")


def test_build_augment():
    x = _batch()
    aug = build_augment(["mirror", "brightness", "hue", "translate"])
    y = aug(x, gen())
    assert y.shape == x.shape and float(y.min()) >= -1 and float(y.max()) <= 1
    assert torch.equal(aug(x, gen()), y)
    assert torch.equal(build_augment([])(x, gen()), x)
    with pytest.raises(SpriteganError, match="augmentation"):
        build_augment(["blur"])


def test_diff_augment_p_mixes_per_image():
    from spritegan.data.augment import diff_augment_p

    x = torch.rand(64, 4, 8, 8) * 2 - 1
    assert diff_augment_p(x, "color", 0.0) is x
    g = torch.Generator().manual_seed(0)
    full = diff_augment_p(x, "color", 1.0, g)
    assert all(not torch.equal(full[i], x[i]) for i in range(64))
    half = diff_augment_p(x, "color", 0.5, torch.Generator().manual_seed(1))
    changed = sum(not torch.equal(half[i], x[i]) for i in range(64))
    assert 16 < changed < 48


def test_ada_update_follows_the_overfitting_signal():
    from spritegan.data.augment import ada_update

    assert ada_update(0.0, 0.9, 0.6, 256, 100) == 256 / 100_000
    assert ada_update(0.5, 0.2, 0.6, 1000, 1) == 0.0
    assert ada_update(0.99, 1.0, 0.6, 1000, 1) == 1.0
    assert ada_update(0.3, 0.6, 0.6, 1000, 1) == 0.3
