"""Perceptual path length in Z (Karras et al., 2019, "A Style-Based Generator Architecture for GANs").

PPL = E[ d(G(slerp(z0, z1, t)), G(slerp(z0, z1, t + eps))) / eps^2 ], t ~ U(0, 1), eps = 1e-4, with
z0, z1 ~ N(0, I) and spherical interpolation on the normalised latents, as in the paper's "full" Z
path length. This is the labelled variant "PPL-Inception": d is the squared Euclidean distance between
the same Inception pool3 features used for FID (not LPIPS/VGG), computed on the float images without
quantisation and without cropping. As in the StyleGAN reference code, values outside the 1st-99th
percentile are discarded before averaging.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from spritegan.metrics.features import features_from_model_space

VARIANT = "PPL-Inception (Z, slerp, eps=1e-4, full path, no crop)"


def slerp(a, b, t):
    """Spherical interpolation between the normalised rows of a and b at fractions t (N,) (torch)."""
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    cos = (a * b).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    omega = cos.acos()
    t = t.reshape(-1, 1)
    out = (omega * (1 - t)).sin() * a + (omega * t).sin() * b
    out = out / omega.sin().clamp_min(1e-12)
    out = out / out.norm(dim=-1, keepdim=True)
    return out


def perceptual_path_length(
    synthesize: Callable,
    z_dim: int,
    *,
    num_samples: int = 200,
    epsilon: float = 1e-4,
    seed: int = 0,
    batch_size: int = 16,
    feature_fn: Callable | None = None,
) -> dict[str, float | int | str]:
    """PPL-Inception of a generator `synthesize(z) -> float images in [-1, 1]` (Karras et al., 2019)."""
    features = feature_fn or features_from_model_space
    gen = torch.Generator().manual_seed(seed)
    dists = []
    for start in range(0, num_samples, batch_size):
        n = min(batch_size, num_samples - start)
        z0 = torch.randn(n, z_dim, generator=gen)
        z1 = torch.randn(n, z_dim, generator=gen)
        t = torch.rand(n, generator=gen)
        za = slerp(z0, z1, t)
        zb = slerp(z0, z1, t + epsilon)
        with torch.no_grad():
            images = synthesize(torch.cat([za, zb]), labels=None).float()
        feats = np.asarray(features(images), np.float64)
        dists.append(((feats[:n] - feats[n:]) ** 2).sum(1) / epsilon**2)
    d = np.concatenate(dists)
    lo, hi = np.percentile(d, 1), np.percentile(d, 99)
    kept = d[(d >= lo) & (d <= hi)]
    return {"ppl": float(kept.mean()), "ppl_samples": int(num_samples), "ppl_variant": VARIANT}
