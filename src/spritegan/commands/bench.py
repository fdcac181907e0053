"""`spritegan bench`: the benchmark scripts of benchmarks/ (throughput, time to quality) from the CLI."""

from __future__ import annotations

import argparse

from spritegan.commands import add_command

EXAMPLES = """  spritegan bench throughput                 # train/generate img/s vs the reference DCGAN (CPU)
  spritegan bench throughput --quick         # a smoke run in about a minute
  spritegan bench throughput --precision     # sprite fp32 vs bf16 vs channels_last, 1 and 2 threads
  spritegan bench throughput --device cuda   # adds bf16 + channels_last + torch.compile cases
  spritegan bench quality --minutes 6 --out docs/benchmarks.md
"""


def register(subparsers) -> None:
    p = add_command(subparsers, "bench", "Benchmark against a reference measured in the same run.", EXAMPLES)
    p.add_argument("which", choices=["throughput", "quality"], help="which benchmark")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--quick", action="store_true", help="a short smoke run (figures are not meaningful)")
    p.add_argument("--study", action="store_true", help="throughput: threads 1 vs 2 and channels_last")
    p.add_argument(
        "--precision", action="store_true", help="throughput: the sprite preset in fp32, bf16, channels_last"
    )
    p.add_argument("--minutes", type=float, default=6.0, help="quality: training budget per recipe")
    p.add_argument("--out", help="quality: markdown file to write the result section into")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spritegan.bench import load_benchmark

    if args.which == "throughput":
        argv = (
            ["--device", args.device]
            + (["--quick"] if args.quick else [])
            + (["--study"] if args.study else [])
            + (["--precision"] if args.precision else [])
        )
        return int(load_benchmark("train_throughput").main(argv))
    minutes = 0.2 if args.quick else args.minutes
    argv = ["--device", args.device, "--minutes", str(minutes)]
    if args.quick:
        argv += ["--samples", "50", "--reals", "50"]
    if args.out:
        argv += ["--out", args.out]
    return int(load_benchmark("time_to_quality").main(argv))
