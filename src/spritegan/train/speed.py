"""How fast a run will train on this machine, measured before it starts, and what to do when that is too slow.

`probe_speed` times a few steps of a throwaway copy of the run (same config and data, a small batch), with the
global RNG restored afterwards, so the real run is unchanged. `speed_advice` turns the rate into lines for the
user: images/s, steps and images per hour, and, when an hour cannot get a model anywhere useful, a size to try.
"""

from __future__ import annotations

import copy
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

# Images a model needs to see before its samples are worth looking at: the sprite preset draws recognisable
# punks after about 400k images (README), so an hour that shows it fewer than half of that is too slow.
USEFUL_IMAGES = 400_000
TOO_SLOW_PER_HOUR = USEFUL_IMAGES // 2


def probe_speed(trainer_cls: type, cfg: Any, dataset: Any, steps: int = 3, batch: int = 16) -> float:
    """Training images per second (wall time) of `cfg` on `dataset`, from `steps` timed steps after one
    warm-up step at a batch of at most `batch`; `trainer_cls` is the training loop's Trainer."""
    probe_cfg = copy.deepcopy(cfg)
    probe_cfg.train.batch_size = min(batch, cfg.train.batch_size)
    probe_cfg.train.init_from = None
    state = torch.get_rng_state()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            trainer = trainer_cls(probe_cfg, dataset, tmp)
            trainer.train_step()
            t0 = time.perf_counter()
            for _ in range(steps):
                trainer.train_step()
            seconds = time.perf_counter() - t0
    finally:
        torch.set_rng_state(state)
    return steps * probe_cfg.train.batch_size * probe_cfg.train.d_steps / max(seconds, 1e-9)


def speed_advice(images_per_s: float, size: tuple[int, int], batch: int) -> list[str]:
    """Lines for the user: the expected rate, and a smaller size to try when an hour is not enough."""
    per_hour = images_per_s * 3600
    h, w = size
    lines = [
        f"speed check: about {images_per_s:,.0f} images/s at {w}x{h} on this machine "
        f"({per_hour / batch:,.0f} steps or {per_hour / 1e6:.2f}M images per hour at batch {batch})"
    ]
    if per_hour < TOO_SLOW_PER_HOUR:
        shrink = math.sqrt(USEFUL_IMAGES / max(per_hour, 1.0))  # cost per image grows with its area
        side = max(16, int(max(h, w) / shrink) // 8 * 8)
        lines.append(
            f"warning: an hour shows the model only {per_hour / 1e3:,.0f}k images at {w}x{h}; it needs about "
            f"{USEFUL_IMAGES / 1e3:,.0f}k to draw anything useful. Try a smaller size, e.g. --resize {side} "
            f"--fit pad (about {(max(h, w) / side) ** 2:.0f}x faster), or expect to train for "
            f"{USEFUL_IMAGES / per_hour:.0f} hours"
        )
    return lines


def other_runnable(samples: int = 5, gap: float = 0.05) -> int | None:
    """How many other processes are running or waiting for a core now: the median of a few reads of the
    kernel's count of runnable tasks (/proc/loadavg), less this process. None where the kernel does not say.
    Unlike the load average it does not remember work that ended a minute ago."""
    counts = []
    for i in range(samples):
        try:
            field = Path("/proc/loadavg").read_text().split()[3]
        except (OSError, IndexError):
            return None
        counts.append(int(field.split("/")[0]))
        if i + 1 < samples:
            time.sleep(gap)
    return max(0, sorted(counts)[len(counts) // 2] - 1)


def busy_cores_note(threads: int, cores: int, count_others: Callable[[], int | None]) -> str | None:
    """A note when a run on every core starts beside other runnable processes (`count_others`, asked only
    for such a run, e.g. `other_runnable`): libgomp's idle threads spin while the one they wait for is
    descheduled, so such a run can go 5-10x slower than on a quiet machine (docs/benchmarks.md); one thread
    per run does not. None when the run already leaves cores free, nothing else runs, or nobody knows."""
    if cores < 2 or 0 < threads < cores:
        return None
    others = count_others()
    if not others:
        return None
    return (
        f"note: {others} other process{'es' if others > 1 else ''} running beside this one on {cores} cores; a "
        "run on every core can go several times slower beside them. --set train.threads=1 gives it one core"
    )
