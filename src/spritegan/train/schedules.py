"""Cosine schedules of training settings over a fixed horizon (R3GAN, Huang et al. 2024).

A schedule moves a value from `start` to `end` along half a cosine while training sees `horizon` images, then
holds `end`. R3GAN anneals its learning rate and gamma down, and its augmentation probability and EMA
half-life up, this way; `schedule_value` is the one formula, the Trainer applies it to each setting.
"""

from __future__ import annotations

import math


def cosine_progress(done: float, horizon: float) -> float:
    """How far along the cosine (0 at the start, 1 at and after the horizon) after `done` of `horizon`."""
    if horizon <= 0:
        return 1.0
    t = min(max(done / horizon, 0.0), 1.0)
    return 0.5 * (1.0 - math.cos(math.pi * t))


def schedule_value(start: float, end: float, done: float, horizon: float) -> float:
    """The scheduled value after `done` units (images, steps) of a cosine from `start` to `end` over `horizon`.

    horizon <= 0 means no schedule: `start` throughout.
    """
    if horizon <= 0:
        return start
    return start + (end - start) * cosine_progress(done, horizon)
