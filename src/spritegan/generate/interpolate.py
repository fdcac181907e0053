"""Paths between latents: linear and spherical interpolation, for morphs between two sprites.

Gaussian latents live near a sphere of radius sqrt(z_dim); slerp keeps intermediate points at a typical
norm, where lerp passes through the low-norm middle that a generator rarely saw during training.
"""

from __future__ import annotations

import torch

MODES = ("slerp", "lerp")


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Straight-line interpolation (1 - t) * z0 + t * z1."""
    return z0 + (z1 - z0) * t


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float | torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation along the last axis; falls back to lerp for (anti)parallel vectors."""
    t = torch.as_tensor(t, dtype=z0.dtype)
    n0 = z0 / z0.norm(dim=-1, keepdim=True).clamp_min(eps)
    n1 = z1 / z1.norm(dim=-1, keepdim=True).clamp_min(eps)
    cos = (n0 * n1).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    so = torch.sin(omega)
    near = so.abs() < 1e-4
    safe = torch.where(near, torch.ones_like(so), so)
    w0 = torch.where(near, 1.0 - t, torch.sin((1.0 - t) * omega) / safe)
    w1 = torch.where(near, t, torch.sin(t * omega) / safe)
    return w0 * z0 + w1 * z1


def interpolate(z_a: torch.Tensor, z_b: torch.Tensor, steps: int, mode: str = "slerp") -> torch.Tensor:
    """`steps` latents from z_a to z_b inclusive, shape (steps, z_dim); mode is slerp or lerp."""
    if mode not in MODES:
        raise ValueError(f"unknown interpolation mode {mode!r} (choose {' or '.join(MODES)})")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    z_a, z_b = z_a.reshape(-1), z_b.reshape(-1)
    ts = torch.linspace(0.0, 1.0, steps, dtype=z_a.dtype) if steps > 1 else torch.zeros(1, dtype=z_a.dtype)
    fn = slerp if mode == "slerp" else lerp
    return torch.stack([fn(z_a, z_b, float(t)) for t in ts])
