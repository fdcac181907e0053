"""Presets side by side at equal CPU time: train each for the same process CPU seconds, then FID/KID.

Each preset trains in its own `spritegan train` process with one thread and `--max-seconds S --clock cpu`,
so runs that share a busy machine still get the same compute. FID: N generated sprites (seeds 0..N-1, EMA
generator) against the same N random real images (seed 0), offline Inception (spritegan.metrics). A row
for a disjoint second set of N real images gives the floor. Each run also gets a 16-sprite sheet.

usage: python benchmarks/equal_time.py --data ../shared/datasets/cryptopunks/punks.png --tile 24 \\
           --presets sprite,stylegan --cpu-seconds 600 -n 500 --out runs/equal-time
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def _train(preset: str, args: argparse.Namespace, run: Path) -> dict:
    cmd = [sys.executable, "-m", "spritegan", "train", "--data", args.data, "--preset", preset]
    cmd += ["--out", str(run), "--steps", "1000000", "--max-seconds", str(args.cpu_seconds), "--clock", "cpu"]
    cmd += ["--set", "train.threads=1", "--set", f"train.seed={args.seed}", "--no-progress"]
    if args.tile:
        cmd += ["--tile", args.tile]
    for override in args.set or []:
        cmd += ["--set", override]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    rows = (run / "metrics.csv").read_text().strip().splitlines()
    last = dict(zip(rows[0].split(","), rows[-1].split(","), strict=True))
    return {"images": int(last["images"]), "wall_s": wall}


def main(argv: list[str] | None = None) -> int:
    import torch

    from spritegan.data.dataset import open_dataset
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.generate.sheet import make_sheet, save_png
    from spritegan.metrics.evaluate import evaluate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="dataset (as for spritegan train)")
    ap.add_argument("--tile", help="tile size for a sprite-sheet dataset, e.g. 24")
    ap.add_argument("--presets", default="sprite,stylegan", help="comma-separated presets")
    ap.add_argument("--cpu-seconds", type=float, default=600.0, help="training CPU time per preset")
    ap.add_argument("-n", type=int, default=500, help="generated and real images per FID set")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--set", action="append", help="extra override for every preset, e.g. train.batch_size=32"
    )
    ap.add_argument("--out", default="runs/equal-time", help="folder for the runs, sheets and results.json")
    ap.add_argument("--reuse", action="store_true", help="reuse runs in --out that already have a generator")
    ap.add_argument(
        "--no-floor", action="store_true", help="skip the real-vs-real floor row (saves 2N Inception passes)"
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    real = open_dataset(args.data, tile=args.tile).images
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(0))
    real_a, real_b = real[order[: args.n]], real[order[args.n : 2 * args.n]]
    results = []
    if len(real_b) == args.n and not args.no_floor:
        res = evaluate(real_b, real_a, metrics=("fid", "kid"), seed=0)["metrics"]
        results.append(
            {"preset": "real images, disjoint set (floor)", "fid": res["fid"], "kid": res["kid_mean"]}
        )
    for preset in args.presets.split(","):
        run = out / preset
        done = args.reuse and (run / "generator.safetensors").exists()
        info = {} if done else _train(preset, args, run)
        pipe = SpritePipeline.from_run(run)
        info["steps"] = pipe.meta.get("step")
        save_png(make_sheet(pipe(n=16, seed=0), ncol=8, scale=3, background="checker"), out / f"{preset}.png")
        res = evaluate(pipe(n=args.n, seed=0), real_a, metrics=("fid", "kid"), seed=0)["metrics"]
        results.append({"preset": preset, **info, "fid": res["fid"], "kid": res["kid_mean"]})
        print(json.dumps(results[-1]), flush=True)
    (out / "results.json").write_text(
        json.dumps({"cpu_seconds": args.cpu_seconds, "n": args.n, "rows": results})
    )
    print(f"\n| preset | CPU s | steps | FID ({args.n} vs {args.n}) | KID x 10^3 |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in results:
        cpu = "-" if "steps" not in r else f"{args.cpu_seconds:.0f}"
        steps = r.get("steps", "-")
        print(f"| {r['preset']} | {cpu} | {steps} | {r['fid']:.1f} | {r['kid'] * 1e3:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
