"""W-space tools for StyleGAN-style generators: mean W, edit directions, and their files.

A direction is one vector in W scaled so that strength 1 moves a latent by one standard deviation of the
mapped latents along it; `w + s * d` with s in [-3, 3] stays within the range the generator has seen.
Directions come from labels (difference of class means in W, a linear model: Radford-style attribute
vectors, Shen et al. 2020 use a linear SVM for the same boundary) or unsupervised from PCA of W (GANSpace,
Harkonen et al. 2020). They live in RUN/directions/<name>.safetensors with kind/source metadata.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from spritegan.data.procedural import read_traits_batch
from spritegan.errors import SpriteganError
from spritegan.generate.postprocess import snap_palette
from spritegan.labels import label_dim, label_layout
from spritegan.models.protocols import StyleGenerator
from spritegan.storage import read_latent
from spritegan.tensors import to_uint8


def is_style_generator(G: nn.Module) -> bool:
    """True when G keeps the `StyleGenerator` protocol (mapping, synthesis, truncation: W space exists)."""
    return isinstance(G, StyleGenerator)


def require_style(G: nn.Module, what: str) -> None:
    """Raise a one-line error when `what` needs W space but G has none (e.g. a DCGAN)."""
    if not is_style_generator(G):
        raise SpriteganError(
            f"{what} needs a StyleGAN-style run (model.arch=stylegan); this run has no W space"
        )


@torch.no_grad()
def sample_w(
    G: nn.Module, n: int, seed: int = 0, labels: torch.Tensor | None = None, batch: int = 512
) -> tuple[torch.Tensor, torch.Tensor]:
    """n standard-normal z from `seed` and their mapped w: ((n, z_dim), (n, w_dim))."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, G.z_dim, generator=gen)
    ws = [
        G.mapping(z[i : i + batch], None if labels is None else labels[i : i + batch])
        for i in range(0, n, batch)
    ]
    return z, torch.cat(ws)


@torch.no_grad()
def mean_w(G: nn.Module, n: int = 4096, seed: int = 0) -> torch.Tensor:
    """The tracked `w_avg` when training has set it, else the mean of n mapped latents: (w_dim,)."""
    avg = getattr(G, "w_avg", None)
    if avg is not None and bool(avg.abs().sum() > 0):
        return avg.detach().clone()
    return sample_w(G, n, seed)[1].mean(0)


def broadcast(w: torch.Tensor, num_ws: int) -> torch.Tensor:
    """(N, w_dim) -> (N, num_ws, w_dim); per-layer (N, num_ws, w_dim) passes through."""
    return w[:, None].repeat(1, num_ws, 1) if w.dim() == 2 else w


def _unit_std(direction: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Scale a direction to unit length times the std of w projected on it."""
    d = direction / direction.norm().clamp_min(1e-8)
    return d * (w @ d).std().clamp_min(1e-8)


def class_direction(w: torch.Tensor, positive: torch.Tensor, min_count: int = 10) -> torch.Tensor:
    """Direction from latents without to latents with a label: mean difference, (w_dim,)."""
    positive = positive.bool()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if min(n_pos, n_neg) < min_count:
        raise SpriteganError(
            f"too few labelled latents ({n_pos} with, {n_neg} without; need {min_count} each)"
        )
    return _unit_std(w[positive].mean(0) - w[~positive].mean(0), w)


def pca_directions(w: torch.Tensor, k: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k principal axes of W, each scaled to one std: ((k, w_dim), explained variance ratio (k,))."""
    centred = w - w.mean(0)
    _, s, vt = torch.linalg.svd(centred, full_matrices=False)
    var = s.square() / (len(w) - 1)
    k = min(k, vt.shape[0])
    return vt[:k] * var[:k, None].sqrt(), var[:k] / var.sum()


@torch.no_grad()
def conditional_directions(G: nn.Module, spec: dict, n: int = 1024, seed: int = 0) -> dict[str, torch.Tensor]:
    """For a conditional G: W shift caused by each label (mapped with it minus without), averaged over z."""
    z, w0 = sample_w(G, n, seed)
    out = {}
    for col in label_layout(spec):
        for j, cls in enumerate(col.classes):
            lab = torch.zeros(n, label_dim(spec))
            lab[:, col.offset + j] = 1.0
            name = col.name if col.kind == "binary" else f"{col.name}-{cls}"
            out[safe_name(name)] = _unit_std(G.mapping(z, lab).mean(0) - w0.mean(0), w0)
    return out


@torch.no_grad()
def sample_images(G: nn.Module, n: int, seed: int = 0, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """n mapped latents from `seed` and their sprites: ((n, w_dim), uint8 (n, C, H, W)), for labelling in W."""
    _, w = sample_w(G, n, seed)
    images = [to_uint8(G.synthesis(broadcast(w[i : i + batch], G.num_ws))) for i in range(0, n, batch)]
    return w, torch.cat(images)


@torch.no_grad()
def judged_directions(
    G: nn.Module,
    judge: Callable[[torch.Tensor], list[dict[str, str] | None]],
    n: int = 2000,
    seed: int = 0,
    min_count: int = 20,
) -> tuple[dict[str, torch.Tensor], int]:
    """Label sampled images with `judge` (uint8 batch -> traits or None), one direction per trait value."""
    w, images = sample_images(G, n, seed)
    traits = judge(images)
    keep = [i for i, t in enumerate(traits) if t]
    out: dict[str, torch.Tensor] = {}
    if not keep:
        return out, 0
    wk = w[keep]
    names = sorted({(k, v) for i in keep for k, v in traits[i].items()})
    for key, value in names:
        pos = torch.tensor([traits[i][key] == value for i in keep])
        if min(int(pos.sum()), int((~pos).sum())) >= min_count:
            out[safe_name(f"{key}-{value}")] = class_direction(wk, pos, min_count)
    return out, len(keep)


@torch.no_grad()
def classifier_directions(
    G: nn.Module, judge: nn.Module, n: int = 2000, seed: int = 0, min_count: int = 20
) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """Label directions for an unconditional G from a trait classifier (`spritegan traits judge`).

    n sampled sprites are labelled by the judge; each trait value seen in at least `min_count` sprites (and
    missing from as many) gives a difference of class means in W. Names follow the conditional ones:
    `type-female` for a categorical value, `hoodie` for a binary trait. Returns (directions, positives).
    """
    w, images = sample_images(G, n, seed)
    pred = judge.score(images)  # (n, label_dim) of 0/1
    out: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    for col in label_layout(judge.spec):
        for j, cls in enumerate(col.classes):
            pos = pred[:, col.offset + j] > 0.5
            if min(int(pos.sum()), int((~pos).sum())) < min_count:
                continue
            name = safe_name(col.name if col.kind == "binary" else f"{col.name}-{cls}")
            out[name] = class_direction(w, pos, min_count)
            counts[name] = int(pos.sum())
    return out, counts


def safe_name(name: str) -> str:
    """A direction name usable as a file name (letters, digits, _ . + = -)."""
    return re.sub(r"[^A-Za-z0-9_.+=-]+", "_", name.strip())[:80] or "direction"


def load_latent(path: str | Path, G: nn.Module) -> torch.Tensor:
    """Read a latent written by `spritegan project` as ws (1, num_ws, w_dim) for G."""
    w = read_latent(path)
    require_style(G, "--latent")
    w = w.reshape(1, -1, w.shape[-1]) if w.dim() == 3 else w.reshape(1, -1)
    if w.shape[-1] != G.w_dim or (w.dim() == 3 and w.shape[1] != G.num_ws):
        raise SpriteganError(f"{path}: latent shape {tuple(w.shape)} does not fit this run's W space")
    return broadcast(w, G.num_ws)


def traits_judge(images: torch.Tensor, palette: list | None) -> list[dict[str, str] | None]:
    """Built-in sprites: snap to the palette, then read traits exactly (None for malformed sprites)."""
    if images.shape[1] != 4 or tuple(images.shape[-2:]) != (32, 32):
        raise SpriteganError("trait labels need the built-in 32x32 RGBA sprites")
    snapped = snap_palette(images, palette) if palette else images
    return read_traits_batch(np.ascontiguousarray(snapped.permute(0, 2, 3, 1).numpy()))
