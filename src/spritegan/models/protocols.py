"""What the rest of spritegan may assume about a model, written down (PEP 544 protocols).

Every generator in `models.ARCHITECTURES` is a `Generator`; the StyleGAN-style ones are also
`StyleGenerator`s (W space: mapping, synthesis, truncation), which is what W-space editing, morphing in W,
projection and direction finding check for. A palette-head wrapper (`models/palette_head.py`) forwards
these members to its body, so a wrapped generator keeps its protocol. `isinstance(G, StyleGenerator)` works
at run time (it checks the members exist).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Generator(Protocol):
    """(z (N, z_dim), labels (N, cond_dim) or None) -> images (N, channels, H, W) in [-1, 1]."""

    z_dim: int
    cond_dim: int  # 0: unconditional

    def __call__(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor: ...


@runtime_checkable
class StyleGenerator(Protocol):
    """A generator with a W space: z -> mapping -> w (N, w_dim), broadcast to ws (N, num_ws, w_dim) ->
    synthesis -> images; `truncate` pulls w towards the tracked mean `w_avg` (psi = 1 leaves it)."""

    z_dim: int
    cond_dim: int
    w_dim: int
    num_ws: int
    w_avg: torch.Tensor

    def mapping(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor: ...

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor: ...

    def truncate(self, w: torch.Tensor, psi: float) -> torch.Tensor: ...

    def __call__(
        self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float = 1.0
    ) -> torch.Tensor: ...


@runtime_checkable
class Discriminator(Protocol):
    """(images, labels or None) -> realness scores (N,); with_logits=True -> (scores, label logits (N,
    cond_dim) or None when D has no classifier). `feature_maps(images)` -> the activations of each block,
    highest resolution first, each (N, C, h, w) (`spritegan inspect` draws them, projection compares them)."""

    cond_dim: int

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]: ...

    def __call__(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, with_logits: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]: ...
