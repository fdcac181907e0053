"""Training speed of the `sprite` preset now against the commit before issue 17, in one interleaved run.

Each case is timed in its own worker process (so the code before the work, checked out as a git worktree,
and today's code never share an interpreter); the cases take turns, one repeat each in a rotating order,
and every worker reports training steps per second of its own CPU time (one thread), so other jobs on a
shared machine disturb the ratios little. The matmul peaks (fp32, bf16) are measured in the same run.

Cases (punks 24x24, Pokemon 96x128 (painted art: today's default draws it with the RGB head) and the built-in
sprites nearest-upscaled to 96x128 (pixel art: the palette head), batch 64, one thread):
- before: the commit before issue 17 (e1e3d12~1), its `sprite` preset (RGB head, width 32, fp32);
- now, same config: today's code with that preset's settings and no speed settings;
- now, same config + speed: channels_last and `train.amp=on` (bf16 autocast where this CPU runs it faster);
- now, same config + channels_last + bf16 forced (SPRITEGAN_CPU_BF16=1), on CPUs with native bf16;
- now, default: today's `sprite` preset as it ships.
Each row says whether its step ran under bf16 autocast.

    OMP_NUM_THREADS=1 python benchmarks/speed_vs_before.py                  # ~10 minutes on a quiet CPU
    OMP_NUM_THREADS=1 python benchmarks/speed_vs_before.py --sizes 24 --repeats 3 --steps 4   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "e1e3d12~1"  # the last commit before the palette-head and bf16 work (their first commit also
# brought in spritegan.precision, so e1e3d12~1 does not import on its own)
PUNKS = "/work/shared/datasets/cryptopunks/punks.png"
POKEMON = "/work/shared/datasets/pokemon/images"
# pixel art at 96x128 (nearest-upscaled): today's default keeps the palette head
SPRITES = "builtin:sprites:1024"
PIXEL_96 = "96x128-pixel"

# the sprite preset as it stood before issue 17, spelt as overrides of today's preset
OLD_SPRITE = {
    "model.head": "rgb",
    "model.g_width": 32,
    "model.palette_train_mix": False,
    "train.lr_g": 2e-3,
    "train.lr_d": 2e-3,
}

WORKER = r"""
import json, sys, time, types
from pathlib import Path
import tempfile
import torch
torch.set_num_threads(1)
a = json.loads(sys.argv[1])
import spritegan
assert str(Path(spritegan.__file__).resolve()).startswith(a["src"]), spritegan.__file__
from spritegan.config import build_config
from spritegan.train.loop import Trainer, fit_model_to_data
images = torch.load(a["images"])
over = dict(a["overrides"], **{"train.device": "cpu", "train.batch_size": a["batch"]})
cfg = build_config("sprite", over)
manifest = {"alpha_levels": None, "palette": a["palette"]}  # the loader's exact palette, or None (painted)
ds = types.SimpleNamespace(images=images, manifest=manifest, labels=None)
fit_model_to_data(cfg, ds, conditional=False)
with tempfile.TemporaryDirectory() as tmp:
    tr = Trainer(cfg, ds, Path(tmp))
    for _ in range(a["warmup"]):
        tr.train_step()
    flops = 0.0
    if a["flops"]:
        from torch.utils.flop_counter import FlopCounterMode
        k = cfg.train.r1_every if cfg.train.r1_gamma > 0 else 1
        with FlopCounterMode(display=False) as fc:
            for _ in range(k):
                tr.train_step()
        flops = fc.get_total_flops() / (k * a["batch"])
    t = time.process_time()
    for _ in range(a["steps"]):
        tr.train_step()
    dt = time.process_time() - t
amp = bool(getattr(tr, "amp", False))
head = getattr(cfg.model, "head", "rgb")  # the code before issue 17 had only the RGB head
print(json.dumps({"steps_per_s": a["steps"] / dt, "flops_per_img": flops, "bf16": amp, "head": head}))
"""


def worktree(commit: str, where: Path) -> Path:
    """A detached checkout of `commit` at `where` (made once, reused later)."""
    if not (where / "src" / "spritegan").is_dir():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), commit],
            check=True,
            capture_output=True,
        )
    return where / "src"


def save_images(size: str, folder: Path) -> tuple[Path, list | None]:
    """The case's training images as one uint8 tensor file, read with today's data code, and the data's
    exact palette (None for painted art, which today's `sprite` draws with the RGB head)."""
    from spritegan.data.dataset import open_dataset

    path, palette_path = folder / f"images-{size}.pt", folder / f"palette-{size}.json"
    if not (path.exists() and palette_path.exists()):
        if size == "24":
            ds = open_dataset(PUNKS, tile="24")
        elif size == PIXEL_96:
            ds = open_dataset(SPRITES, resize="96x128", resample="nearest")
        else:
            ds = open_dataset(POKEMON, resize=size, resample="area")
        torch.save(ds.images, path)
        palette_path.write_text(json.dumps(ds.manifest.get("palette")))
    return path, json.loads(palette_path.read_text())


def run_case(src: Path, args: dict, extra_env: dict[str, str]) -> dict:
    """One worker process with `src` first on its path; returns its JSON line."""
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1", **extra_env)
    out = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(dict(args, src=str(src.resolve())))],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"worker failed: {out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--sizes",
        default=f"24,96x128,{PIXEL_96}",
        help=f"comma-separated: 24 (punks), 96x128 (Pokemon, painted), {PIXEL_96} (built-in sprites upscaled)",
    )
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats per case")
    ap.add_argument(
        "--steps", type=int, default=8, help="timed steps per repeat at 24x24 (a quarter at 96x128)"
    )
    ap.add_argument(
        "--work", default=str(Path(tempfile.gettempdir()) / "spritegan-speed"), help="worktree etc."
    )
    args = ap.parse_args(argv)

    from spritegan.bench import cpu_name, loadavg, markdown_table, matmul_peak, median
    from spritegan.precision import cpu_bf16_native

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    old_src, new_src = worktree(BEFORE, work / "before"), ROOT / "src"
    bf16 = cpu_bf16_native()
    cases = {
        "before (e1e3d12~1), old sprite": (old_src, {"train.amp": False}, {}),
        "now, old sprite config": (
            new_src,
            {**OLD_SPRITE, "train.amp": "off", "train.channels_last": False},
            {},
        ),
        "now, old sprite config + speed settings": (new_src, {**OLD_SPRITE, "train.amp": "on"}, {}),
        "now, sprite default (as it ships, width 48)": (new_src, {}, {}),
    }
    if bf16:
        cases["now, old sprite config + channels_last + bf16 forced"] = (
            new_src,
            {**OLD_SPRITE, "train.amp": "on"},
            {"SPRITEGAN_CPU_BF16": "1"},
        )
    from spritegan.precision import cpu_bf16_reason

    print(f"# {cpu_name()}; native bf16: {bf16}; {cpu_bf16_reason()}; load {loadavg()}", flush=True)
    rows = []
    for size in args.sizes.split(","):
        images, palette = save_images(size, work)
        steps = args.steps if size == "24" else max(1, args.steps // 4)
        rates: dict[str, list[float]] = {name: [] for name in cases}
        flops: dict[str, float] = {}
        used_bf16: dict[str, bool] = {}
        heads: dict[str, str] = {}
        names = list(cases)
        for r in range(args.repeats):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                src, over, extra_env = cases[name]
                job = {
                    "images": str(images),
                    "palette": palette,
                    "overrides": over,
                    "batch": 64,
                    "steps": steps,
                    "warmup": 2,
                    "flops": name not in flops,
                }
                res = run_case(src, job, extra_env)
                used_bf16[name] = res["bf16"]
                heads[name] = res["head"]
                rates[name].append(res["steps_per_s"])
                flops.setdefault(name, res["flops_per_img"])
                print(f"  {size} {name}: {res['steps_per_s'] * 64:.0f} img/CPU-s", flush=True)
        ref = median(rates[names[0]])
        for name in names:
            img_s = median(rates[name]) * 64
            rows.append(
                {
                    "size": size,
                    "case": name,
                    "bf16": used_bf16[name],
                    "head": heads[name],
                    "img_s": img_s,
                    "x": median(rates[name]) / ref,
                    "ratios": [v / ref for v in rates[name]],
                    "mflop": flops[name] / 1e6,
                }
            )
    peaks = {
        "fp32": matmul_peak(torch.float32, repeats=6, threads=1),
        "bf16": matmul_peak(torch.bfloat16, repeats=6, threads=1) if bf16 else float("nan"),
    }
    table = []
    for row in rows:
        kind = "bf16" if row["bf16"] else "fp32"
        gflops = row["img_s"] * row["mflop"] / 1e3
        table.append(
            [
                row["size"],
                row["case"],
                f"{kind}, {row['head']} head",
                f"{row['img_s']:.0f}",
                f"{row['x']:.2f}",
                "-".join(f"{v:.2f}" for v in (min(row["ratios"]), max(row["ratios"]))),
                f"{row['mflop']:.0f}",
                f"{gflops:.1f}",
                f"{100 * gflops / peaks[kind]:.0f}% ({kind})",
            ]
        )
    print()
    print(
        markdown_table(
            [
                "size",
                "case (1 thread, batch 64)",
                "ran in",
                "img per CPU-s",
                "x before",
                "repeat range",
                "MFLOP/img",
                "GFLOP/s",
                "share of peak",
            ],
            table,
        )
    )
    print(
        f"\n1-thread 2048x2048 matmul peak in this run: fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 "
        f"{peaks['bf16']:.0f} GFLOP/s; load {loadavg()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
