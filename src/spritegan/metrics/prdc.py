"""Precision, recall, density and coverage on Inception features.

Precision and recall follow Kynkaanniemi et al. (2019), "Improved Precision and Recall Metric for
Assessing Generative Models" (NeurIPS); density and coverage follow Naeem et al. (2020), "Reliable
Fidelity and Diversity Metrics for Generative Models" (ICML). Each real (or fake) point gets a ball whose
radius is the distance to its k-th nearest neighbour within its own set (k = 5 by default), in the
2048-d Inception pool3 space (these are the "Inception-feature" variants, not the VGG-16 ones).

- precision: share of fake points inside at least one real ball (fidelity);
- recall: share of real points inside at least one fake ball (diversity);
- density: mean number of real balls containing a fake point, divided by k (can exceed 1);
- coverage: share of real points whose ball contains at least one fake point.
"""

from __future__ import annotations

import numpy as np

CHUNK = 1024


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between rows of a (n, d) and b (m, d), float64 (n, m)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.clip(sq, 0.0, None))


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest other row (the row itself counts as the 0-th)."""
    n = features.shape[0]
    if n <= k:
        raise ValueError(f"k-NN radii need more than k={k} points; got {n}")
    radii = np.empty(n, dtype=np.float64)
    for start in range(0, n, CHUNK):
        d = pairwise_distances(features[start : start + CHUNK], features)
        radii[start : start + CHUNK] = np.partition(d, k, axis=1)[:, k]
    return radii


def prdc(real_features: np.ndarray, fake_features: np.ndarray, *, k: int = 5) -> dict[str, float]:
    """Precision, recall, density, coverage with k nearest neighbours (Naeem et al., 2020)."""
    real_radii = knn_radii(real_features, k)
    fake_radii = knn_radii(fake_features, k)
    n_real, n_fake = real_features.shape[0], fake_features.shape[0]
    fake_in_real_balls = np.zeros(n_fake, dtype=np.int64)
    real_in_fake_ball = np.zeros(n_real, dtype=bool)
    real_min_to_fake = np.full(n_real, np.inf)
    for start in range(0, n_fake, CHUNK):
        d = pairwise_distances(fake_features[start : start + CHUNK], real_features)
        fake_in_real_balls[start : start + CHUNK] = (d <= real_radii[None, :]).sum(1)
        real_in_fake_ball |= (d <= fake_radii[start : start + CHUNK, None]).any(0)
        real_min_to_fake = np.minimum(real_min_to_fake, d.min(0))
    return {
        "precision": float((fake_in_real_balls > 0).mean()),
        "recall": float(real_in_fake_ball.mean()),
        "density": float(fake_in_real_balls.sum() / (k * n_fake)),
        "coverage": float((real_min_to_fake <= real_radii).mean()),
    }
