"""The sheet reader: reads each frame of a character sheet as the character's trait labels.

A posed G draws one character in every pose, and what most often breaks a character is one trait drawn
another way in a few frames (a ponytail in front, long hair from behind: docs/walkers.md). The reader is a
small classifier trained on the training sheets' frames, each with its pose and its sheet's labels; it
never sees a generated sheet while training. At sampling it scores how surely all of a sheet's frames read
as one set of traits (`consensus`), so `--best-of K` can keep the candidate whose frames agree best.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from spritegan.tensors import cut_frames


class SheetReader(nn.Module):
    """Palette-index sheets (N, H, W) -> per label column, each frame's log-probabilities over its classes.

    Each frame is read alone (with its place in the grid as a one-hot pose), by three 3x3 convolutions (two of
    them strided) and one linear layer over a 4x4 pooled map, so frames of any size read the same way."""

    def __init__(
        self,
        colours: int,
        grid: tuple[int, int],
        classes: Sequence[int],
        width: int = 64,
        embed: int = 8,
    ) -> None:
        super().__init__()
        rows, cols = grid
        if rows < 1 or cols < 1 or not classes or min(classes) < 1:
            raise ValueError(
                f"a sheet reader needs a grid of frames and label classes, got {grid}, {classes}"
            )
        self.grid, self.classes = (rows, cols), tuple(int(c) for c in classes)
        frames = rows * cols
        self.embed = nn.Embedding(colours, embed)
        self.read_in = nn.Conv2d(embed + frames, width, 3, 1, 1)
        self.down1 = nn.Conv2d(width, width, 3, 2, 1)
        self.down2 = nn.Conv2d(width, width, 3, 2, 1)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.out = nn.Linear(width * 16, sum(self.classes))
        self.register_buffer("poses", torch.eye(frames), persistent=False)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def trained(self) -> bool:
        return bool(self.steps > 0)

    def forward(self, index: torch.Tensor) -> list[torch.Tensor]:
        """(N, H, W) palette indices -> one (N, frames, classes_t) log-probability tensor per label column."""
        n, frames = len(index), len(self.poses)
        cells = cut_frames(self.embed(index).permute(0, 3, 1, 2), *self.grid).flatten(0, 1)
        pose = self.poses.repeat(n, 1)[:, :, None, None].expand(-1, -1, *cells.shape[2:])
        h = F.leaky_relu(self.read_in(torch.cat([cells, pose.to(cells.dtype)], 1)), 0.2)
        h = F.leaky_relu(self.down1(h), 0.2)
        h = F.leaky_relu(self.down2(h), 0.2)
        logits = self.out(self.pool(h).flatten(1)).float().view(n, frames, -1)
        return [F.log_softmax(part, -1) for part in logits.split(self.classes, -1)]

    def loss(self, index: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of every frame's reading against its sheet's labels (N, columns), summed over columns."""
        frames = len(self.poses)
        return sum(
            F.nll_loss(lp.flatten(0, 1), labels[:, t].repeat_interleave(frames))
            for t, lp in enumerate(self(index))
        )

    @torch.no_grad()
    def consensus(self, index: torch.Tensor) -> torch.Tensor:
        """(N,) how surely each sheet's frames all read as one set of labels: per column, the class the frames'
        mean probability favours, and the sum over frames and columns of each frame's log-probability of it
        (0 when every frame reads it for sure; one frame read otherwise costs a lot)."""
        total = torch.zeros(len(index))
        for lp in self(index):
            agreed = lp.exp().mean(1).argmax(-1)  # (N,)
            total += lp.gather(2, agreed.view(-1, 1, 1).expand(-1, lp.shape[1], 1)).squeeze(2).sum(1).cpu()
        return total
