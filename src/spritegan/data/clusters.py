"""Cluster labels for data without labels (self-conditioning, after Liu et al. 2020, "Diverse Image
Generation via Self-Conditioned GANs"): k-means over each image's coarse layout gives every image a
`cluster` class; a conditional model trained on it samples clusters by their share in the data, so an
unlabelled folder gets what labels give a conditional run (each mode has its own slot in G and D)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spritegan.data.palette import kmeans
from spritegan.errors import DataError

COLUMN = "cluster"
LAYOUT = 8  # images are compared as LAYOUT x LAYOUT area averages of their (alpha-premultiplied) channels


def layout_features(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float (N, C * LAYOUT^2) in [0, 1]: each image's area average on an 8 x 8 grid,
    colour weighted by alpha for RGBA (a transparent pixel counts as no colour, whatever its RGB)."""
    x = images.float() / 255.0
    if x.shape[1] in (2, 4):
        x = torch.cat([x[:, :-1] * x[:, -1:], x[:, -1:]], dim=1)
    return F.adaptive_avg_pool2d(x, LAYOUT).flatten(1)


def cluster_labels(images: torch.Tensor, k: int, seed: int = 0, iters: int = 50) -> torch.Tensor:
    """Each image's cluster (int64 (N,), 0..k'-1, every class used): k-means++ then Lloyd on
    `layout_features`, clusters numbered by size (largest first). The same images and seed give the same
    labels, so a resumed run sees the classes it trained on."""
    if k < 2:
        raise ValueError(f"clusters: {k}; choose at least 2")
    features = layout_features(images)
    distinct = torch.unique(features, dim=0)
    gen = torch.Generator().manual_seed(seed)
    centres = distinct if len(distinct) <= k else kmeans(features, k, gen, iters)
    assign = torch.cdist(features, centres).argmin(1)
    counts = torch.bincount(assign, minlength=len(centres))
    order = sorted(range(len(centres)), key=lambda c: (-int(counts[c]), c))
    order = [c for c in order if counts[c] > 0]
    renumber = torch.full((len(centres),), -1, dtype=torch.long)
    renumber[torch.tensor(order)] = torch.arange(len(order))
    return renumber[assign]


def add_cluster_labels(dataset, k: int, seed: int = 0) -> None:
    """Give a PreparedDataset a categorical `cluster` label column (beside any labels it has)."""
    ids = cluster_labels(dataset.images, k, seed)
    n = int(ids.max()) + 1
    columns = dict(dataset.manifest.get("labels") or {})
    if COLUMN in columns:
        raise DataError(
            f"data.clusters: the data already has a label column named {COLUMN!r}; rename it in the labels CSV "
            "or leave it out with --label-columns"
        )
    columns[COLUMN] = {"kind": "categorical", "classes": [f"c{i:02d}" for i in range(n)]}
    dataset.manifest["labels"] = columns
    dataset.labels = {**dataset.labels, COLUMN: ids}
