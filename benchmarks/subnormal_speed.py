"""What subnormal floats cost a training step, and what flushing them to zero buys back.

A trained palette head is sure of its colours: most of its softmax probabilities fall below the smallest
normal float (1.2e-38), and on x86 (Intel's most of all) arithmetic on such subnormal numbers is many times
slower. `spritegan.precision.flush_denormals` treats them as zero; worker threads inherit the mode only when
they start after it is set, so each case runs in a fresh process that sets it (or not) first.

1. The palette head alone: forward + backward of the colour choice for a batch of 64 punks (36,864 pixels,
   E = 16, K = 221 colours + 16 code channels), its logits scaled from unsure to as sure as a trained head,
   with the share of probabilities below 1.2e-38; flush off and on, 1 and 2 threads.
2. With --run RUN (a `sprite` run's folder, copied first, never written): whole training steps from its last
   checkpoint, flush off and on, 1 thread, and the same from a fresh start.
3. The colour codes of a real batch (`model.palette_identity`): distances to every palette colour against
   the lookup of the data's colours that the trainer now builds once.

Times are process CPU time (a second job on the machine disturbs them little), the best of --repeats.

    python benchmarks/subnormal_speed.py
    python benchmarks/subnormal_speed.py --run runs/punks --steps 16
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PUNKS = "/work/shared/datasets/cryptopunks/punks.png"
POKEMON = "/work/shared/datasets/pokemon/images"

HEAD_WORKER = r"""
import json, sys, time
import torch
a = json.loads(sys.argv[1])
if a["flush"]:
    torch.set_flush_denormal(True)  # before any tensor work: the worker threads inherit it
torch.set_num_threads(a["threads"])
from spritegan.models.palette_head import _StraightThroughChoice
g = torch.Generator().manual_seed(0)
m, e, k, c = 64 * 24 * 24, 16, 221, 20
x = torch.randn(m, e, generator=g).requires_grad_()
w = (torch.randn(k, e, generator=g) * a["scale"] / 4).requires_grad_()
b = torch.zeros(k, requires_grad=True)
values = torch.randn(k, c, generator=g)
grad = torch.randn(m, c, generator=g) * 1e-3
with torch.no_grad():
    p = torch.softmax(torch.addmm(b, x[:4096], w.t()), dim=1)
tiny = float((p < 1.1754944e-38).float().mean())
def once():
    out, _ = _StraightThroughChoice.apply(x, w, b, values, 1.0, True)
    out.backward(grad)
once()
best = float("inf")
for _ in range(a["repeats"]):
    t = time.process_time()
    once()
    best = min(best, time.process_time() - t)
print(json.dumps({"ms": best * 1e3, "tiny": tiny}))
"""

STEP_WORKER = r"""
import json, sys, time
from pathlib import Path
import torch
a = json.loads(sys.argv[1])
if a["flush"]:
    torch.set_flush_denormal(True)
torch.set_num_threads(1)
from spritegan.config import RunConfig
from spritegan.data.dataset import open_from_config
from spritegan.train.loop import Trainer
import spritegan.precision as precision
precision.flush_denormals = lambda: False  # the case decides, not the trainer
import spritegan.train.loop as loop
loop.flush_denormals = precision.flush_denormals
run = Path(a["run"])
cfg = RunConfig.load(run / "config.yaml")
cfg.train.threads = 1
ds = open_from_config(cfg.data, progress=False)
tr = Trainer(cfg, ds, run, resume=a["resume"])
for _ in range(2):
    tr.train_step()
best = float("inf")
for _ in range(a["repeats"]):
    t = time.process_time()
    for _ in range(a["steps"]):
        tr.train_step()
    best = min(best, time.process_time() - t)
print(json.dumps({"img_per_s": a["steps"] * cfg.train.batch_size / best, "step": tr.step}))
"""


def worker(code: str, args: dict) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(args.get("threads", 1)))
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"worker failed: {out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def add_row(rows: list[list[str]], cells: list[str]) -> None:
    """Keep a table row and show it at once (the whole table is printed at the end)."""
    rows.append(cells)
    print(" | ".join(cells), flush=True)


def head_table(repeats: int) -> list[list[str]]:
    rows = []
    for scale in (1, 10, 30, 60):
        for threads in (1, 2):
            off = worker(HEAD_WORKER, dict(scale=scale, threads=threads, flush=False, repeats=repeats))
            on = worker(HEAD_WORKER, dict(scale=scale, threads=threads, flush=True, repeats=repeats))
            add_row(
                rows,
                [
                    str(scale),
                    f"{off['tiny']:.2f}",
                    str(threads),
                    f"{off['ms']:.1f}",
                    f"{on['ms']:.1f}",
                    f"{off['ms'] / on['ms']:.2f}",
                ],
            )
    return rows


def step_table(run: Path, steps: int, repeats: int) -> list[list[str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "run"
        shutil.copytree(run, copy, ignore=shutil.ignore_patterns("samples", "tensorboard"))
        for resume, name in ((False, "fresh start"), (True, "last checkpoint")):
            res = {}
            for flush in (False, True):
                fresh = Path(tmp) / f"fresh-{flush}"
                if not resume:
                    fresh.mkdir()
                    shutil.copy(copy / "config.yaml", fresh / "config.yaml")
                args = dict(run=str(copy if resume else fresh), resume=resume, flush=flush)
                res[flush] = worker(STEP_WORKER, dict(args, steps=steps, repeats=repeats))
            add_row(
                rows,
                [
                    f"{name} (step {res[True]['step']})",
                    f"{res[False]['img_per_s']:.0f}",
                    f"{res[True]['img_per_s']:.0f}",
                    f"{res[True]['img_per_s'] / res[False]['img_per_s']:.2f}",
                ],
            )
    return rows


def lookup_table(repeats: int) -> list[list[str]]:
    import time

    import torch

    from spritegan.data.dataset import open_dataset
    from spritegan.data.palette import dataset_palette
    from spritegan.models.palette_head import ColourLookup, nearest_colours
    from spritegan.tensors import to_model

    torch.set_num_threads(1)
    rows = []
    cases = (("punks 24x24", PUNKS, {"tile": "24"}), ("Pokemon 96x128", POKEMON, {"resize": "96x128"}))
    for name, spec, kw in cases:
        ds = open_dataset(spec, **kw)
        palette = dataset_palette(ds.manifest, ds.images, 64)[0].float().div(127.5).sub(1.0)
        t = time.process_time()
        lookup = ColourLookup(ds.images)
        x = to_model(ds.images[:64])
        assert torch.equal(lookup.index(x, palette), nearest_colours(x, palette))
        build = time.process_time() - t

        def best(fn, *args) -> float:
            times = []
            for _ in range(repeats):
                t0 = time.process_time()
                fn(*args)
                times.append(time.process_time() - t0)
            return min(times) * 1e3

        measured = best(nearest_colours, x, palette)
        looked = best(lookup.index, x, palette)
        add_row(
            rows,
            [
                name,
                str(len(palette)),
                f"{len(lookup.keys):,}",
                f"{build:.1f}",
                f"{measured:.1f}",
                f"{looked:.1f}",
                f"{measured / looked:.1f}",
            ],
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="a sprite run folder: time its steps from the last checkpoint (copied)")
    ap.add_argument("--steps", type=int, default=16, help="steps per timed repeat with --run")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    from spritegan.bench import cpu_name, loadavg, markdown_table

    print(f"# {cpu_name()}; load {loadavg()}")
    print("\nThe palette head alone (forward + backward, 64 punks), ms of CPU time:")
    head = head_table(args.repeats)
    print(
        markdown_table(
            ["logit scale", "probabilities < 1.2e-38", "threads", "unflushed", "flushed", "x"], head
        )
    )
    if args.run:
        print(f"\nTraining steps of {args.run}, images per CPU-second, 1 thread:")
        steps = step_table(Path(args.run), args.steps, args.repeats)
        print(markdown_table(["from", "unflushed", "flushed", "x"], steps))
    print("\nColour codes of a real batch of 64 (model.palette_identity), ms of CPU time, 1 thread:")
    look = lookup_table(args.repeats)
    print(
        markdown_table(
            ["data", "palette", "data colours", "lookup built (s)", "distances", "lookup", "x"], look
        )
    )
    print(f"\nload at the end: {loadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
