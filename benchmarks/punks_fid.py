"""FID/KID of trained punk runs under one protocol, next to the real-vs-real floor at the same counts.

Protocol: N generated sprites (seeds 0..N-1, EMA generator, alpha snapped) against the same N real punks
(random, seed 0); a second disjoint set of N real punks gives the floor. Runs trained at another size
(the 64x64 `cyberpunk-gan`) are brought back to 24x24 with nearest-exact, which maps upscaled punks back to
the originals exactly. Features: the offline clean-fid Inception (spritegan.metrics).

usage: python benchmarks/punks_fid.py [-n 1000] RUN [RUN ...]
"""

from __future__ import annotations

import argparse
import time

PUNKS = "/work/shared/datasets/cryptopunks/punks.png"


def main(argv: list[str] | None = None) -> int:
    import torch

    from spritegan.data.dataset import open_dataset
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.metrics.evaluate import evaluate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run folders (or generator files)")
    ap.add_argument("-n", type=int, default=1000, help="generated and real images per set")
    ap.add_argument("--data", default=PUNKS)
    args = ap.parse_args(argv)
    real = open_dataset(args.data, tile="24").images
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(0))
    real_a, real_b = real[order[: args.n]], real[order[args.n : 2 * args.n]]
    print(f"| set (n={args.n} vs {args.n} real punks) | FID | KID x 10^3 | seconds |")
    print("| --- | ---: | ---: | ---: |")
    sets = [("real punks, disjoint half (floor)", lambda: real_b)]
    for run in args.runs:
        sets.append((run, lambda run=run: _samples(SpritePipeline.from_run(run), args.n)))
    for name, make in sets:
        t0 = time.perf_counter()
        res = evaluate(make(), real_a, metrics=("fid", "kid"), seed=0)["metrics"]
        print(
            f"| {name} | {res['fid']:.1f} | {res['kid_mean'] * 1e3:.2f} | {time.perf_counter() - t0:.0f} |",
            flush=True,
        )
    return 0


def _samples(pipe, n: int):
    import torch

    images = pipe(n=n, seed=0)
    if images.shape[-1] != 24:
        small = torch.nn.functional.interpolate(images.float(), size=(24, 24), mode="nearest-exact")
        images = small.round().clamp(0, 255).to(torch.uint8)
    return images


if __name__ == "__main__":
    raise SystemExit(main())
