"""Make the tiny fp32 generator files that tests/test_pinned_sprites.py pins (run once; commit the output).

    .venv/bin/python tests/data/make_pinned.py

The weights are random but fixed (seeded init, then a seeded perturbation so that every parameter and
buffer, StyleGAN's noise strengths and w_avg included, takes part in the output). Re-running it rewrites the
same tensors (the header's metadata order may differ); changing it on purpose means updating the pins in test_pinned_sprites.py in the same commit.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from spritegan.config import ModelConfig
from spritegan.models import build_generator
from spritegan.storage import save_generator

HERE = Path(__file__).resolve().parent
MANIFEST = {
    "size": [16, 16],
    "channels": 4,
    "alpha_levels": [0, 255],
    "palette": [[0, 0, 0, 255], [255, 255, 255, 255], [200, 40, 40, 255], [40, 40, 200, 255], [0, 0, 0, 0]],
}
CONFIGS = {
    "pinned-dcgan": ModelConfig(image_size=[16, 16], channels=4, z_dim=8, g_width=4, max_channels=16),
    "pinned-stylegan": ModelConfig(
        arch="stylegan",
        image_size=[16, 16],
        channels=4,
        z_dim=8,
        w_dim=16,
        mapping_layers=2,
        g_width=4,
        max_channels=8,
    ),
}


def make(name: str, cfg: ModelConfig) -> Path:
    torch.manual_seed(1234)
    G = build_generator(cfg)
    gen = torch.Generator().manual_seed(99)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
        if hasattr(G, "w_avg"):
            G.w_avg.copy_(torch.randn(G.w_avg.shape, generator=gen))
    path = HERE / f"{name}.safetensors"
    save_generator(path, G, {"model_config": dataclasses.asdict(cfg), "manifest": MANIFEST, "step": 0})
    return path


if __name__ == "__main__":
    for name, cfg in CONFIGS.items():
        print(make(name, cfg))
