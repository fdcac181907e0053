"""How OpenMP's wait policy changes a short `spritegan train` on a quiet machine and beside a busy core.

PyTorch's CPU build runs its parallel regions on libgomp, whose idle worker threads spin for a while before
they sleep. When another process holds one of the cores, a worker that spins waits on a thread that is not
running, and every parallel region pays for it; OMP_WAIT_POLICY=PASSIVE makes idle workers sleep at once.
This script times both, interleaved, in one run:

    python benchmarks/omp_wait_policy.py --steps 40 --repeats 2

Each case is a fresh `spritegan train --data builtin:sprites:4096 --steps N` process on all cores (the
default), timed by the wall clock from start to exit (so it includes about 5 s of start-up); "busy" starts one
process that keeps one core busy with single-threaded matrix products for the duration of the case.
OMP_WAIT_POLICY="" gives libgomp's default (libgomp ignores an empty value, with a warning). spritegan leaves
the policy to the user: PASSIVE cost a quiet machine more than it saved a busy one (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUSY = "import torch\ntorch.set_num_threads(1)\na = torch.randn(512, 512)\nwhile True:\n    a @ a\n"
POLICIES = {"libgomp default": "", "PASSIVE": "PASSIVE"}


def time_train(steps: int, policy: str, busy: bool, work: Path) -> float:
    """Wall seconds of one short training process under `policy`, with one busy core when `busy`."""
    out = work / "run"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    env.pop("OMP_NUM_THREADS", None)
    hog = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
    try:
        if hog is not None:
            time.sleep(1.0)
        cmd = [
            sys.executable,
            "-m",
            "spritegan",
            "train",
            "--data",
            "builtin:sprites:4096",
            "--out",
            str(out),
        ]
        cmd += ["--steps", str(steps), "--no-progress", "--set", "train.sample_every=100000"]
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=60, help="training steps per case")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats per case (best is kept)")
    args = parser.parse_args()
    times: dict[tuple[bool, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for busy in (False, True):
                for name, policy in POLICIES.items():
                    seconds = time_train(args.steps, policy, busy, Path(tmp))
                    times.setdefault((busy, name), []).append(seconds)
                    print(
                        f"{'busy' if busy else 'quiet'} {name}: {seconds:.1f} s", file=sys.stderr, flush=True
                    )
    print(
        f"\n`spritegan train --steps {args.steps}` on {os.cpu_count()} cores, wall seconds (best of {args.repeats})\n"
    )
    print("| machine | wait policy | seconds | all repeats | x libgomp default |")
    print("|---|---|---:|---|---:|")
    for busy in (False, True):
        base = min(times[(busy, "libgomp default")])
        for name in POLICIES:
            runs = times[(busy, name)]
            label = "one core busy" if busy else "quiet"
            listed = ", ".join(f"{t:.1f}" for t in runs)
            print(f"| {label} | {name} | {min(runs):.1f} | {listed} | {base / min(runs):.2f} |")


if __name__ == "__main__":
    main()
