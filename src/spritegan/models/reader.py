"""The sheet reader: reads each frame of a character sheet as the character's trait labels.

A posed G draws one character in every pose, and what most often breaks a character is one trait drawn
another way in a few frames (a ponytail in front, long hair from behind: docs/walkers.md). The reader is a
small classifier trained on the training sheets' frames, each with its pose and its sheet's labels; it
never sees a generated sheet while training. At sampling it scores how surely all of a sheet's frames read
as one set of traits (`consensus`), so `--best-of K` can keep the candidate whose frames agree best.

Data without trait labels (a folder of frames whose labels CSV has only character, direction and frame) gets
an identity reader instead: each frame is embedded so that frames of one training character lie close and
frames of others far (each frame told apart from the other characters of its batch by the mean of its own
character's other frames), and a sheet scores by its least agreeing frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from spritegan.tensors import cut_frames

IDENTITY_DIM = 64  # an identity reader's embedding size
IDENTITY_SCALE = 10.0  # the identity loss's logit scale (cosine similarities times this)


class SheetReader(nn.Module):
    """Palette-index sheets (N, H, W) -> each frame's reading: per label column its log-probabilities over
    the classes, or (no classes: an identity reader) a unit embedding of the character it shows.

    Each frame is read alone (with its place in the grid as a one-hot pose), by three 3x3 convolutions (two of
    them strided) and one linear layer over a 4x4 pooled map, so frames of any size read the same way."""

    def __init__(
        self,
        colours: int,
        grid: tuple[int, int],
        classes: Sequence[int] = (),
        width: int = 64,
        embed: int = 8,
    ) -> None:
        super().__init__()
        rows, cols = grid
        if rows < 1 or cols < 1 or (classes and min(classes) < 1) or rows * cols < 2:
            raise ValueError(
                f"a sheet reader needs a grid of 2 or more frames and classes >= 1, got {grid}, {classes}"
            )
        self.grid, self.classes = (rows, cols), tuple(int(c) for c in classes)
        frames = rows * cols
        self.embed = nn.Embedding(colours, embed)
        self.read_in = nn.Conv2d(embed + frames, width, 3, 1, 1)
        self.down1 = nn.Conv2d(width, width, 3, 2, 1)
        self.down2 = nn.Conv2d(width, width, 3, 2, 1)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.out = nn.Linear(width * 16, sum(self.classes) if self.classes else IDENTITY_DIM)
        self.register_buffer("poses", torch.eye(frames), persistent=False)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    @property
    def labelled(self) -> bool:
        """Reads label columns (else: an identity reader)."""
        return bool(self.classes)

    def trained(self) -> bool:
        return bool(self.steps > 0)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        """(N, H, W) palette indices -> (N, frames, outputs) float: each frame's raw reading."""
        n, frames = len(index), len(self.poses)
        cells = cut_frames(self.embed(index).permute(0, 3, 1, 2), *self.grid).flatten(0, 1)
        pose = self.poses.repeat(n, 1)[:, :, None, None].expand(-1, -1, *cells.shape[2:])
        h = F.leaky_relu(self.read_in(torch.cat([cells, pose.to(cells.dtype)], 1)), 0.2)
        h = F.leaky_relu(self.down1(h), 0.2)
        h = F.leaky_relu(self.down2(h), 0.2)
        return self.out(self.pool(h).flatten(1)).float().view(n, frames, -1)

    def log_probs(self, index: torch.Tensor) -> list[torch.Tensor]:
        """One (N, frames, classes_t) log-probability tensor per label column."""
        return [F.log_softmax(part, -1) for part in self(index).split(self.classes, -1)]

    def embeddings(self, index: torch.Tensor) -> torch.Tensor:
        """(N, frames, IDENTITY_DIM) unit vectors: an identity reader's reading of each frame."""
        return F.normalize(self(index), dim=-1)

    def loss(self, index: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Labelled: cross-entropy of every frame's reading against its sheet's labels (N, columns), summed
        over columns. Identity: each even frame told apart from the batch's other sheets by its own sheet's
        mean odd frame, and each odd frame by the mean even frame (a batch of 2 or more sheets)."""
        if self.labelled:
            frames = len(self.poses)
            return sum(
                F.nll_loss(lp.flatten(0, 1), labels[:, t].repeat_interleave(frames))
                for t, lp in enumerate(self.log_probs(index))
            )
        e = self.embeddings(index)
        owner = torch.arange(len(e), device=e.device)
        total = e.new_zeros(())
        for queries, keys in ((e[:, 0::2], e[:, 1::2]), (e[:, 1::2], e[:, 0::2])):
            prototypes = F.normalize(keys.mean(1), dim=-1)  # (N, D)
            logits = queries @ prototypes.T * IDENTITY_SCALE  # (N, q, N)
            total = total + F.cross_entropy(logits.flatten(0, 1), owner.repeat_interleave(queries.shape[1]))
        return total

    @torch.no_grad()
    def consensus(self, index: torch.Tensor) -> torch.Tensor:
        """(N,) how surely each sheet's frames all read as one character; higher is surer.

        Labelled: per column, the class the frames' mean probability favours, and the sum over frames and
        columns of each frame's log-probability of it (0 when every frame reads it for sure; one frame read
        otherwise costs a lot). Identity: the least cosine similarity of a frame to the mean of the others."""
        if not self.labelled:
            e = self.embeddings(index)
            others = F.normalize(e.sum(1, keepdim=True) - e, dim=-1)
            return (e * others).sum(-1).amin(1).cpu()
        total = torch.zeros(len(index))
        for lp in self.log_probs(index):
            agreed = lp.exp().mean(1).argmax(-1)  # (N,)
            total += lp.gather(2, agreed.view(-1, 1, 1).expand(-1, lp.shape[1], 1)).squeeze(2).sum(1).cpu()
        return total
