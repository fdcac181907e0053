"""Recipes side by side at equal CPU time: each trains for the same process CPU seconds, then `spritegan eval`.

A recipe is NAME=PRESET or NAME=PRESET:key=value;key=value (config overrides; the word `conditional` among
them trains with --conditional, on the data's labels; `gan_seconds=S` gives that recipe's GAN S CPU seconds
instead of --cpu-seconds, so a palette refiner trained after it (train.refine_mpix) fits in the same total,
which the table reports). A run with a trained refiner gets a second row sampled with it off (--refine 0).
Every (recipe, seed) trains in
its own `spritegan train` process with one thread and `--max-seconds S --clock cpu`, `--jobs` at a time, so
runs that share a busy machine still get the same compute. Then each run is evaluated as `spritegan eval RUN
--samples N` does (FID-N against all training images with cached real statistics, KID, and the pixel-art
measures beside their real-data floor; the exact sprite measures and the trait shares, `traits shares --judge
exact`, on builtin:sprites); N = 5000 is the standard protocol (FID-5k); --real-n R
compares with R random real images instead (FID-N, an in-training signal only); --no-fid skips Inception.
A conditional run is sampled as `spritegan generate` samples it (each seed's traits drawn from the training
labels) or, with --traits new, with trait sets no training image has. Prints one markdown table and writes
results.json.

usage: python benchmarks/recipes_equal_time.py --data ../shared/datasets/cryptopunks/punks.png --tile 24 \\
           --recipe rgb=sprite:model.head=rgb --recipe palette=sprite:model.head=palette \\
           --cpu-seconds 600 --seeds 0,1 --jobs 2 -n 5000 --out runs/recipes
       python benchmarks/recipes_equal_time.py --data builtin:sprites:4096 --recipe free=sprite \
           --recipe cond=sprite:conditional;model.cond_mode=cbn --cpu-seconds 1800 -n 1000 --no-fid --traits new
       python benchmarks/recipes_equal_time.py --data builtin:sprites:4096 --recipe free=sprite \
           --recipe "refined=sprite:gan_seconds=1500;model.palette_refiner=48;train.refine_mpix=100" \
           --cpu-seconds 1800 -n 1000 --no-fid
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def parse_recipe(text: str) -> tuple[str, str, list[str]]:
    """'palette=sprite:model.head=palette;train.batch_size=16' -> (name, preset, overrides)."""
    name, _, rest = text.partition("=")
    preset, _, sets = rest.partition(":")
    if not name or not preset:
        raise SystemExit(f"--recipe {text!r}: write NAME=PRESET or NAME=PRESET:key=value;key=value")
    return name, preset, [s for s in sets.split(";") if s]


def gan_seconds(args: argparse.Namespace, sets: list[str]) -> float:
    """The recipe's GAN CPU seconds: its `gan_seconds=S`, else --cpu-seconds."""
    given = [float(s.split("=", 1)[1]) for s in sets if s.startswith("gan_seconds=")]
    return given[-1] if given else args.cpu_seconds


def train(args: argparse.Namespace, preset: str, sets: list[str], seed: int, run: Path) -> dict:
    """Train one run (or reuse it when it has a generator and --reuse); returns steps, images and the CPU
    seconds of the GAN and of the refiner after it (0 without one), from the run's train.log."""
    if not (args.reuse and (run / "generator.safetensors").exists()):
        cmd = [sys.executable, "-m", "spritegan", "train", "--data", args.data, "--preset", preset]
        cmd += ["--out", str(run), "--steps", "1000000", "--max-seconds", str(gan_seconds(args, sets))]
        cmd += ["--clock", "cpu", "--set", "train.threads=1", "--set", f"train.seed={seed}", "--no-progress"]
        if args.tile:
            cmd += ["--tile", args.tile]
        for override in sets:
            if override == "conditional":
                cmd += ["--conditional"]
            elif not override.startswith("gan_seconds="):
                cmd += ["--set", override]
        t0 = time.perf_counter()
        run.mkdir(parents=True, exist_ok=True)
        with open(run / "train.log", "w") as log:
            subprocess.run(cmd, check=True, stdout=log)
        (run / "bench-wall-seconds.txt").write_text(f"{time.perf_counter() - t0:.1f}\n")
    rows = (run / "metrics.csv").read_text().strip().splitlines()
    last = dict(zip(rows[0].split(","), rows[-1].split(","), strict=False))
    log = run / "train.log"
    found = re.findall(r"refiner: \d+ steps in (\d+) CPU-s", log.read_text()) if log.exists() else []
    refine = float(found[-1]) if found else 0.0
    return {
        "steps": int(last["step"]),
        "images": int(last["images"]),
        "gan_s": gan_seconds(args, sets),
        "refine_s": refine,
    }


def evaluate(args: argparse.Namespace, run: Path, palette: bool = False, refine: int | None = None) -> dict:
    """FID/KID of N samples (seeds 0..N-1) against all training images, or against --real-n of them (seed 0),
    and the pixel-art measures against all of them (the floor); cached as RUN/bench-eval-N-R.json."""
    import numpy as np
    import torch

    from spritegan.data.dataset import open_dataset
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.metrics.evaluate import evaluate as compare
    from spritegan.metrics.evaluate import pixelart_with_floor, training_data_options
    from spritegan.metrics.sprites import is_builtin_sprites, sprite_metrics

    pipe = SpritePipeline.from_run(run, agree=args.agree, refine=refine)
    traits = args.traits if pipe.label_spec else None  # unconditional runs take no traits
    tag = f"{'-snapped' if palette else ''}{'-nofid' if args.no_fid else ''}-{traits or 'data'}"
    tag += "" if args.agree is None else f"-agree{args.agree:g}"
    tag += "" if refine is None else f"-refine{refine}"
    out = run / f"bench-eval-{args.n}-{args.real_n or 'all'}{tag}.json"
    if args.reuse and out.exists():
        return json.loads(out.read_text())
    t0 = time.perf_counter()
    manifest = pipe.manifest
    real = open_dataset(manifest["source"], **training_data_options(manifest)).images
    seeds = list(range(args.n))
    fake = pipe(seeds, labels=pipe.labels_for(traits, seeds), palette=palette)
    real_fid = real
    if args.real_n and args.real_n < len(real):
        real_fid = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(0))[: args.real_n]]
    result = {"metrics": {}}
    if not args.no_fid:
        result = compare(fake, real_fid, metrics=("fid", "kid"), seed=0, progress=False)
    pix = pixelart_with_floor(
        fake.numpy(), real.numpy(), palette=manifest.get("palette"), alpha_levels=manifest.get("alpha_levels")
    )
    result["metrics"].update(pix["metrics"])
    result["real_floor"] = pix["real_floor"]
    if is_builtin_sprites(fake, manifest):
        result["metrics"].update(sprite_metrics(fake, real))
        result["diversity"] = builtin_diversity(fake, real, manifest["labels"])
    result["n_fake"], result["n_real_fid"], result["seconds"] = (
        len(fake),
        len(real_fid),
        time.perf_counter() - t0,
    )
    out.write_text(json.dumps(result, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o)))
    return result


def builtin_diversity(fake, real, spec: dict) -> dict:
    """Built-in sprites: each trait's share among the samples the exact judge reads against the real share
    (`spritegan traits shares --judge exact`): how many of the 39 traits fall outside 2x, and the worst."""
    from spritegan.metrics.judge import ExactJudge
    from spritegan.metrics.trait_shares import judged_shares

    shares = judged_shares(ExactJudge(spec), real, fake)
    ratios = [r["ratio"] for r in shares["traits"] if r["checked"]]
    worst = max(ratios, key=lambda q: max(q, 1 / q) if q else float("inf"))
    bare = next(r for r in shares["traits"] if r["trait"] == "accessory=none")
    return {
        "failing": shares["failing"],
        "checked": shares["checked"],
        "failing_traits": shares["failing_traits"],
        "worst_ratio": worst,
        "accessory_none": bare["generated_share"],
        "accessory_none_real": bare["real_share"],
    }


def _rgb_with_palette(run: Path) -> bool:
    """Whether the run has an RGB head on data with a palette (so a snapped variant is worth a row)."""
    from spritegan.storage import read_metadata

    meta = read_metadata(run / "generator.safetensors")
    return meta["model_config"].get("head", "rgb") == "rgb" and bool(meta.get("manifest", {}).get("palette"))


def _refined(run: Path) -> bool:
    """Whether the run's generator has a trained palette refiner (so a refiner-off row is worth adding)."""
    from spritegan.generate.pipeline import SpritePipeline

    return SpritePipeline.from_run(run).sampling_record.get("palette_refine_passes", 0) > 0


def _metric(result: dict, key: str, floor: bool = False) -> float:
    """A metric of an eval record (or its real-data floor); NaN when absent."""
    value = result.get("real_floor" if floor else "metrics", {}).get(key)
    return float(value) if isinstance(value, (int, float)) else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="dataset (as for spritegan train)")
    ap.add_argument("--tile", help="tile size for a sprite-sheet dataset, e.g. 24")
    ap.add_argument("--recipe", action="append", required=True, help="NAME=PRESET[:key=value;key=value]")
    ap.add_argument("--cpu-seconds", type=float, default=600.0, help="training CPU time per run")
    ap.add_argument("--seeds", default="0", help="comma-separated training seeds")
    ap.add_argument("--jobs", type=int, default=2, help="training processes at a time")
    ap.add_argument("-n", type=int, default=5000, help="generated samples for FID (5000: FID-5k)")
    ap.add_argument(
        "--real-n", type=int, default=0, help="real images for FID (default 0: all, the standard protocol)"
    )
    ap.add_argument("--no-fid", action="store_true", help="skip FID and KID (no Inception features)")
    ap.add_argument(
        "--traits", help="conditional runs: sample with these traits ('new': sets no training image has)"
    )
    ap.add_argument(
        "--agree", type=float, help="palette head: neighbour agreement at sampling (default: each run's own)"
    )
    ap.add_argument("--out", default="runs/recipes", help="folder for the runs and results.json")
    ap.add_argument("--reuse", action="store_true", help="reuse trained runs and evaluations found in --out")
    args = ap.parse_args(argv)
    recipes = [parse_recipe(r) for r in args.recipe]
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    jobs = [
        (name, preset, sets, seed, out / f"{name}-s{seed}")
        for name, preset, sets in recipes
        for seed in seeds
    ]
    with ThreadPoolExecutor(args.jobs) as pool:
        trained = list(pool.map(lambda j: train(args, j[1], j[2], j[3], j[4]), jobs))
    rows = []
    for (name, preset, sets, seed, run), info in zip(jobs, trained, strict=True):
        row = {"recipe": name, "preset": preset, "set": sets, "seed": seed, "run": str(run), **info}
        rows.append({**row, "result": evaluate(args, run)})
        if _refined(run):  # the same weights with the refiner off: what the refiner itself adds
            rows.append({**row, "recipe": f"{name}, refiner off", "result": evaluate(args, run, refine=0)})
        if _rgb_with_palette(run):  # the baseline an RGB head offers: nearest-palette snap after sampling
            rows.append(
                {**row, "recipe": f"{name} + palette snap", "result": evaluate(args, run, palette=True)}
            )
    label = "FID-5k" if args.n == 5000 else f"FID-{args.n}"
    if args.real_n:
        label += f" vs {args.real_n} real (in-training signal)"
    print(f"\n{label} after about {args.cpu_seconds:.0f} CPU-s of training per run ({args.data})\n")
    keys = ["pixelart_off_palette", "pixelart_isolated", "pixelart_stray", "pixelart_colour_tv"]
    print(
        f"| recipe | seed | CPU-s (GAN + refiner) | steps | images | {label} | KID x10^3 | off-palette | "
        "isolated | stray-colour | colour distance (TV) | colours missing |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        res = r["result"]
        pix = (
            " | ".join(f"{_metric(res, k):.4f}" for k in keys)
            + f" | {_metric(res, 'pixelart_missing_colours'):.0f}"
        )
        cpu = f"{r['gan_s']:.0f} + {r['refine_s']:.0f}" if r["refine_s"] else f"{r['gan_s']:.0f}"
        print(
            f"| {r['recipe']} | {r['seed']} | {cpu} | {r['steps']} | {r['images']} | {_metric(res, 'fid'):.2f} | "
            f"{_metric(res, 'kid_mean') * 1000:.1f} | {pix} |"
        )
    floor = " | ".join(f"{_metric(rows[0]['result'], k, floor=True):.4f}" for k in keys)
    floor += f" | {_metric(rows[0]['result'], 'pixelart_missing_colours', floor=True):.0f}"
    print(f"| real data (floor) | | | | | | | {floor} |")
    if any("sprite_valid_share" in r["result"]["metrics"] for r in rows):
        sampled = f"conditional runs sampled with --traits {args.traits}" if args.traits else ""
        sampled += "" if args.agree is None else f"; neighbour agreement {args.agree:g} at sampling"
        print(
            f"\n{sampled}\n\n| recipe | seed | readable (>= 85% of pixels) | mean agreement | pixel-perfect |"
            " novel among pixel-perfect | traits outside 2x | worst ratio | no accessory |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            m, div = r["result"]["metrics"], r["result"].get("diversity") or {}
            print(
                f"| {r['recipe']} | {r['seed']} | {m.get('sprite_readable_share', float('nan')):.3f} | "
                f"{m.get('sprite_mean_agreement', float('nan')):.4f} | "
                f"{m.get('sprite_valid_share', float('nan')):.3f} | {m.get('sprite_novel_valid_share', float('nan')):.3f} | "
                f"{div.get('failing', '-')} of {div.get('checked', '-')} | {div.get('worst_ratio', float('nan')):.2f} | "
                f"{100 * div.get('accessory_none', float('nan')):.1f}% |"
            )
        real_none = next(
            (r["result"]["diversity"]["accessory_none_real"] for r in rows if "diversity" in r["result"]),
            None,
        )
        if real_none is not None:
            print(
                f"\ndiversity: each trait's share among the sprites the exact judge reads against its share in the "
                f"training data (real sprites with no accessory: {100 * real_none:.1f}%); worst ratio is "
                "generated / real share of the trait farthest from it"
            )
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
