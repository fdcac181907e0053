"""The `sprite` preset's training step with G and D in channels_last memory layout against the default layout.

Interleaved repeats in this process's CPU time (one thread), so other jobs on a shared machine disturb the
ratio little; the preset is used as it is (palette head, bf16 autocast where the CPU has native bf16), with
only `train.channels_last` switched. The figure goes into docs/benchmarks.md.

    OMP_NUM_THREADS=1 python benchmarks/channels_last_speed.py
    OMP_NUM_THREADS=1 python benchmarks/channels_last_speed.py --cases punks --repeats 3   # quicker
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from spritegan.bench import cpu_name, loadavg, markdown_table  # noqa: E402
from spritegan.precision import bf16_autocast_ok  # noqa: E402

# name: (data, size, batch); None is the CryptoPunks sheet in ../shared/datasets
CASES = {
    "punks": (None, 24, 64),
    "sprites": ("builtin:sprites:2048", 32, 64),
    "walkers": ("builtin:walkers:512", 64, 32),
}


def step_fn(data: str | None, size: int, batch: int, channels_last: bool) -> Callable[[], None]:
    """One training step of the `sprite` preset through the Trainer."""
    from train_throughput import Case, Runner

    over = {"train.channels_last": channels_last, "train.amp": "on"}
    runner = Runner(
        Case("sprite", "ours", "sprite", size, batch, 1, amp=True, data=data, overrides=over), "cpu"
    )
    runner.trainer.train_step()

    def run() -> None:
        runner.trainer.train_step()  # the closure keeps the runner (and its temporary folder) alive

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    ap.add_argument("--repeats", type=int, default=6, help="interleaved repeats per case")
    ap.add_argument("--steps", type=int, default=6, help="training steps per repeat")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    bf16 = "bf16 autocast" if bf16_autocast_ok(torch.device("cpu")) else "fp32 (no native bf16 on this CPU)"
    print(f"{cpu_name()}; {bf16}; load before: {loadavg()}")
    rows = []
    for name in args.cases.split(","):
        data, size, batch = CASES[name]
        fns = {cl: step_fn(data, size, batch, cl) for cl in (False, True)}
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeats):
            for cl, fn in fns.items():
                start = time.process_time()
                for _ in range(args.steps):
                    fn()
                times[cl].append((time.process_time() - start) / args.steps)
        plain, last = statistics.median(times[False]), statistics.median(times[True])
        ratios = sorted(a / b for a, b in zip(times[False], times[True], strict=True))
        rows.append(
            [
                f"{name} {size}x{size}, batch {batch}",
                f"{plain * 1e3:.0f}",
                f"{last * 1e3:.0f}",
                f"{plain / last:.2f}",
                f"{ratios[0]:.2f}-{ratios[-1]:.2f}",
            ]
        )
    headers = [
        "case (sprite preset, 1 thread)",
        "default ms/step",
        "channels_last ms/step",
        "x",
        "repeat ratios",
    ]
    print(markdown_table(headers, rows))
    print(
        f"median CPU ms per step over {args.repeats} interleaved repeats of {args.steps} steps; load after: {loadavg()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
