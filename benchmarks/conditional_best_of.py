"""Best of k latents per sprite on a conditional run, ranked by its reader: trait shares, copies and FID-5k.

A conditional G asked for a rare trait often leaves it out (on the punks: mustache, policeCap and
wildWhiteHair read in under half of the sprites that asked for them), so free samples under-draw it. With a
trained reader (`spritegan refine RUN --out NEW --mpix 0 --reader`), `--best-of k` keeps, of a seed's k
latents, the sprite that reads surest as the traits it was asked for. This prints, for each k, what the
issue's diversity check reads on n sprites whose trait sets are drawn from the data (as `generate` draws
them; `traits shares` with `--traits random` draws the same way), read by a separately trained trait judge:
traits outside 2x of their real share, accessories per image, near and exact copies; and FID-5k and KID of
the first 5,000 against all training images (as `spritegan eval RUN --samples 5000 --best-of k`, whose real
statistics it shares through the feature cache).

usage: python benchmarks/conditional_best_of.py RUN --judge runs/judges/punks.safetensors --k 1,4
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from spritegan.data.dataset import open_dataset
from spritegan.generate.pipeline import SpritePipeline
from spritegan.metrics.evaluate import evaluate, training_data_options
from spritegan.metrics.judge import load_judge
from spritegan.metrics.novelty import DEFAULT_THRESHOLD, nearest_real, novelty_stats
from spritegan.metrics.trait_shares import trait_shares


def sample(pipe: SpritePipeline, n: int, batch: int) -> torch.Tensor:
    """Seeds 0..n-1, each with its trait set drawn from the data (`labels_for(None)`), in batches."""
    seeds = list(range(n))
    labels = pipe.labels_for(None, seeds)
    return torch.cat([pipe(seeds[i : i + batch], labels=labels[i : i + batch]) for i in range(0, n, batch)])


def _num(value: float | None) -> str:
    """A mean with two decimals, or '-' where the data has no binary traits."""
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a conditional palette run with a trained reader")
    ap.add_argument(
        "--judge", required=True, help="a trait judge (`spritegan traits judge`) on the run's data"
    )
    ap.add_argument("--k", default="1,4", help="latents per sprite, comma-separated (default 1,4)")
    ap.add_argument("-n", type=int, default=10_000, help="sprites read by the judge (default 10000)")
    ap.add_argument("--fid-samples", type=int, default=5000, help="of them, for FID (default 5000; 0: none)")
    ap.add_argument("--batch", type=int, default=500, help="sprites per batch (default 500)")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args(argv)
    judge, _ = load_judge(args.judge)
    rows = []
    for k in (int(x) for x in args.k.split(",")):
        t0 = time.process_time()
        pipe = SpritePipeline.from_pretrained(args.run, best_of=k)
        real = open_dataset(pipe.manifest["source"], **training_data_options(pipe.manifest)).images
        fake = sample(pipe, args.n, args.batch)
        t_sample = time.process_time() - t0
        shares = trait_shares(judge.score(real), judge.score(fake), judge.spec)
        _, distances = nearest_real(fake, real)
        ratios = {t["trait"]: t["ratio"] for t in shares["traits"]}
        row = {
            "k": k,
            "outside_2x": {name: ratios[name] for name in shares["failing_traits"]},
            "checked": shares["checked"],
            "accessories": shares["binary_per_image"]["generated"],
            "accessories_real": shares["binary_per_image"]["real"],
            "near_copies": float((distances < DEFAULT_THRESHOLD).mean()),
            "exact_copies": novelty_stats(distances)["exact_copies"],
            "sample_cpu_s": round(t_sample, 1),
        }
        if args.fid_samples:
            m = evaluate(fake[: args.fid_samples], real, metrics=("fid", "kid"), progress=False)["metrics"]
            row.update(fid=m["fid"], kid=m["kid_mean"])
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        f"\n| best of k | traits outside 2x (of {rows[0]['checked']}) | accessories per image (real "
        f"{_num(rows[0]['accessories_real'])}) | near copies | exact copies | FID-{args.fid_samples / 1000:g}k "
        "| KID |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        names = ", ".join(f"{t} {ratio:.2f}x" for t, ratio in r["outside_2x"].items()) or "none"
        fid = f"{r['fid']:.2f} | {r['kid']:.5f}" if "fid" in r else "| "
        print(
            f"| {r['k']} | {len(r['outside_2x'])} ({names}) | {_num(r['accessories'])} | "
            f"{100 * r['near_copies']:.1f}% | {r['exact_copies']} | {fid} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
