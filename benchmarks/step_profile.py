"""Where a training step's time goes, and what a run spends outside its steps, at several image sizes.

For each size the default preset (or --preset) is built on real data and each part of the algorithm is
timed on its own (median of --repeats): the real batch (index, uint8 -> float, augmentation), G forward,
DiffAugment, the D step without and with R1 (the difference is R1's cost; it runs every r1_every steps),
the G step (G backward through D, Adam, EMA), the EMA update alone, and a whole train_step. Outside the
steps: reading the data (decode, alpha/palette scan), refreshing G_ema's batch-norm statistics, a sample
sheet, a checkpoint. The last table estimates a default run's seconds outside training from the intervals.

    python benchmarks/step_profile.py                          # 24x24, 32x32, 64x64, 96x128
    python benchmarks/step_profile.py --sizes punks:24 --repeats 5 --amp off
    OMP_NUM_THREADS=1 python benchmarks/step_profile.py --sizes pokemon:96x128 --repeats 1 --clock cpu
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

CLOCK = [time.perf_counter]  # --clock cpu: this process's CPU time, which other jobs disturb little

SIZES = {
    "punks:24": ("/work/shared/datasets/cryptopunks/punks.png", {"tile": "24"}),
    "builtin:32": ("builtin:sprites", {}),
    "punks:64": ("/work/shared/datasets/cryptopunks/punks.png", {"tile": "24", "resize": "64"}),
    "pokemon:96x128": ("/work/shared/datasets/pokemon/images", {"resize": "128x96", "resample": "area"}),
}


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = CLOCK[0]()
        fn()
        times.append(CLOCK[0]() - t0)
    return statistics.median(times)


def profile_size(name: str, preset: str, amp: bool, repeats: int, overrides: dict) -> dict[str, float]:
    """Seconds per part for one data set (see the module doc)."""
    from spritegan.config import build_config
    from spritegan.data.dataset import open_dataset
    from spritegan.train.ema import update_ema
    from spritegan.train.loop import Trainer, fit_model_to_data

    spec, kw = SIZES[name]
    t0 = CLOCK[0]()
    ds = open_dataset(spec, **kw)
    out = {"read data (once)": CLOCK[0]() - t0}
    cfg = build_config(preset, {"train.device": "cpu", "train.amp": "on" if amp else "off", **overrides})
    fit_model_to_data(cfg, ds, conditional=False)
    tr = Trainer(cfg, ds, Path(tempfile.mkdtemp()))
    t = cfg.train
    for _ in range(2):
        tr.train_step()
    real, labels = tr.real_batch()
    r1_every = t.r1_every if t.r1_gamma > 0 else 0

    def g_forward() -> None:
        with torch.autocast("cpu", torch.bfloat16, enabled=tr.amp):
            tr.G(tr.noise(len(real)), labels)

    def d_step(r1: bool) -> Callable[[], None]:
        def run() -> None:
            tr.step = 0 if r1 else 1  # R1 is due when step % r1_every == 0
            tr.d_step(real, labels)

        return run

    def g_step() -> None:
        tr.step = 1
        fake = tr.d_step(real, labels)[1]  # the fake batch g_step reuses
        t0 = CLOCK[0]()
        tr.g_step(labels, fake)
        g_times.append(CLOCK[0]() - t0)

    g_times: list[float] = []
    out["real batch (data + augment)"] = median_time(tr.real_batch, repeats)
    out["G forward"] = median_time(g_forward, repeats)
    out["DiffAugment (one batch)"] = median_time(lambda: tr.diffaug(real), repeats)
    out["D step without R1 (incl. G fwd)"] = median_time(d_step(False), repeats)
    if r1_every:
        with_r1 = median_time(d_step(True), repeats)
        out[f"R1 extra (every {r1_every} steps)"] = with_r1 - out["D step without R1 (incl. G fwd)"]
    median_time(g_step, repeats)
    out["G step (incl. EMA)"] = statistics.median(g_times[1:])
    out["EMA update"] = median_time(lambda: update_ema(tr.G_ema, tr.G, tr.beta), repeats)
    out["train_step (mean over r1_every)"] = median_time(
        lambda: [tr.train_step() for _ in range(max(1, r1_every))], max(1, repeats // 2)
    ) / max(1, r1_every)

    def refresh() -> None:
        tr._ema_stats_step = None
        tr.refresh_ema_statistics()

    out["refresh G_ema BN stats"] = median_time(refresh, max(1, repeats // 2))
    out["sample sheet (stats fresh)"] = median_time(tr.sample_sheet, max(1, repeats // 2))
    out["checkpoint (stats fresh)"] = median_time(tr.save, max(1, repeats // 2))
    out["_batch"] = t.batch_size
    out["_sample_every"] = t.sample_every
    out["_checkpoint_every"] = t.checkpoint_every
    out["_steps"] = t.steps
    out["_size"] = "x".join(map(str, cfg.model.image_size))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from spritegan.bench import loadavg, machine, markdown_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(SIZES), help=f"comma-separated subset of {', '.join(SIZES)}")
    ap.add_argument("--preset", default="sprite")
    ap.add_argument(
        "--amp", default="on", choices=["on", "off"], help="train.amp on (bf16 where supported) or off"
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="cpu: process CPU time")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = ap.parse_args(argv)
    if args.clock == "cpu":
        CLOCK[0] = time.process_time
    torch.set_num_threads(args.threads)
    overrides = dict(kv.split("=", 1) for kv in args.set)
    before = loadavg()
    results = {}
    for name in args.sizes.split(","):
        print(f"profiling {name} (load {loadavg()})", file=sys.stderr)
        results[name] = profile_size(name, args.preset, args.amp == "on", args.repeats, overrides)
    print(f"Machine: {machine()}. Load average: {before} before, {loadavg()} after.")
    print(
        f"Preset `{args.preset}`, train.amp={args.amp}, {args.threads} thread(s), medians of {args.repeats}.\n"
    )
    names = list(results)
    parts = [k for k in results[names[0]] if not k.startswith("_")]
    headers = ["ms"] + [f"{n} ({results[n]['_size']}, batch {results[n]['_batch']})" for n in names]
    rows = [[p] + [1000 * results[n].get(p, float("nan")) for n in names] for p in parts]
    rows.append(
        ["train img/s"]
        + [results[n]["_batch"] / results[n]["train_step (mean over r1_every)"] for n in names]
    )
    print(markdown_table(headers, rows))
    print("\nSeconds outside training in a default run (sheets every sample_every steps, checkpoints every")
    print("checkpoint_every; each refreshes G_ema's BN statistics once) against its training seconds:\n")
    rows = []
    for n in names:
        r = results[n]
        sheets, ckpts = r["_steps"] // r["_sample_every"], r["_steps"] // r["_checkpoint_every"]
        refreshes = len(
            {
                s
                for s in range(1, r["_steps"] + 1)
                if s % r["_sample_every"] == 0 or s % r["_checkpoint_every"] == 0
            }
        )
        outside = refreshes * r["refresh G_ema BN stats"] + sheets * r["sample sheet (stats fresh)"]
        outside += ckpts * r["checkpoint (stats fresh)"]
        train_s = r["_steps"] * r["train_step (mean over r1_every)"]
        rows.append(
            [
                n,
                r["_steps"],
                sheets,
                ckpts,
                refreshes * r["refresh G_ema BN stats"],
                outside,
                train_s,
                r["read data (once)"],
            ]
        )
    print(
        markdown_table(
            [
                "data",
                "steps",
                "sheets",
                "checkpoints",
                "BN refresh s",
                "outside s",
                "training s",
                "read data s",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
