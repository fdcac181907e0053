"""onnxruntime vs PyTorch sprite generation throughput on this CPU, in the same run.

Both sides get the same latents and produce the same uint8 sprites (post-processing included: the ONNX
graph has it inside, PyTorch runs `SpritePipeline`). One thread each by default. Prints a markdown table.

    python benchmarks/onnx_vs_torch.py --batch 64 --repeats 20
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def _time(fn, repeats: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    """Export, check parity, time both runtimes, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="run folder (default: a random-weight sprite-preset model)")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import numpy as np
    import onnxruntime as ort
    import torch

    from spritegan.export.onnx import export_onnx
    from spritegan.generate.pipeline import SpritePipeline
    from studio_model import describe, make_bench_run

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp())
    run = Path(args.run) if args.run else make_bench_run(tmp / "runs", size=args.size)
    path = tmp / "g.onnx"
    export_onnx(run, path)
    pipe = SpritePipeline.from_run(run)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    z = pipe.latents(range(args.batch))
    feeds = {"z": z.numpy(), "truncation": np.ones(1, np.float32)}
    if pipe.model_config.cond_dim:
        feeds["labels"] = np.zeros((args.batch, pipe.model_config.cond_dim), np.float32)
    ref = pipe(z=z, labels=torch.from_numpy(feeds["labels"]) if "labels" in feeds else None)
    diff = np.abs(sess.run(None, feeds)[0].astype(int) - ref.permute(0, 2, 3, 1).numpy().astype(int))
    rows = []
    for name, fn in (
        ("PyTorch (SpritePipeline)", lambda: pipe(z=z, labels=None)),
        ("onnxruntime (CPU EP)", lambda: sess.run(None, feeds)),
    ):
        times = _time(fn, args.repeats)
        med = statistics.median(times)
        rows.append((name, med * 1000, args.batch / med))
    print(
        f"Model: {describe(run)}; batch {args.batch}, {args.repeats} timed repeats, {args.threads} thread(s)."
    )
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch "
        f"{torch.__version__}, onnxruntime {ort.__version__}."
    )
    print(
        f"Parity on this batch: max |diff| {diff.max()} levels, {(diff > 0).mean():.4%} of values differ.\n"
    )
    print("| runtime | median ms / batch | sprites / s |")
    print("|---|---:|---:|")
    for name, ms, rate in rows:
        print(f"| {name} | {ms:.1f} | {rate:.0f} |")
    print(f"\nonnxruntime / PyTorch speed: {rows[0][1] / rows[1][1]:.2f}x")


if __name__ == "__main__":
    main()
