"""Time to quality: the `sprite` preset (24x24 native) vs the seed recipe `cyberpunk-gan` (64x64) on punks.

Each recipe trains for the same wall-clock budget, one after the other; snapshots of the sampling generator
are taken at fixed points of the training clock, and FID is computed after training (evaluation time never
counts). The threshold is the best FID the seed recipe reaches in the budget; the table says when (if ever)
the sprite preset gets under it.

    nice -n 5 .venv/bin/python benchmarks/time_to_quality.py --minutes 6 --out docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

PUNKS = "/work/shared/datasets/cryptopunks/punks.png"
PROTOCOL = (
    "FID on {samples} samples of the sampling generator (seeds 0..{last}, the generation pipeline with alpha "
    "snapping) against {reals} real punks (a fixed random subset, seed 0), both sides RGBA composited on "
    "white and resized to 299x299 by the clean-fid bicubic convention, TF-Inception pool3 features. The "
    "reported column compares at 24x24: the 64x64 model's samples are downscaled with nearest-exact (pixel "
    "centres; it maps the 64x64 nearest-upscaled punks back to the native punks bit for bit) and compared "
    "with the native 24x24 punks. The 64x64 column compares the 64x64 samples with the 64x64 upscaled punks "
    "the seed model trains on (its own protocol)."
)


def open_punks(data: str, size: int) -> Any:
    """The punks sheet at native 24x24 or nearest-upscaled to size (a builtin: source is resized instead)."""
    from spritegan.data.dataset import open_dataset

    if data.startswith("builtin:"):
        return open_dataset(data, resize=str(size))
    return open_dataset(data, tile="24", resize=None if size == 24 else str(size))


def inception_fid(fake: Any, real: Any) -> float:
    """FID with the project's evaluator (reals cached)."""
    from spritegan.metrics.evaluate import evaluate

    return float(evaluate(fake, real, metrics=("fid",), seed=0)["metrics"]["fid"])


def train_for(
    preset: str,
    dataset: Any,
    seconds: float,
    points: Sequence[float],
    *,
    device: str = "cpu",
    threads: int = 0,
    overrides: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Train `preset` for `seconds` of training clock; snapshot the sampling generator at each point (s)."""
    from spritegan.config import build_config
    from spritegan.train.loop import Trainer, fit_model_to_data

    cfg = build_config(preset, {"train.device": device, "train.threads": threads, **(overrides or {})})
    fit_model_to_data(cfg, dataset, conditional=False)
    snaps: list[dict[str, Any]] = []
    marks = sorted(points)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, dataset, Path(tmp))
        clock = 0.0
        while marks:
            t0 = time.perf_counter()
            stats = trainer.train_step()
            float(stats["loss_d"])
            clock += time.perf_counter() - t0
            while marks and clock >= marks[0]:
                snaps.append(
                    {
                        "preset": preset,
                        "target_s": marks.pop(0),
                        "seconds": clock,
                        "step": trainer.step,
                        "images_seen": trainer.images_seen,
                        "generator": copy.deepcopy(trainer.G_ema).cpu(),
                        "meta": trainer.generator_meta(),
                    }
                )
            if clock >= seconds:
                break
    return snaps


def samples(snap: dict[str, Any], n: int, size: int | None = None) -> Any:
    """n uint8 samples of a snapshot (seeds 0..n-1), optionally downscaled with nearest-exact to size."""
    import torch

    from spritegan.generate.pipeline import SpritePipeline

    images = SpritePipeline(snap["generator"], snap["meta"])(n=n, seed=0)
    if size is not None and images.shape[-1] != size:
        small = torch.nn.functional.interpolate(images.float(), size=(size, size), mode="nearest-exact")
        images = small.round().clamp(0, 255).to(torch.uint8)
    return images


def run_quality(
    minutes: float = 6.0,
    *,
    samples_n: int = 500,
    reals_n: int = 500,
    sprite_points: Sequence[float] = (0.33, 0.67, 1.0),
    seed_points: Sequence[float] = (0.5, 1.0),
    device: str = "cpu",
    threads: int = 0,
    data: str = PUNKS,
    fid: Callable[[Any, Any], float] = inception_fid,
    overrides: dict[str, dict[str, Any]] | None = None,
    log: Callable[[str], None] = print,
    sheets: str | None = None,
) -> dict[str, Any]:
    """Train both recipes for `minutes` each, evaluate the snapshots; returns rows, threshold and the protocol."""
    import torch

    from spritegan.bench import loadavg

    overrides = overrides or {}
    budget = minutes * 60.0
    load_before = loadavg()
    native = open_punks(data, 24)
    pick = torch.randperm(len(native.images), generator=torch.Generator().manual_seed(0))[:reals_n]
    real24 = native.images[pick]
    log(f"training sprite for {budget:.0f} s (load {loadavg()})")
    snaps = train_for(
        "sprite",
        native,
        budget,
        [f * budget for f in sprite_points],
        device=device,
        threads=threads,
        overrides=overrides.get("sprite"),
    )
    big = open_punks(data, 64)
    real64 = big.images[pick]
    log(f"training cyberpunk-gan for {budget:.0f} s (load {loadavg()})")
    snaps += train_for(
        "cyberpunk-gan",
        big,
        budget,
        [f * budget for f in seed_points],
        device=device,
        threads=threads,
        overrides=overrides.get("cyberpunk-gan"),
    )
    load_train = loadavg()
    rows = []
    for snap in snaps:
        log(f"evaluating {snap['preset']} at {snap['seconds']:.0f} s (load {loadavg()})")
        row = {k: snap[k] for k in ("preset", "seconds", "step", "images_seen")}
        row["fid24"] = fid(samples(snap, samples_n, size=24), real24)
        row["fid64"] = float("nan")
        if snap["preset"] == "cyberpunk-gan" and snap is snaps[-1]:
            row["fid64"] = fid(samples(snap, samples_n), real64)
        rows.append(row)
    if sheets:
        from spritegan.generate.sheet import make_sheet, save_png

        for preset in ("sprite", "cyberpunk-gan"):
            last = [snap for snap in snaps if snap["preset"] == preset][-1]
            images = samples(last, 64)
            scale = max(1, 72 // images.shape[-1])
            save_png(
                make_sheet(images, ncol=8, scale=scale, background="checker"), Path(sheets) / f"{preset}.png"
            )
    seed_rows = [r for r in rows if r["preset"] == "cyberpunk-gan"]
    threshold = min(r["fid24"] for r in seed_rows)
    reached = [r for r in rows if r["preset"] == "sprite" and r["fid24"] <= threshold]
    return {
        "minutes": minutes,
        "rows": rows,
        "threshold": threshold,
        "sprite_reached_s": reached[0]["seconds"] if reached else None,
        "protocol": PROTOCOL.format(samples=samples_n, last=samples_n - 1, reals=reals_n),
        "load": {"before": load_before, "after_training": load_train, "after": loadavg()},
    }


def quality_markdown(result: dict[str, Any], machine_line: str, command: str) -> str:
    """The time-to-quality section for docs/benchmarks.md."""
    from spritegan.bench import markdown_table

    rows = [
        [
            r["preset"],
            f"{r['seconds']:.0f}",
            r["step"],
            r["images_seen"],
            f"{r['fid24']:.1f}",
            "-" if r["fid64"] != r["fid64"] else f"{r['fid64']:.1f}",
        ]
        for r in result["rows"]
    ]
    table = markdown_table(
        ["recipe", "training s", "steps", "images seen", "FID @24x24 (reported)", "FID @64x64"], rows
    )
    t = result["threshold"]
    reached = result["sprite_reached_s"]
    verdict = (
        f"the `sprite` preset was under it at the {reached:.0f} s evaluation point"
        if reached is not None
        else "the `sprite` preset did not get under it within the budget"
    )
    load = result["load"]
    return (
        f"### Time to quality ({result['minutes']:g} minutes of training per recipe)\n\n"
        f"Machine: {machine_line}. Load average (1/5/15 min): {load['before']} before, "
        f"{load['after_training']} after training, {load['after']} after evaluation.\n\n"
        f"{table}\n\n"
        f"Threshold: FID {t:.1f}, the best (24x24 protocol) the seed recipe `cyberpunk-gan` reached in "
        f"{result['minutes']:g} minutes; {verdict}.\n\n"
        f"Protocol: {result['protocol']}\n\nCommand: `{command}`\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, run, print the markdown and optionally write it into a markdown file."""
    import sys

    import torch

    from spritegan.bench import machine, write_section

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=6.0, help="training budget per recipe")
    ap.add_argument("--samples", type=int, default=500, help="generated images per FID")
    ap.add_argument("--reals", type=int, default=500, help="real punks per FID")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    ap.add_argument("--data", default=PUNKS, help="the CryptoPunks sheet (24x24 tiles)")
    ap.add_argument("--out", help="markdown file to write the section into (e.g. docs/benchmarks.md)")
    ap.add_argument("--json", help="also write the raw result here")
    ap.add_argument("--sheets", help="folder for a 64-sample sheet of each recipe's last snapshot")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: no CUDA GPU visible", file=sys.stderr)
        return 2
    result = run_quality(
        args.minutes,
        samples_n=args.samples,
        reals_n=args.reals,
        device=args.device,
        threads=args.threads,
        data=args.data,
        sheets=args.sheets,
    )
    command = "python benchmarks/time_to_quality.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = quality_markdown(result, machine(args.device), command.strip())
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    if args.out:
        write_section(args.out, "time-to-quality", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
