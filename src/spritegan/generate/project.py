"""GAN inversion: find the W latent whose sprite redraws a target image (Abdal et al. 2019, Image2StyleGAN;
Karras et al. 2020, StyleGAN2 section 5), so a user's own sprite can be morphed and edited.

Adam on w from the mean W, with a pixel loss (L1 or L2 on all channels, alpha included) plus an optional
feature loss (a callable on the rendered image, e.g. on D's block activations).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from spritegan.generate.latent import broadcast, mean_w, require_style
from spritegan.generate.pipeline import SpritePipeline


def project(
    pipe: SpritePipeline,
    target: torch.Tensor,
    steps: int,
    lr: float,
    pixel: str,
    feature_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    feature_weight: float = 0.1,
    wplus: bool = False,
) -> tuple[torch.Tensor, list[float]]:
    """Optimise w from the mean W to match target (1, C, H, W) in [-1, 1]; returns (ws, loss history)."""
    G = pipe.generator
    require_style(G, "projection")
    w = mean_w(G)[None]  # (1, w_dim)
    w = broadcast(w, G.num_ws).clone() if wplus else w.clone()
    w.requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr, betas=(0.9, 0.999))
    history = []
    for _ in range(steps):
        x = pipe.render(broadcast(w, G.num_ws))
        diff = x - target
        loss = diff.abs().mean() if pixel == "l1" else diff.square().mean()
        if feature_fn is not None and feature_weight > 0:
            loss = loss + feature_weight * feature_fn(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
    return broadcast(w.detach(), G.num_ws), history
