"""Whole characters on builtin:walkers: recipes of the pose-conditional G at equal CPU time, one table.

Each recipe trains `--minutes` CPU-minutes on one thread (`--clock cpu`, the learning rate decaying over the
sheets such a run sees: 200k per CPU-hour on the AMX Xeon), then `spritegan eval RUN --metrics
walkers,pixelart --samples 500 --json`; runs and their JSON already in `--runs` are read, not retrained, so
the table can be printed again and recipes added one by one. Several seeds: `--seeds 0,1`. A conditional
recipe (`cond-stack`) is evaluated as `generate` samples it: each seed's traits drawn from the training labels,
and its "readable as asked" column counts the characters that are readable and drawn with those traits.

usage: python benchmarks/walkers_recipes.py --minutes 60 --runs /work/runs [--recipes hold100,stack]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

# the README's posed recipe: one frame network, cbn pose labels, lr decaying to a tenth (see README)
BASE = [
    "model.arch=posed",
    "model.cond_mode=cbn",
    "model.g_width=96",
    "train.threads=1",
    "train.schedules=lr",
    "train.schedule_lr_end=0.1",
    "train.ema_half_life_kimg=5",  # what these runs had: `sprite`'s EMA before it went to 20k (README)
]
RECIPES: dict[str, list[str]] = {
    "plain": [],
    "hold20": ["model.posed_hold=20"],
    "hold100": ["model.posed_hold=100"],
    "stack": ["model.posed_hold=100", "model.posed_stack_d=true"],
    "cond-stack": ["model.posed_hold=100", "model.posed_stack_d=true"],
    # G draws the frames stacked as channels too, one frame-sized network twice as wide (models/posed.py)
    "stack-g": [
        "model.posed_hold=100",
        "model.posed_stack_d=true",
        "model.posed_stack_g=true",
        "model.g_width=192",
    ],
}
# recipes that also pass command-line flags: told each character's traits (builtin:walkers labels them)
FLAGS: dict[str, list[str]] = {"cond-stack": ["--conditional"]}
# the decay's horizon per CPU-hour, in thousands of sheets: what one thread trained here (6,900 steps x 32)
SHEETS_PER_CPU_HOUR_K = 200


def run_dir(root: Path, recipe: str, minutes: int, seed: int) -> Path:
    return root / f"walkers-{recipe}-{minutes}min-s{seed}"


def train(spritegan: str, out: Path, recipe: str, minutes: int, seed: int) -> None:
    sets = [*BASE, *RECIPES[recipe], f"train.schedule_kimg={SHEETS_PER_CPU_HOUR_K * minutes / 60:g}"]
    cmd = [spritegan, "train", "--data", "builtin:walkers", "--batch-size", "32", "--steps", "1000000"]
    cmd += FLAGS.get(recipe, [])
    cmd += ["--max-seconds", str(minutes * 60), "--clock", "cpu", "--seed", str(seed), "--out", str(out)]
    for item in sets:
        cmd += ["--set", item]
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def evaluate(spritegan: str, run: Path, result: Path) -> None:
    cmd = [spritegan, "eval", str(run), "--metrics", "walkers,pixelart", "--samples", "500"]
    cmd += ["--no-progress", "--json", str(result)]
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def last_step(run: Path) -> int:
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return int(rows[-1]["step"]) if rows else 0


def row(name: str, seed: int, run: Path, result: dict) -> str:
    m = result["metrics"]
    as_asked = m.get("walker_readable_as_asked_share")  # conditional runs: readable with the asked traits
    return (
        f"| {name} | {seed} | {last_step(run):,} | {m['walker_readable_share']:.3f} "
        f"({m['walker_readable_distinct']} distinct) | {'-' if as_asked is None else f'{as_asked:.3f}'} | "
        f"{m['walker_pixel_perfect_share']:.3f} | "
        f"{m['walker_frame_readable_share']:.3f} | {m['walker_mean_agreement']:.3f} | "
        f"{m['pixelart_stray']:.3f} |"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=int, default=60, help="CPU-minutes of training per recipe")
    ap.add_argument("--runs", default="runs", help="folder of the runs (read when there, trained when not)")
    ap.add_argument("--recipes", default=",".join(RECIPES), help=f"comma-separated, of {', '.join(RECIPES)}")
    ap.add_argument("--seeds", default="0", help="comma-separated training seeds")
    ap.add_argument("--spritegan", default=str(Path(sys.executable).with_name("spritegan")))
    args = ap.parse_args(argv)
    names = [r for r in args.recipes.split(",") if r]
    unknown = [r for r in names if r not in RECIPES]
    if unknown:
        ap.error(f"unknown recipe {', '.join(unknown)} (known: {', '.join(RECIPES)})")
    rows = []
    for name in names:
        for seed in (int(s) for s in args.seeds.split(",")):
            run = run_dir(Path(args.runs), name, args.minutes, seed)
            if not (run / "generator.safetensors").exists():
                train(args.spritegan, run, name, args.minutes, seed)
            result = run / "walkers-eval.json"
            if not result.exists():
                evaluate(args.spritegan, run, result)
            rows.append(row(name, seed, run, json.loads(result.read_text())))
    print(f"builtin:walkers, {args.minutes} CPU-minutes per run, 500 generated characters each")
    print(
        "| recipe | seed | steps | readable characters | readable as asked | pixel-perfect "
        "| frames readable in their pose | mean agreement | stray-colour |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
