"""The speed check before training: its advice, and that probing leaves the real run unchanged."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from spritegan.train.speed import TOO_SLOW_PER_HOUR, speed_advice


def test_fast_enough_gives_one_line_with_the_hourly_figures():
    lines = speed_advice(1000.0, (24, 24), 64)
    assert len(lines) == 1
    assert "1,000 images/s at 24x24" in lines[0] and "56,250 steps" in lines[0] and "3.60M images" in lines[0]


def test_too_slow_suggests_a_size_that_would_reach_the_useful_count():
    rate = TOO_SLOW_PER_HOUR / 3600 / 4  # an hour shows a quarter of the too-slow line
    lines = speed_advice(rate, (128, 96), 64)
    assert len(lines) == 2 and lines[1].startswith("warning:")
    assert "at 96x128" in lines[1] and "--resize 40 --fit pad" in lines[1]


def test_probing_does_not_change_the_run(tmp_path: Path):
    from spritegan.data.dataset import open_dataset
    from spritegan.storage import load_generator_file
    from spritegan.train.loop import fit_model_to_data, train

    weights = []
    for progress in (False, True):
        cfg = tiny_config(**{"train.steps": 3, "model.head": "palette"})
        ds = open_dataset(cfg.data.source)
        fit_model_to_data(cfg, ds, conditional=False)
        train(cfg, ds, tmp_path / str(progress), progress=progress)
        weights.append(load_generator_file(tmp_path / str(progress) / "generator.safetensors")[0])
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_busy_cores_note_only_for_a_run_on_every_core_beside_other_work():
    from spritegan.train.speed import busy_cores_note, other_runnable

    note = busy_cores_note(threads=0, cores=2, count_others=lambda: 1)
    assert note is not None and "1 other process running" in note and "train.threads=1" in note
    assert busy_cores_note(threads=2, cores=2, count_others=lambda: 3) is not None  # every core, by number
    assert "3 other processes" in busy_cores_note(threads=0, cores=2, count_others=lambda: 3)
    assert busy_cores_note(threads=0, cores=2, count_others=lambda: 0) is None  # a quiet machine
    assert busy_cores_note(threads=0, cores=2, count_others=lambda: None) is None  # the kernel does not say

    def not_asked() -> int:
        raise AssertionError("a run that leaves cores free needs no count")

    assert busy_cores_note(threads=1, cores=2, count_others=not_asked) is None  # leaves a core free already
    assert busy_cores_note(threads=0, cores=1, count_others=not_asked) is None  # one core: nothing to choose

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # one process that keeps a core
    try:
        time.sleep(0.3)
        counted = other_runnable(samples=5, gap=0.02)
    finally:
        spinner.kill()
        spinner.wait()
    if counted is None:
        pytest.skip("this kernel has no /proc/loadavg")
    assert counted >= 1
