"""Progressive growing (Karras et al. 2018, "Progressive Growing of GANs for Improved Quality, Stability, and
Variation", ICLR): train at the model's lowest resolution, then fade each next one in.

The growth state is a pure function of the training images seen (`growth_at`), so a resumed run picks up
mid-fade exactly where it stopped. A state is (phase, alpha): phase k trains resolution `start * 2**k`
(k = 0: the model's first block, 3x3 for 24x24 sprites, 4x4 for 32 and 64); alpha in [0, 1] fades phase k's
new layers in (phase 0 has alpha 1). Schedule: `stable_kimg` at phase 0, then for each next phase
`fade_kimg` with alpha rising linearly from 0 to 1 and `stable_kimg` at alpha 1; after the last phase the
model stays at full resolution. G and D always take and give full-size images (the paper's official code
does the same): G's lower-phase output is upsampled (nearest), D average-pools its input to the phase's
resolution, and `fade_reals` gives the reals the same blend of the two resolutions that G's output has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spritegan.config import ModelConfig
from spritegan.errors import SpriteganError
from spritegan.models.layers import center_crop, center_pad, plan_resolution

ALPHA_STEPS = 2**24  # alpha is kept as an integer count of 1/2**24: a model cast to bf16 keeps its state


@dataclass(frozen=True)
class Growth:
    """Where a progressive model is: phase k trains resolution start * 2**k; alpha fades its layers in."""

    phase: int
    alpha: float = 1.0

    def quantised(self) -> Growth:
        """The state as the models store it (alpha to 1/2**24), so training and a saved file agree exactly."""
        return Growth(self.phase, round(self.alpha * ALPHA_STEPS) / ALPHA_STEPS)


def growth_levels(image_size: tuple[int, int] | list[int]) -> int:
    """The last phase: the number of doublings from the model's first block to its (padded) full size."""
    return plan_resolution((int(image_size[0]), int(image_size[1])))[2]


def phase_size(image_size: tuple[int, int] | list[int], phase: int) -> tuple[int, int]:
    """(h, w) that phase `phase` trains at (before cropping a padded size back)."""
    h0, w0, _, _ = plan_resolution((int(image_size[0]), int(image_size[1])))
    return h0 * 2**phase, w0 * 2**phase


def growth_at(images: int, levels: int, fade_kimg: float, stable_kimg: float) -> Growth:
    """The growth state after `images` training images: stable_kimg at phase 0, then fade_kimg (alpha 0 -> 1)
    and stable_kimg for each of phases 1..levels; full resolution from then on."""
    kimg = images / 1000.0
    period = fade_kimg + stable_kimg
    if levels <= 0 or period <= 0:
        return Growth(max(levels, 0))
    if kimg < stable_kimg:
        return Growth(0)
    grown = (kimg - stable_kimg) / period  # periods since phase 0 ended
    step = math.floor(grown)
    if step >= levels:
        return Growth(levels)
    within = (grown - step) * period  # kimg into phase step + 1
    alpha = 1.0 if fade_kimg <= 0 else min(within / fade_kimg, 1.0)
    return Growth(step + 1, alpha).quantised()


def growth_end_kimg(levels: int, fade_kimg: float, stable_kimg: float) -> float:
    """Thousands of images until the last phase is fully faded in."""
    return max(levels, 0) * (fade_kimg + stable_kimg)


def check_progressive(cfg: ModelConfig) -> None:
    """One-line error for a model that cannot grow: only the StyleGAN-style G and its own D grow."""
    if not cfg.progressive:
        return
    if cfg.arch != "stylegan":
        raise SpriteganError(
            f"model.progressive: only arch=stylegan grows progressively, not arch={cfg.arch}"
        )
    if cfg.style_d not in ("resnet", "plain"):
        raise SpriteganError(
            f"model.progressive: style_d={cfg.style_d} cannot grow; use style_d=resnet or plain"
        )
    if cfg.head != "rgb":
        raise SpriteganError(
            f"model.progressive: head={cfg.head} is not supported (pooled reals leave the palette); use head=rgb"
        )


def fade_reals(x: torch.Tensor, image_size: tuple[int, int] | list[int], growth: Growth) -> torch.Tensor:
    """Real images (N, C, H, W) as phase `growth` sees them: average-pooled to its resolution, blended during
    a fade with the pooled-again-and-upsampled previous resolution (alpha), upsampled (nearest) to full size."""
    size = (int(image_size[0]), int(image_size[1]))
    h0, w0, levels, _ = plan_resolution(size)
    if growth.phase >= levels and growth.alpha >= 1.0:
        return x
    x = center_pad(x, (h0 * 2**levels, w0 * 2**levels))  # padded sizes: the -1 border D pads with too
    factor = 2 ** (levels - growth.phase)
    low = F.avg_pool2d(x, factor) if factor > 1 else x  # (N, C, h0 * 2**phase, w0 * 2**phase)
    if growth.alpha < 1.0 and growth.phase > 0:
        coarse = F.interpolate(F.avg_pool2d(low, 2), scale_factor=2.0, mode="nearest")
        low = torch.lerp(coarse, low, growth.alpha)
    if factor > 1:
        low = F.interpolate(low, scale_factor=float(factor), mode="nearest")
    return center_crop(low, size)


class Growable:
    """Mix-in for a G or D with a `growth` buffer (int64 [phase, alpha * 2**24]) and a `levels` attribute:
    `set_growth` keeps the buffer and `self.growth_state` in step; loading a state dict restores both."""

    levels: int
    growth_state: Growth | None = None  # None: a fixed-resolution model

    def _init_growth(self, levels: int, progressive: bool) -> None:
        self.levels = levels
        if progressive:
            self.register_buffer("growth", torch.tensor([levels, ALPHA_STEPS], dtype=torch.long))
            self.growth_state = Growth(levels)
            self.register_load_state_dict_post_hook(lambda module, _keys: module._sync_growth())

    def set_growth(self, growth: Growth) -> None:
        """Train or generate at `growth` (a progressive model only)."""
        if self.growth_state is None:
            raise SpriteganError("set_growth: this model was built without model.progressive")
        if not (0 <= growth.phase <= self.levels and 0.0 <= growth.alpha <= 1.0):
            raise ValueError(f"growth {growth} outside phases 0..{self.levels} and alpha 0..1")
        g = growth.quantised()
        self.growth.copy_(torch.tensor([g.phase, round(g.alpha * ALPHA_STEPS)]))
        self._sync_growth()

    def _sync_growth(self) -> None:
        phase, steps = (int(v) for v in self.growth.tolist())
        self.growth_state = Growth(phase, 1.0 if phase == 0 else steps / ALPHA_STEPS)

    def current_growth(self) -> Growth:
        """The state the model trains or generates at (full resolution for a fixed-resolution model)."""
        return self.growth_state if self.growth_state is not None else Growth(self.levels)
