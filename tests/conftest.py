"""Shared fixtures: tiny configs and a tiny trained run on the built-in sprites (CPU, seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)


def _datasets_root() -> Path:
    """The shared real datasets: $SPRITEGAN_DATASETS, else ../shared/datasets beside the repo, else /work/shared."""
    import os

    candidates = [
        os.environ.get("SPRITEGAN_DATASETS"),
        Path(__file__).resolve().parents[2] / "shared" / "datasets",
    ]
    for c in [*candidates, "/work/shared/datasets"]:
        if c and Path(c).is_dir():
            return Path(c)
    return Path("/work/shared/datasets")


DATASETS = _datasets_root()

TINY = {
    "data.source": "builtin:sprites:64",
    "model.z_dim": 8,
    "model.g_width": 8,
    "model.d_width": 8,
    "model.max_channels": 32,
    "train.batch_size": 8,
    "train.steps": 4,
    "train.sample_every": 2,
    "train.checkpoint_every": 2,
    "train.log_every": 1,
    "train.sample_grid": 16,
}


def tiny_config(preset: str = "sprite", **extra):
    from spritegan.config import build_config

    return build_config(preset, {**TINY, **extra})


def train_tiny(run_dir: Path, steps: int = 4, resume: bool = False, **extra):
    from spritegan.data.dataset import open_dataset
    from spritegan.train.loop import fit_model_to_data, train

    cfg = tiny_config(**{"train.steps": steps, **extra})
    ds = open_dataset(cfg.data.source)
    fit_model_to_data(cfg, ds, conditional=False)
    return train(cfg, ds, run_dir, resume=resume, progress=False)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A 4-step run folder shared by read-only tests."""
    run = tmp_path_factory.mktemp("runs") / "tiny"
    train_tiny(run)
    return run
