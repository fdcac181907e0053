"""The `sprite` preset's training step with G and D in channels_last memory layout against the default layout.

Interleaved repeats in this process's CPU time (one thread), so other jobs on a shared machine disturb the
ratio little; the preset is used as it is (palette head, bf16 autocast where the CPU has native bf16), with
only `train.channels_last` switched. The figure goes into docs/benchmarks.md.

    OMP_NUM_THREADS=1 python benchmarks/channels_last_speed.py
    OMP_NUM_THREADS=1 python benchmarks/channels_last_speed.py --cases punks --repeats 3   # quicker
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from spritegan.bench import cpu_name, interleave, loadavg, markdown_table, median  # noqa: E402
from spritegan.precision import bf16_autocast_ok  # noqa: E402

# name: (data, size, batch); None is the CryptoPunks sheet in ../shared/datasets
CASES = {
    "punks": (None, 24, 64),
    "sprites": ("builtin:sprites:2048", 32, 64),
    "walkers": ("builtin:walkers:512", 64, 32),
}
LAYOUTS = ("default", "channels_last")


def step_rate(
    data: str | None, size: int, batch: int, channels_last: bool, steps: int
) -> Callable[[], float]:
    """Training steps per CPU-second of the `sprite` preset through the Trainer, over `steps` steps a call."""
    from train_throughput import Case, Runner

    over = {"train.channels_last": channels_last}
    runner = Runner(
        Case("sprite", "ours", "sprite", size, batch, 1, amp=True, data=data, overrides=over), "cpu"
    )
    runner.trainer.train_step()

    def run() -> float:  # the closure keeps the runner (and its temporary folder) alive
        start = time.process_time()
        for _ in range(steps):
            runner.trainer.train_step()
        return steps / (time.process_time() - start)

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
        cases = {lay: step_rate(data, size, batch, lay == "channels_last", args.steps) for lay in LAYOUTS}
        rates = interleave(cases, args.repeats)
        plain, last = 1 / median(rates["default"]), 1 / median(rates["channels_last"])
        ratios = sorted(b / a for a, b in zip(rates["default"], rates["channels_last"], strict=True))
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
        f"median CPU ms per step over {args.repeats} interleaved (rotating) repeats of {args.steps} steps; load after: {loadavg()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
