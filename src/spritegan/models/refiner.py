"""A learned clean-up of palette-index sprites: the palette head's last step at sampling.

`PaletteRefiner` reads a sprite as palette indices (N, H, W) and gives logits over the palette per pixel;
`refine` takes their argmax, a few passes: among the sprite's own colours, then (the last pass) among the
palette within the head's cap on colours per sprite. It is trained after the GAN, on the run's own training
images with small corruptions (train/refine.py) that look like a generator's misses: pixels that take a
neighbour's colour, and small patches of another sprite's pixels at the same place (the in-between shapes
of two training sprites). So it learns the data's local rules (outlines, shoulders, brims, a sword's blade)
and moves a sample's few stray pixels onto them; it never sees a generated sprite or a label. Untrained
(`steps` 0) it is skipped, so sample sheets during the GAN's training show the head alone.
`SheetRefiner` is the same for a posed G's character sheets, computed on the frames stacked as channels so
that each pixel sees its place in every frame (model.palette_refiner_stack).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spritegan.models.colour_cap import capped_logits
from spritegan.tensors import stack_frames, unstack_frames


def one_hot_maps(index: torch.Tensor, colours: int) -> torch.Tensor:
    """(N, H, W) indices -> (N, K, H, W) 0/1 floats (a comparison, which exports to ONNX as it is)."""
    ks = torch.arange(colours, device=index.device).view(1, colours, 1, 1)
    return (index.unsqueeze(1) == ks).float()


class RefinerBase(nn.Module):
    """What every refiner shares: logits over the palette per pixel from `_features` and the 1x1 `out`, with
    `keep` added at each pixel's own colour, and the rounds of argmax that `refine` takes."""

    colours: int
    out: nn.Conv2d
    keep: nn.Parameter
    steps: torch.Tensor

    def _features(self, index: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _unet(self, h1: torch.Tensor) -> torch.Tensor:
        """The U-Net both refiners share, from its first features (full, 1/2 and 1/4 resolution, residual
        blocks, nearest upsampling) to its last."""
        h1 = h1 + F.relu(self.full_in(h1))
        h2 = F.relu(self.down1(h1))
        h2 = h2 + F.relu(self.half_res(h2))
        h3 = F.relu(self.down2(h2))
        h3 = h3 + F.relu(self.quarter_res(h3))
        u2 = h2 + F.relu(self.up2(F.interpolate(h3, size=h2.shape[-2:], mode="nearest")))
        u1 = h1 + F.relu(self.up1(F.interpolate(u2, size=h1.shape[-2:], mode="nearest")))
        return u1 + F.relu(self.full_out(u1))

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        """(N, H, W) long indices -> (N, K, H, W) logits."""
        return self.out(self._features(index)).float() + self.keep * one_hot_maps(index, self.colours)

    def pixel_logits(self, index: torch.Tensor) -> torch.Tensor:
        """The same logits as `forward`, as (N * H * W, K) rows for a cross-entropy: the output projection on
        channels-last features and the keep bonus added at each pixel's own colour, without the (N, K, H, W)
        one-hot and transposed copies that made a training step 1.2x slower."""
        features = self._features(index).permute(0, 2, 3, 1)
        logits = F.linear(features, self.out.weight.flatten(1), self.out.bias).float()
        keep = self.keep.expand(index.shape).unsqueeze(-1)
        return logits.scatter_add(-1, index.unsqueeze(-1), keep.to(logits.dtype)).reshape(-1, self.colours)

    def trained(self) -> bool:
        return bool(self.steps > 0)

    @torch.no_grad()
    def refine(self, index: torch.Tensor, passes: int = 2, max_colours: int | None = None) -> torch.Tensor:
        """Indices (N, H, W) after `passes` rounds of the refiner's argmax. Every round but the last picks
        among the colours each sprite already uses, which mends shapes; with `max_colours` (the palette
        head's cap) the last round may give a pixel any palette colour, each sprite keeping its
        `max_colours` most chosen ones (0: no cap), so a colour G left out entirely (both eyes drawn in the
        outline's black) comes back. With None every round keeps to the sprite's own colours (a swap head's
        slots)."""
        for round_ in range(passes):
            logits = self(index)
            if max_colours is None or round_ < passes - 1:
                uses = one_hot_maps(index, self.colours).amax(dim=(2, 3), keepdim=True) > 0  # (N, K, 1, 1)
                logits = logits.masked_fill(~uses, float("-inf"))
            else:
                logits = capped_logits(logits, max_colours)
            index = logits.argmax(1)
        return index


class PaletteRefiner(RefinerBase):
    """A small U-Net (full, 1/2 and 1/4 resolution, residual blocks) over colour embeddings of the indices.
    The logits add `keep` to each pixel's own colour, so an unsure refiner leaves the pixel as it was."""

    def __init__(self, colours: int, width: int = 48, tileable: bool = False) -> None:
        super().__init__()
        pad = "circular" if tileable else "zeros"
        w, w2 = width, 2 * width

        def conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
            return nn.Conv2d(cin, cout, 3, stride, dilation, dilation, padding_mode=pad)

        self.colours = colours
        self.embed = nn.Embedding(colours, w)
        self.full_in, self.down1, self.half_res = conv(w, w), conv(w, w2, 2), conv(w2, w2)
        self.down2, self.quarter_res = conv(w2, w2, 2), conv(w2, w2, dilation=2)
        self.up2, self.up1, self.full_out = conv(w2, w2), conv(w2, w), conv(w, w)
        self.out = nn.Conv2d(w, colours, 1)
        self.keep = nn.Parameter(torch.tensor(2.0))
        # optimiser steps the refiner has been trained for (saved with the generator; 0: not applied)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def _features(self, index: torch.Tensor) -> torch.Tensor:
        """The U-Net's last features (N, width, H, W); under autocast the whole path runs in its dtype, so
        the residual sums are not cast back and forth at every convolution."""
        h1 = self.embed(index)
        if torch.is_autocast_enabled(index.device.type):
            h1 = h1.to(torch.get_autocast_dtype(index.device.type))
        h1 = h1.permute(0, 3, 1, 2)
        return self._unet(h1)


class SheetRefiner(RefinerBase):
    """The refiner for character sheets (a posed G's rows of directions and columns of walk frames): the
    frames are stacked as channel groups, so every pixel of the U-Net (at frame size) sees its place in all
    of a character's frames, and its features are laid back out as the sheet. A trait drawn one way in most
    frames and another way in a few is then one pixel-wise comparison away, where the sheet-wide U-Net sees
    only a frame's neighbours (docs/walkers.md)."""

    def __init__(self, colours: int, width: int = 48, grid: tuple[int, int] = (4, 4), embed: int = 8) -> None:
        super().__init__()
        rows, cols = grid
        if rows < 1 or cols < 1:
            raise ValueError(f"a sheet refiner needs a grid of frames, got {grid}")
        frames, w, w2 = rows * cols, width, 2 * width

        def conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
            return nn.Conv2d(cin, cout, 3, stride, 1)

        self.colours, self.grid, self.width = colours, (rows, cols), width
        self.embed = nn.Embedding(colours, embed)
        self.stack_in, self.full_in = conv(frames * embed, w2), conv(w2, w2)
        self.down1, self.half_res = conv(w2, w2, 2), conv(w2, w2)
        self.down2, self.quarter_res = conv(w2, w2, 2), conv(w2, w2)
        self.up2, self.up1, self.full_out = conv(w2, w2), conv(w2, w2), conv(w2, w2)
        self.unstack = nn.Conv2d(w2, frames * w, 1)  # each frame's features at each place
        self.out = nn.Conv2d(w, colours, 1)
        self.keep = nn.Parameter(torch.tensor(2.0))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def _features(self, index: torch.Tensor) -> torch.Tensor:
        """(N, H, W) sheet indices -> (N, width, H, W) features, computed on the stacked frames."""
        e = self.embed(index)
        if torch.is_autocast_enabled(index.device.type):
            e = e.to(torch.get_autocast_dtype(index.device.type))
        stacked = stack_frames(e.permute(0, 3, 1, 2), *self.grid)  # (N, frames * embed, fh, fw)
        cells = F.relu(
            self.unstack(self._unet(F.relu(self.stack_in(stacked))))
        )  # (N, frames * width, fh, fw)
        return unstack_frames(cells, *self.grid)
