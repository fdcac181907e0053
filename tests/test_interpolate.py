"""Latent interpolation: endpoints, norms, modes and bad arguments."""

import pytest
import torch

from spritegan.generate.interpolate import interpolate, lerp, slerp


def test_lerp_endpoints_and_midpoint() -> None:
    a, b = torch.zeros(4), torch.ones(4)
    assert torch.equal(lerp(a, b, 0.0), a)
    assert torch.equal(lerp(a, b, 1.0), b)
    assert torch.allclose(lerp(a, b, 0.5), torch.full((4,), 0.5))


def test_slerp_endpoints_and_norm() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(16, generator=g), torch.randn(16, generator=g)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    b = b / b.norm() * a.norm()
    mid = slerp(a, b, 0.5)
    assert mid.norm().item() == pytest.approx(a.norm().item(), rel=1e-4)
    assert lerp(a, b, 0.5).norm() < mid.norm()


def test_slerp_parallel_falls_back_to_lerp() -> None:
    a = torch.ones(8)
    out = slerp(a, 2 * a, 0.5)
    assert torch.isfinite(out).all()
    assert torch.allclose(out, 1.5 * a)


def test_slerp_batched_rows() -> None:
    a, b = torch.eye(3), torch.eye(3).roll(1, dims=0)
    out = slerp(a, b, 0.5)
    assert out.shape == (3, 3)
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)


@pytest.mark.parametrize("mode", ["slerp", "lerp"])
def test_interpolate_shape_and_endpoints(mode: str) -> None:
    a, b = torch.randn(8), torch.randn(8)
    path = interpolate(a, b, 5, mode=mode)
    assert path.shape == (5, 8)
    assert torch.allclose(path[0], a, atol=1e-5)
    assert torch.allclose(path[-1], b, atol=1e-5)
    assert interpolate(a, b, 1, mode=mode).shape == (1, 8)


def test_interpolate_rejects_bad_arguments() -> None:
    a = torch.randn(4)
    with pytest.raises(ValueError, match="mode"):
        interpolate(a, a, 3, mode="cubic")
    with pytest.raises(ValueError, match="steps"):
        interpolate(a, a, 0)
