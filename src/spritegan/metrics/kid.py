"""Kernel Inception Distance (Binkowski et al., 2018, "Demystifying MMD GANs", ICLR).

KID is the unbiased estimate of the squared MMD between the two feature distributions with the cubic
polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets of equal size m drawn without
replacement from each set. We report the mean and standard deviation over the subsets.
"""

from __future__ import annotations

import numpy as np


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x.y / d + 1)^3 for rows of x (n, d) and y (m, d), float64."""
    d = x.shape[1]
    return (np.asarray(x, np.float64) @ np.asarray(y, np.float64).T / d + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the polynomial kernel for two samples of equal size m >= 2."""
    m = x.shape[0]
    if m != y.shape[0] or m < 2:
        raise ValueError(f"need two samples of equal size >= 2; got {x.shape[0]} and {y.shape[0]}")
    kxx = polynomial_kernel(x, x)
    kyy = polynomial_kernel(y, y)
    kxy = polynomial_kernel(x, y)
    off_xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    off_yy = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(off_xx + off_yy - 2.0 * kxy.mean())


def kernel_inception_distance(
    features1: np.ndarray,
    features2: np.ndarray,
    *,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """KID mean and std over `num_subsets` subsets of `subset_size` rows from each set (Binkowski et al., 2018).

    Raises ValueError when either set has fewer than `subset_size` rows.
    """
    n1, n2 = features1.shape[0], features2.shape[0]
    if subset_size < 2 or min(n1, n2) < subset_size:
        raise ValueError(
            f"KID subset size {subset_size} needs at least that many features per set; got {n1} and {n2}"
        )
    rng = np.random.default_rng(seed)
    values = np.empty(num_subsets, dtype=np.float64)
    for i in range(num_subsets):
        a = features1[rng.choice(n1, subset_size, replace=False)]
        b = features2[rng.choice(n2, subset_size, replace=False)]
        values[i] = mmd2_unbiased(a, b)
    return float(values.mean()), float(values.std())
