"""Inception feature extraction: speed of the modes against the previous path, and what each does to FID.

Speed: batches of real punks go through three paths, interleaved (rotating order, median of the repeats):
"before" (per-image, per-channel PIL resize, fp32 network on contiguous inputs: the code before the
batched preprocessing), "fp32" (batched resize, channels_last, TorchScript), "bf16" (the same under bf16
autocast) and "onnxruntime" (batched resize, fp32 on ONNX Runtime: the default engine where it is installed).
FID: features of two disjoint halves of the real punks (a random split, seed 0) and of a generated set
(seeds 0..n-1 of a trained run) in fp32 and bf16; the table gives FID(A, B) and FID(generated, A) per mode
and bf16's relative change.

    python benchmarks/inception_speed.py --run /tmp/speed/punks --n 1000 --threads 1
    python benchmarks/inception_speed.py --speed-only --batches 4 --repeats 3
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

PUNKS = "/work/shared/datasets/cryptopunks/punks.png"


def before_features(model, images: np.ndarray) -> np.ndarray:
    """The previous code path: composite, per-image per-channel PIL resize, fp32 on contiguous input."""
    import torch

    from spritegan.metrics.features import clean_resize, composite_white

    rgb = composite_white(images)
    batch = (np.stack([clean_resize(img) for img in rgb]) - 128.0) / 128.0
    with torch.inference_mode():
        return model(torch.from_numpy(batch)).double().numpy()


def speed(
    real: np.ndarray, batches: int, batch_size: int, repeats: int, log=print, clock=time.perf_counter
) -> dict[str, list[float]]:
    """Images/s of before / fp32 / bf16 / onnxruntime, each repeat timing every mode on the same batches.

    clock=time.process_time counts this process's CPU seconds: with 1 thread on a shared machine that is
    far less sensitive to the other jobs than the wall clock."""
    from spritegan.bench import interleave
    from spritegan.metrics.features import inception_features, load_inception

    model = load_inception()
    chunk = real[: batches * batch_size]

    def rate(fn):
        def run() -> float:
            t0 = clock()
            for i in range(0, len(chunk), batch_size):
                fn(chunk[i : i + batch_size])
            return len(chunk) / (clock() - t0)

        return run

    cases = {
        "before": rate(lambda x: before_features(model, x)),
        "fp32": rate(
            lambda x: inception_features(
                x, batch_size=batch_size, precision="fp32", engine="torch", progress=False
            )
        ),
        "bf16": rate(
            lambda x: inception_features(x, batch_size=batch_size, precision="bf16", progress=False)
        ),
        "onnxruntime": rate(
            lambda x: inception_features(
                x, batch_size=batch_size, precision="fp32", engine="onnxruntime", progress=False
            )
        ),
    }
    # warm-up: oneDNN primitive caches and the resize matrices
    inception_features(chunk[:2], precision="bf16", progress=False)
    inception_features(chunk[:2], precision="fp32", engine="torch", progress=False)
    inception_features(chunk[:2], precision="fp32", engine="onnxruntime", progress=False)
    log(f"timing {len(chunk)} images x {len(cases)} modes x {repeats} repeats")
    return interleave(cases, repeats)


def fid_table(real: np.ndarray, fake: np.ndarray | None, n: int, batch_size: int, log=print) -> list[list]:
    """FID(A, B) of the real halves and FID(fake, A) in fp32 and bf16, with bf16's relative change."""
    from spritegan.metrics.features import inception_features
    from spritegan.metrics.frechet import fid_from_features

    perm = np.random.default_rng(0).permutation(len(real))
    half_a, half_b = real[perm[:n]], real[perm[n : 2 * n]]
    sets = {"A": half_a, "B": half_b} | ({"fake": fake[:n]} if fake is not None else {})
    feats: dict[str, dict[str, np.ndarray]] = {}
    for mode in ("fp32", "bf16"):
        t0 = time.perf_counter()
        feats[mode] = {
            k: inception_features(v, batch_size=batch_size, precision=mode, engine="torch")
            for k, v in sets.items()
        }
        log(f"{mode}: features of {sum(map(len, sets.values()))} images in {time.perf_counter() - t0:.0f} s")
    rows = []
    pairs = [("real half A vs real half B", "A", "B")]
    if fake is not None:
        pairs.append(("generated vs real half A", "fake", "A"))
    for name, x, y in pairs:
        fid = {m: fid_from_features(feats[m][x], feats[m][y]) for m in ("fp32", "bf16")}
        delta = fid["bf16"] - fid["fp32"]
        rows.append(
            [
                f"{name} ({n} vs {n})",
                f"{fid['fp32']:.3f}",
                f"{fid['bf16']:.3f}",
                f"{delta:+.3f}",
                f"{100 * delta / fid['fp32']:+.2f}%",
            ]
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=PUNKS, help="sprite sheet of 24x24 tiles (or a folder)")
    ap.add_argument("--run", help="a trained run folder (or generator file) for the generated set")
    ap.add_argument("--n", type=int, default=1000, help="images per set in the FID comparison")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--batches", type=int, default=2, help="speed: batches per timed repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="cpu: process CPU seconds")
    args = ap.parse_args(argv)

    import torch

    from spritegan.bench import loadavg, machine, markdown_table, median
    from spritegan.commands.eval import load_images

    torch.set_num_threads(args.threads)
    log = lambda s: print(s, file=sys.stderr)  # noqa: E731
    real = load_images(args.data, "24" if args.data.endswith(".png") else None).numpy()
    print(f"Machine: {machine()}. Load average before: {loadavg()}.")
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    rates = speed(real, args.batches, args.batch_size, args.repeats, log, clock)
    base = median(rates["before"])
    rows = [
        [m, f"{median(v):.2f}", f"{min(v):.2f}-{max(v):.2f}", f"{median(v) / base:.2f}"]
        for m, v in rates.items()
    ]
    print(
        f"\nSpeed ({args.clock} clock): {args.repeats} interleaved repeats of {args.batches * args.batch_size} images; load after: {loadavg()}.\n"
    )
    print(markdown_table(["mode", "img/s", "min-max", "x before"], rows))
    if args.speed_only:
        return 0
    fake = None
    if args.run:
        from spritegan.generate.pipeline import SpritePipeline

        fake = SpritePipeline.from_run(args.run)(n=args.n, seed=0).numpy()
    rows = fid_table(real, fake, args.n, args.batch_size, log)
    print(f"\nFID per precision (load after: {loadavg()}):\n")
    print(markdown_table(["pair", "FID fp32", "FID bf16", "bf16 - fp32", "relative"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
