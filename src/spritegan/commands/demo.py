"""`spritegan demo`: train the `sprite` preset with its palette head (and colour codes for D) on the built-in
sprites for a few CPU minutes, told their traits (--free: not told), then its refiner (a learned clean-up of
stray pixels), then sample."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from spritegan.commands import add_command

if TYPE_CHECKING:
    from spritegan.config import RunConfig

EXAMPLES = """  spritegan demo                       # about 3 minutes on a 2-core CPU with bf16, 4-10 without
  spritegan demo --steps 300 --out runs/quick
  spritegan generate runs/demo -n 64 --refine 0 --out out/raw   # the demo's sprites without the refiner
  spritegan generate runs/demo -n 16 --traits accessory=shield,hair=long --out out/shields
  spritegan demo --free --out runs/demo-free   # G not told the traits (the default until 2026-12-08)
"""


class DemoBudget(NamedTuple):
    """The demo's GAN steps, and its refiner's width and millions of training pixels at those steps."""

    steps: int
    refiner_width: int
    refine_mpix: float


# the refiner after the GAN (docs/pixel-exact.md): at the demo's 1,500 steps, 30 million pixels (458 steps)
# took the mean pixel agreement with the nearest valid sprite from 0.923 to 0.939 and the stray-colour
# pixels from 0.016 to 0.007 (real 0.0015)
DEMO_BF16 = DemoBudget(1500, 48, 30.0)
# a CPU without fast bf16 trains in fp32 at about half the speed: 1,000 steps keep the demo near 5 minutes on
# an AVX-512 Xeon (readable 97.3% against 99.6% at 1,500, README), and its refiner is narrower: on the demo's
# G, on a 2-core AVX2 EPYC, width 32 on 20M pixels read 95.1% (two seeds) against width 48's 96.4% in less
# than half its CPU time (188 against 399 CPU-s; docs/builtin.md)
DEMO_FP32 = DemoBudget(1000, 32, 20.0)

# The demo's G is told each sprite's traits (the data's labels; class-conditional batch norm and R1 gamma 0.5, as
# the README's 30-CPU-minute recipe) and pulled toward the data's colour shares (train.colour_usage=1: told an
# eye colour it had stopped drawing, the told G smeared faces, 41% eyeless after the refiner). At the fp32
# budget, seeds 0 and 1: readable 100% and 100%, mean agreement 0.936 and 0.949, stray-colour 0.0094 and
# 0.0063, 11% and 0% eyeless, 8 and 6 of 39 traits outside 2x, against the free demo's 96.1% and 96.4%, 0.909
# and 0.909, 0.0117 and 0.0087, 19% and 7%, 15 and 13 (docs/builtin.md, the told demo with colour usage).
# Its unconditional slot is noise after 1,000 steps, so everything that samples it (the CLI, the Python API,
# the studio) draws each sprite's traits from the data unless asked for the slot (--traits none)
CONDITIONAL_SETTINGS = {"model.cond_mode": "cbn", "train.r1_gamma": 0.5, "train.colour_usage": 1.0}


def demo_budget(device: str = "auto") -> DemoBudget:
    """The demo's budget on this machine: DEMO_BF16 where training runs in bf16 (or on a GPU), DEMO_FP32
    (fewer steps, a narrower refiner) where it runs in fp32."""
    from spritegan.precision import bf16_autocast_ok
    from spritegan.train.loop import resolve_device

    return DEMO_BF16 if bf16_autocast_ok(resolve_device(device)) else DEMO_FP32


def demo_config(budget: DemoBudget, steps: int, seed: int, conditional: bool = True) -> RunConfig:
    """The demo's run config: the `sprite` preset on the built-in sprites at `budget` (its refiner scaled to
    `steps`), with CONDITIONAL_SETTINGS when G is told the traits."""
    from spritegan.config import build_config

    return build_config(
        "sprite",
        {
            "data.source": "builtin:sprites:4096",
            "train.steps": steps,
            "train.seed": seed,
            "train.sample_every": 250,
            "model.palette_refiner": budget.refiner_width,
            # a shorter (longer) demo refines for proportionally fewer (more) pixels
            "train.refine_mpix": budget.refine_mpix * steps / budget.steps,
            **(CONDITIONAL_SETTINGS if conditional else {}),
        },
    )


def register(subparsers) -> None:
    p = add_command(subparsers, "demo", "Train on the built-in sprites and write a sample sheet.", EXAMPLES)
    p.add_argument("--out", default="runs/demo", help="run folder (default runs/demo)")
    p.add_argument(
        "--steps",
        type=int,
        help=f"training steps (default {DEMO_BF16.steps}, or {DEMO_FP32.steps} on a CPU without fast bf16)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed")
    told = p.add_mutually_exclusive_group()
    told.add_argument(
        "--conditional",
        action="store_true",
        help="tell G each sprite's traits (the built-in labels; the default); the sheet draws them from the data",
    )
    told.add_argument(
        "--free",
        action="store_true",
        help="do not tell G the traits: the unconditional demo (more specks, fewer eyes; docs/builtin.md)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


DEMO_MARKER = ".spritegan-demo"  # written by the demo: only a folder holding it may be replaced


def clear_demo_folder(out: Path) -> None:
    """The demo starts fresh, but deletes only a folder that an earlier demo made (it holds DEMO_MARKER)."""
    import shutil

    from spritegan.commands import check_output_folder
    from spritegan.errors import SpriteganError

    check_output_folder(out)
    if not out.exists() or not any(out.iterdir()):
        return
    if not (out / DEMO_MARKER).is_file():
        raise SpriteganError(
            f"--out {out}: folder exists and was not made by `spritegan demo`, so it is left alone; "
            "choose another --out"
        )
    shutil.rmtree(out)


def run(args: argparse.Namespace) -> int:
    from spritegan.data.dataset import open_dataset
    from spritegan.errors import SpriteganError
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.generate.sheet import make_sheet, save_png
    from spritegan.train.loop import fit_model_to_data, train

    budget = demo_budget()
    if args.steps is None:
        args.steps = budget.steps
    if args.steps < 1:
        raise SpriteganError(f"--steps {args.steps}: must be at least 1")
    out = Path(args.out)
    clear_demo_folder(out)
    conditional = not args.free
    cfg = demo_config(budget, args.steps, args.seed, conditional)
    dataset = open_dataset(cfg.data.source)
    out.mkdir(parents=True, exist_ok=True)
    (out / DEMO_MARKER).write_text(
        "made by `spritegan demo`; the next demo run with this --out replaces it\n"
    )
    for note in fit_model_to_data(cfg, dataset, conditional=conditional):
        print(f"note: {note}")
    labelled = " and their trait labels" if conditional else ""
    print(
        f"demo: training the `sprite` preset with a palette head (D sees colour codes) on {len(dataset.images)} built-in 32x32 RGBA "
        f"sprites{labelled} for {args.steps} steps, then its refiner"
    )
    result = train(cfg, dataset, out, progress=not args.no_progress)
    pipe = SpritePipeline.from_run(out)
    sheet = out / "demo-sheet.png"
    # a conditional G draws each sprite's traits from the data, as `generate` and the Python API do
    save_png(make_sheet(pipe(range(64)), scale=4, background="checker"), sheet)
    real = out / "real-sheet.png"
    save_png(make_sheet(dataset.images[:64], scale=4, background="checker"), real)
    print(f"trained {result.step} steps in {result.seconds:.0f}s ({result.images_per_s:.0f} img/s)")
    print(f"generated sheet: {sheet}\nreal sprites:    {real}\nrun folder:      {out}")
    print(f"next: spritegan generate {out} -n 100 --scale 8 --out out/demo")
    return 0
