"""`spritegan eval`: FID, KID, PRDC, novelty (and PPL for a run) with the offline Inception extractor."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from spritegan.commands import add_command
from spritegan.errors import SpriteganError

EXAMPLES = """  spritegan eval runs/punks                                  # 5,000 samples vs the run's training data
  spritegan eval runs/punks --samples 1000 --metrics fid,kid,novelty --json out/punks_eval.json
  spritegan eval --fake out/punks --real ../shared/datasets/cryptopunks/images
  spritegan eval --fake sheet.png --fake-tile 24 --real ../shared/datasets/cryptopunks/punks.png --tile 24
"""


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "eval", "Measure generated images against real ones (FID, KID, PRDC, ...).", EXAMPLES
    )
    parser.add_argument("run", nargs="?", help="run folder to sample from (omit when using --fake)")
    parser.add_argument(
        "--fake", help="folder of generated images or a sprite sheet (compares two image sets)"
    )
    parser.add_argument("--fake-tile", help="tile size when --fake is a sprite sheet, e.g. 24 or 24x32")
    parser.add_argument(
        "--real", help="real data: folder, sprite sheet or builtin:sprites (default: the run's data)"
    )
    parser.add_argument("--tile", help="tile size when --real is a sprite sheet")
    parser.add_argument(
        "--samples", type=int, default=5000, help="images to generate from the run (default 5000)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="first sampling seed; also seeds KID subsets and PPL"
    )
    parser.add_argument(
        "--metrics",
        help="comma-separated subset of fid,kid,prdc,novelty,ppl,sprites "
        "(default: fid,kid,prdc,novelty, plus ppl and sprites for a run)",
    )
    parser.add_argument(
        "--kid-subset-size", type=int, help="images per KID subset (default min(1000, counts))"
    )
    parser.add_argument("--ppl-samples", type=int, default=200, help="latent pairs for PPL (default 200)")
    parser.add_argument("--batch-size", type=int, default=32, help="Inception batch size (default 32)")
    parser.add_argument(
        "--cache-dir", help="real-feature cache (default $SPRITEGAN_CACHE or ~/.cache/spritegan/features)"
    )
    parser.add_argument("--pairs", help="write a PNG of the closest generated/real pairs here (--fake mode)")
    parser.add_argument("--json", dest="json_out", help="also write the result as JSON to this file")
    parser.set_defaults(func=run_eval)


def load_images(spec: str, tile: str | None = None):
    """uint8 torch (N, C, H, W) from a folder, a sprite sheet (with tile) or builtin:sprites."""
    try:
        from spritegan.data.dataset import open_dataset
    except ImportError:
        import torch

        from spritegan.data.sources import load_source

        src = load_source(spec, tile=tile)
        array = src.images if src.images.ndim == 4 else src.images[..., None]
        return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()
    return open_dataset(spec, tile=tile).images


def format_table(result: dict) -> str:
    """Two-column text table of the metrics, counts and timings."""
    rows = [("generated images", str(result["n_fake"])), ("real images", str(result["n_real"]))]
    for key, value in result["metrics"].items():
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        if key == "kid_mean":
            text = f"{value:.5f} +- {result['metrics']['kid_std']:.5f}"
        if key != "kid_std":
            rows.append((key, text))
    if "extractor" in result:
        rows.append(("extractor", result["extractor"]))
    rows.append(("time (s)", ", ".join(f"{k} {v:.1f}" for k, v in result["timings_s"].items())))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def run_eval(args: argparse.Namespace) -> int:
    import torch

    from spritegan.metrics.evaluate import DEFAULT_METRICS, evaluate, evaluate_run

    torch.set_num_threads(max(1, torch.get_num_threads()))
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    if args.fake:
        if args.run:
            raise SpriteganError("give either a RUN folder or --fake DIR_OR_SHEET, not both")
        if not args.real:
            raise SpriteganError("--fake needs --real DATA to compare against")
        wanted = metrics or list(DEFAULT_METRICS)
        if "ppl" in wanted:
            raise SpriteganError("ppl needs a generator: pass a RUN folder instead of --fake")
        result = evaluate(
            load_images(args.fake, args.fake_tile),
            load_images(args.real, args.tile),
            metrics=wanted,
            seed=args.seed,
            batch_size=args.batch_size,
            cache_dir=args.cache_dir,
            kid_subset_size=args.kid_subset_size,
            pairs_png=args.pairs,
        )
        result.update(fake=args.fake, real=args.real)
    elif args.run:
        result = evaluate_run(
            args.run,
            args.real,
            samples=args.samples,
            seed=args.seed,
            metrics=metrics,
            batch_size=args.batch_size,
            cache_dir=args.cache_dir,
            ppl_samples=args.ppl_samples,
            kid_subset_size=args.kid_subset_size,
        )
    else:
        raise SpriteganError("give a RUN folder, or --fake DIR_OR_SHEET --real DATA")
    print(format_table(result))
    if args.json_out:
        path = Path(args.json_out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0
