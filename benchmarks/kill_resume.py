"""kill -9 a tiny training run at random moments, resume it each time, and count the clean resumes.

Each round starts `spritegan train` (the first round with --out, then --resume), waits until it has read
the data and built the models, sends SIGKILL after a random delay (uniform between --min-delay and --max-delay seconds, so kills
land mid-step, mid-log, mid-sample-sheet and mid-checkpoint), then checks the run folder as the next resume will find it: the newest
checkpoint that loads is what the next round must report ("resuming RUN at step S"); after that round
there must be no `.tmp` file and no step logged twice in metrics.csv. A last round trains to the end
without a kill. Prints one line per kill and the count of clean resumes.

    python benchmarks/kill_resume.py --kills 50          # about 50 x (start-up + delay) seconds
    python benchmarks/kill_resume.py --kills 5 --seed 1  # a quick check
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TINY = [
    "--data",
    "builtin:sprites:64",
    "--batch-size",
    "8",
    "--no-progress",
    *("--set", "model.z_dim=8", "--set", "model.g_width=8", "--set", "model.d_width=8"),
    *("--set", "model.max_channels=32", "--set", "train.checkpoint_every=5", "--set", "train.log_every=1"),
    *("--set", "train.sample_every=50", "--set", "train.sample_grid=4"),
]


def newest_complete(run: Path) -> int:
    """Step of the checkpoint a resume will load (0 when there is none)."""
    from spritegan.train.checkpoint import load_latest

    state = load_latest(run / "checkpoints")
    return int(state["info"]["step"]) if state else 0


def orphans(run: Path) -> set[str]:
    return {p.name for p in run.rglob("*") if ".tmp" in p.name}


def metrics_ok(run: Path) -> bool:
    """No step logged twice, rows in order (rows after the newest checkpoint are fine until a resume)."""
    if not (run / "metrics.csv").exists():
        return True
    with open(run / "metrics.csv", newline="") as fh:
        steps = [int(r["step"]) for r in csv.DictReader(fh)]
    return len(steps) == len(set(steps)) and steps == sorted(steps)


def start(run: Path, first: bool, steps: int, log: Path) -> subprocess.Popen:
    args = ["train", *TINY, "--out", str(run)] if first else ["train", "--resume", str(run)]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "spritegan", *args, "--steps", str(steps)], stdout=out, stderr=out, env=env
        )


def wait_for_training(proc: subprocess.Popen, log: Path, run: Path, limit: float = 600.0) -> None:
    """Until training starts: a resume has said where it resumes, a first run has written config.yaml."""
    deadline = time.monotonic() + limit
    while proc.poll() is None and time.monotonic() < deadline:
        if "resuming" in log.read_text() or ("--out" in proc.args and (run / "config.yaml").exists()):
            return
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--min-delay", type=float, default=0.0, help="seconds after start-up (default 0)")
    parser.add_argument("--max-delay", type=float, default=6.0, help="seconds after start-up (default 6)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="folder to work in (default: a temporary folder)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="kill-resume-"))
    root.mkdir(parents=True, exist_ok=True)
    run, log = root / "run", root / "train.log"
    expected: int | None = None  # the step the next round must resume at (None: no run folder yet)
    clean = checked = 0
    for i in range(args.kills + 1):
        final = i == args.kills  # the last round is not killed: it trains 5 more steps and must exit 0
        before = orphans(run) if run.exists() else set()
        steps = (expected or 0) + 5 if final else 1_000_000
        proc = start(run, expected is None, steps, log)
        if final:
            rc = proc.wait()
        else:
            wait_for_training(
                proc, log, run
            )  # start-up (imports, data, models) takes seconds on a busy machine
            time.sleep(rng.uniform(args.min_delay, args.max_delay))
            proc.send_signal(signal.SIGKILL)
            rc = proc.wait()
        text = log.read_text()
        said = re.search(r"resuming .* at step (\d+)\n", text)
        tag = "final" if final else f"kill {i + 1:3d}"
        if expected is not None and said:
            checked += 1
            bad = []
            if int(said.group(1)) != expected:
                bad.append(f"resumed at {said.group(1)}, newest complete checkpoint {expected}")
            if before & orphans(run):
                bad.append(f"orphans left: {', '.join(sorted(before & orphans(run)))}")
            if not metrics_ok(run):
                bad.append("metrics.csv has a step twice")
            if final and rc != 0:
                bad.append(f"exit {rc}: {text.strip().splitlines()[-1]}")
            clean += not bad
            print(f"{tag}: resumed at step {said.group(1)}: " + ("; ".join(bad) if bad else "clean"))
        elif expected is not None:
            print(f"{tag}: killed during start-up, before it resumed")
        else:
            last_line = (text.strip().splitlines() or ["(no output)"])[-1]
            print(
                f"{tag}: first run "
                + (f"exited {rc}" if final else "killed")
                + f"; its last line: {last_line}"
            )
        if (run / "config.yaml").exists():
            expected = newest_complete(run)
    print(f"{clean} of {checked} resumes after kill -9 were clean ({args.kills} kills at random moments)")
    return 0 if clean == checked else 1


if __name__ == "__main__":
    raise SystemExit(main())
