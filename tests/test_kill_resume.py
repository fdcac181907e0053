"""kill -9 at chosen moments, then `train --resume`: the newest complete checkpoint, no orphans, no twin rows.

The kills are deterministic: $SPRITEGAN_FAULT makes the training process SIGKILL itself at a named point
(`after-temp-write:STEP`: a checkpoint's temporary file is written and fsynced, the rename not done;
`after-step:STEP`: a step is trained and logged, between two checkpoints). benchmarks/kill_resume.py does
the same with random kills from outside.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from spritegan.train import checkpoint as ckpt

TINY = [
    "--data",
    "builtin:sprites:32",
    "--batch-size",
    "8",
    "--no-progress",
    *("--set", "model.z_dim=8", "--set", "model.g_width=8", "--set", "model.d_width=8"),
    *("--set", "model.max_channels=32", "--set", "train.checkpoint_every=2", "--set", "train.log_every=1"),
    *("--set", "train.sample_every=100", "--set", "train.sample_grid=4"),
]


def spritegan(args: list[str], fault: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop(ckpt.FAULT_ENV, None)
    if fault:
        env[ckpt.FAULT_ENV] = fault
    return subprocess.run(
        [sys.executable, "-m", "spritegan", *args], capture_output=True, text=True, env=env, timeout=600
    )


def metric_steps(run: Path) -> list[int]:
    with open(run / "metrics.csv", newline="") as fh:
        return [int(r["step"]) for r in csv.DictReader(fh)]


def temp_files(run: Path) -> list[str]:
    return sorted(p.name for p in run.rglob("*") if ".tmp" in p.name)


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault, resumes_at, orphan",
    [
        ("after-temp-write:4", 2, True),  # killed inside the checkpoint writer, before the rename
        ("after-step:3", 2, False),  # killed between two checkpoints
        ("after-step:1", 0, False),  # killed before the first checkpoint: starts over, rows dropped
    ],
    ids=["mid-checkpoint", "between-checkpoints", "before-first-checkpoint"],
)
def test_kill_then_resume(tmp_path, fault, resumes_at, orphan):
    run = tmp_path / "run"
    killed = spritegan(["train", *TINY, "--out", str(run), "--steps", "6"], fault=fault)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    steps_left = [s for s, _ in ckpt.list_checkpoints(run / "checkpoints")]
    assert (steps_left[:1] or [0]) == [resumes_at]
    assert bool(temp_files(run)) == orphan
    logged = metric_steps(run)
    assert logged and max(logged) > resumes_at  # rows the resume must drop

    resumed = spritegan(["train", "--resume", str(run)])
    assert resumed.returncode == 0, resumed.stderr
    assert f"at step {resumes_at}" in resumed.stdout
    assert temp_files(run) == []
    assert metric_steps(run) == [1, 2, 3, 4, 5, 6]  # each step once
    assert [s for s, _ in ckpt.list_checkpoints(run / "checkpoints")][0] == 6
    assert ckpt.load_latest(run / "checkpoints")["info"]["step"] == 6


def test_orphan_temps_of_both_writers_are_removed_and_nothing_else(tmp_path: Path) -> None:
    from spritegan.train.checkpoint import remove_orphan_temps

    (tmp_path / "checkpoints").mkdir()
    orphans = [tmp_path / ".generator.safetensors.tmp-4242", tmp_path / "checkpoints" / ".tmpuTiwOq"]
    kept = [
        tmp_path / "notes.tmp",
        tmp_path / ".tmp-notes",
        tmp_path / "checkpoints" / "step-000002.safetensors",
    ]
    for path in orphans + kept:
        path.write_bytes(b"x")
    assert sorted(remove_orphan_temps(tmp_path)) == sorted(orphans)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in orphans)
