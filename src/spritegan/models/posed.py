"""Pose-conditional generator for character sheets: one frame network, one identity latent, every pose.

A character sheet (rows = directions, columns = walk-cycle frames) is drawn frame by frame: the frame network
(the DCGAN generator at frame size) takes the character's latent z, the same for all its frames, and a one-hot
pose (the sheet cell), and the frames are laid back out as the sheet. So identity lives in z alone, a frame's
pose in the label, and the network that draws a frame is shared by every pose, where the sheet-as-one-image G
must learn each cell's drawing at its own place. The discriminator is the DCGAN's, on whole sheets: it sees
the set of a character's frames and judges whether they belong together. With `model.posed_frame_d` a second
DCGAN discriminator also judges every frame alone, told its pose (projection), and its mean score over a
sheet's frames is added to the sheet's score. With `model.posed_stack_d` another DCGAN discriminator sees the
frames stacked as channels, one frame-sized image whose every pixel carries all the poses' colours there, and
its score is added too: the sheet D relates a down frame to an up frame only in its last, coarse layers,
while the stacked D's first layer compares them pixel by pixel (the same hair seen from the front and
behind). With `model.posed_stack_g` G draws the frames stacked as well: one frame-sized network, no pose label,
whose last layer writes every pose's channels at each pixel, so all of a character's frames come from the same
features place by place. Everything that takes a sheet run (palette head, EMA, sample sheets, `generate
--atlas`, walk GIFs, ONNX) works unchanged, because G still maps (z, labels) to sheets.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from spritegan.config import ModelConfig
from spritegan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from spritegan.tensors import cut_frames, join_frames, stack_frames, unstack_frames


class PosedDiscriminator(DCGANDiscriminator):
    """The DCGAN discriminator on whole sheets (the set of one character's frames), plus, with
    `model.posed_frame_d`, a pose-conditional discriminator on each frame, and with `model.posed_stack_d` one
    on the frames stacked as channels. The sheet D's parameters keep their names, so runs made without the
    extra Ds load unchanged."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.grid = pose_grid(cfg)
        self.frame_d = (
            DCGANDiscriminator(replace(frame_config(cfg), cond_aux=False, d_free_head=False))
            if cfg.posed_frame_d
            else None
        )
        k = self.grid[0] * self.grid[1]
        self.stack_d = (
            DCGANDiscriminator(
                replace(
                    frame_config(cfg),
                    channels=cfg.channels * k,
                    cond_dim=cfg.cond_dim,
                    cond_aux=False,
                    d_free_head=False,
                )
            )
            if cfg.posed_stack_d
            else None
        )
        self.register_buffer("poses", torch.eye(k), persistent=False)

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, with_logits: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        out = super().forward(x, labels, with_logits)
        if self.frame_d is None and self.stack_d is None:
            return out
        score = out[0] if with_logits else out
        if self.frame_d is not None:
            score = score + self.frame_scores(x, labels)
        if self.stack_d is not None:
            score = score + self.stack_d(stack_frames(x, *self.grid), labels)
        return (score, out[1]) if with_logits else score

    def frame_scores(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """(N, C, H, W) sheets -> (N,): the frame D's mean score over each sheet's frames, each with its pose."""
        n, k = len(x), len(self.poses)
        frames = cut_frames(x, *self.grid).flatten(0, 1)  # (n * k, C, fh, fw)
        cond = frame_conditions(self.poses, labels, n, self.cond_dim, x)
        return self.frame_d(frames, cond).view(n, k).mean(1)


def frame_conditions(
    poses: torch.Tensor, labels: torch.Tensor | None, n: int, cond_dim: int, like: torch.Tensor
) -> torch.Tensor:
    """The frame network's label rows for n sheets, (n * k, cond_dim + k): each sheet's labels (zeros when
    None) followed by the one-hot pose of cell 0..k-1, row by row; in `like`'s dtype."""
    k = len(poses)
    pose = poses.to(like.dtype).repeat(n, 1)
    if not cond_dim:
        return pose
    if labels is None:
        labels = like.new_zeros(n, cond_dim)
    return torch.cat([labels.to(like.dtype).repeat_interleave(k, dim=0), pose], dim=1)


def frame_config(cfg: ModelConfig) -> ModelConfig:
    """The frame network's config: frame size, and the run's labels followed by a one-hot pose."""
    rows, cols = pose_grid(cfg)
    h, w = cfg.image_size
    return replace(
        cfg,
        arch="dcgan",
        image_size=[h // rows, w // cols],
        cond_dim=cfg.cond_dim + rows * cols,
    )


def pose_grid(cfg: ModelConfig) -> tuple[int, int]:
    """(rows, columns) of the sheet; the image must split into equal frames of at least 8x8."""
    if len(cfg.pose_grid) != 2 or min(cfg.pose_grid) < 1:
        raise ValueError(f"model.pose_grid must be [rows, columns], got {cfg.pose_grid}")
    rows, cols = cfg.pose_grid
    h, w = cfg.image_size
    if h % rows or w % cols or h // rows < 8 or w // cols < 8:
        raise ValueError(f"a {w}x{h} sheet does not split into {cols}x{rows} frames of at least 8x8")
    return rows, cols


def stacked_frame_config(cfg: ModelConfig) -> ModelConfig:
    """The stacked G's network (model.posed_stack_g): frame size, the run's labels only, and every pose's
    channels as one image."""
    rows, cols = pose_grid(cfg)
    return replace(frame_config(cfg), cond_dim=cfg.cond_dim, channels=cfg.channels * rows * cols)


class PosedGenerator(nn.Module):
    """(z (N, z_dim), labels (N, cond_dim) or None) -> sheets (N, channels, H, W), drawn frame by frame, or
    with `model.posed_stack_g` all frames at once as channel groups of one frame-sized image."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_dim = cfg.z_dim
        self.cond_dim = cfg.cond_dim
        self.grid = pose_grid(cfg)
        self.frames = DCGANGenerator(stacked_frame_config(cfg) if cfg.posed_stack_g else frame_config(cfg))
        self.register_buffer("poses", torch.eye(self.grid[0] * self.grid[1]), persistent=False)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        n, k = z.shape[0], len(self.poses)
        if self.cfg.posed_stack_g:  # (n, k * C, fh, fw): cell by cell, as stack_frames lays out a sheet for D
            return unstack_frames(self.frames(z, labels), *self.grid)
        cond = frame_conditions(self.poses, labels, n, self.cond_dim, z)
        frames = self.frames(z.repeat_interleave(k, dim=0), cond)  # (n * k, C, fh, fw)
        return join_frames(frames.reshape(-1, k, *frames.shape[1:]), *self.grid)
