"""Two real processes under torchrun on CPU (gloo): ranks stay in sync, rank 0 writes, resume works."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spritegan.train import checkpoint as ckpt

TORCHRUN = Path(sys.executable).with_name("torchrun")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not TORCHRUN.exists() and not shutil.which("torchrun"), reason="torchrun not found"),
]


def _torchrun(run: Path, *extra: str) -> subprocess.CompletedProcess:
    exe = str(TORCHRUN) if TORCHRUN.exists() else "torchrun"
    cmd = [
        exe,
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "spritegan",
        "train",
        "--no-progress",
        "--device",
        "cpu",
        *extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


def test_two_process_gloo_training_stays_in_sync_and_resumes(tmp_path):
    run = tmp_path / "ddp"
    tiny = [
        "--set",
        "model.z_dim=8",
        "--set",
        "model.g_width=8",
        "--set",
        "model.d_width=8",
        "--set",
        "model.max_channels=32",
        "--set",
        "train.checkpoint_every=2",
        "--set",
        "train.log_every=1",
    ]
    first = _torchrun(
        run, "--data", "builtin:sprites:64", "--out", str(run), "--steps", "4", "--batch-size", "8", *tiny
    )
    assert first.returncode == 0, first.stdout[-1500:] + first.stderr[-3000:]
    # Trainer.save() all-gathers a checksum of G, D and G_ema from every rank and raises if they differ,
    # so a clean exit means the two ranks held identical weights at steps 2 and 4.
    assert [s for s, _ in ckpt.list_checkpoints(run / "checkpoints")] == [4, 2]
    assert first.stdout.count("stopped at step 4") == 2  # both ranks finished
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 5  # header + 4 steps, written once (rank 0 only)
    second = _torchrun(run, "--resume", str(run), "--steps", "6")
    assert second.returncode == 0, second.stdout[-1500:] + second.stderr[-3000:]
    assert ckpt.load_latest(run / "checkpoints")["info"]["step"] == 6
    assert len((run / "metrics.csv").read_text().splitlines()) == 7


@pytest.mark.parametrize("world, code", [("1", 0), ("2", 0), ("2", 2)])
def test_torchrun_worker_exit_keeps_output_and_exit_code(tmp_path, world, code):
    # A worker (WORLD_SIZE > 1) leaves through os._exit, skipping finalisation: what it printed to a pipe
    # must still arrive, and its exit code must be the command's (0 for a listing, 2 for a one-line error).
    args = ["presets"] if code == 0 else ["generate", str(tmp_path / "no-such-run"), "-n", "1"]
    env = {**os.environ, "WORLD_SIZE": world}
    done = subprocess.run(
        [sys.executable, "-m", "spritegan", *args], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == code, done.stderr
    if code == 0:
        assert done.stdout.splitlines()[0].startswith("sprite ")
    else:
        assert "no-such-run" in done.stderr and done.stderr.count("\n") == 1
