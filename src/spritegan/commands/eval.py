"""`spritegan eval`: FID-5k, KID and pixel-art measures (plus PRDC, novelty, PPL, sprite checks on request)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from spritegan.commands import add_command, add_sampling_arguments, sampling_overrides
from spritegan.errors import SpriteganError

EXAMPLES = """  spritegan eval runs/punks                    # FID-5k, KID, pixel-art measures vs all training images
  spritegan eval runs/punks --samples 500      # FID-500: a cheap in-training signal, not comparable
  spritegan eval runs/punks --metrics fid,kid,prdc,novelty,ppl --json out/punks_eval.json
  spritegan eval runs/sprites --metrics pixelart,sprites                    # no Inception needed
  spritegan eval runs/sprites-cond --traits none --metrics pixelart   # a conditional run's unconditional slot
  spritegan eval runs/sprites-cond --traits new --metrics sprites     # trait sets no training sprite has
  spritegan eval --fake out/generated --real my_sprites/
  spritegan eval --fake sheet.png --fake-tile 24 --real my_sheet.png --tile 24
"""


def register(subparsers) -> None:
    from spritegan.metrics import registry as metric_table

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
        "--samples",
        type=int,
        default=5000,
        help="images to generate from the run (default 5000: FID-5k, the standard protocol; "
        "fewer give FID-N, e.g. FID-500, only an in-training signal)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="first sampling seed; also seeds KID subsets and PPL"
    )
    parser.add_argument(
        "--metrics",
        help=f"comma-separated subset of {','.join(metric_table.NAMES)} "
        f"(default: {','.join(metric_table.DEFAULT)}, plus sprites for a run on builtin:sprites)",
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
    add_sampling_arguments(parser)
    parser.add_argument(
        "--traits",
        help="conditional runs: sample as `generate --traits` does (default: each seed's traits drawn from "
        "the training labels, as generate without --traits; 'none': the unconditional slot; 'new': trait sets "
        "no training image has)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bars or status lines on stderr"
    )
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


LABELS = {
    "pixelart_off_palette": "off-palette pixels",
    "pixelart_isolated": "isolated pixels",
    "pixelart_stray": "stray-colour pixels",
    "pixelart_alpha_levels": "alpha levels used",
    "pixelart_off_alpha": "off-level alpha",
    "pixelart_visible_share": "visible pixels",
    "pixelart_missing_colours": "palette colours missing (< 1/4 of real share)",
    "pixelart_colour_tv": "colour histogram distance (TV)",
}


def _text(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def format_table(result: dict) -> str:
    """Text table: the protocol line, each metric with its real-data floor where there is one, and times."""
    n_fake, n_real = result["n_fake"], result["n_real"]
    lines = []
    if "fid_label" in result:
        kind = (
            "standard protocol"
            if result.get("standard_protocol")
            else "in-training signal only: FID-5k is the standard"
        )
        lines.append(f"{result['fid_label']} ({kind}): {n_fake:,} generated vs {n_real:,} real images")
    floors = result.get("real_floor") or {}
    rows = [("metric", "generated", "real floor" if floors else "")]
    rows += [("generated images", str(n_fake), ""), ("real images", str(n_real), "")]
    for key, value in result["metrics"].items():
        name, text = LABELS.get(key, key), _text(value)
        if key == "fid":
            name = result.get("fid_label", "fid")
        if key == "kid_mean":
            name, text = "KID", f"{value:.5f} +- {result['metrics']['kid_std']:.5f}"
        if key != "kid_std":
            rows.append((name, text, _text(floors[key]) if key in floors else ""))
    if result.get("colour_coverage_snapped"):
        rows.append(
            ("colour coverage read from", "the samples snapped to the palette (off-palette output)", "")
        )
    for item in result.get("missing_colours", []):
        share = f"{item['generated_share']:.3%} (real {item['real_share']:.3%})"
        rows.append((f"  missing {item['colour']}", share, ""))
    if "palette_agree" in result:
        rows.append(("palette neighbour agreement", _text(result["palette_agree"]), ""))
    if "conditioning" in result:
        rows.append(("conditioning", result["conditioning"], ""))
    if result.get("palette_despeckle"):
        rows.append(("palette specks removed (pixels)", _text(result["palette_despeckle"]), ""))
    if result.get("palette_max_colours"):
        rows.append(("palette colours per sprite, at most", _text(result["palette_max_colours"]), ""))
    if result.get("palette_refine_passes"):
        rows.append(("palette refiner rounds", _text(result["palette_refine_passes"]), ""))
    if result.get("best_of"):
        by = {"reader": "the sheet reader", "refiner": "the refiner's edits"}[
            result.get("best_of_rank", "refiner")
        ]
        rows.append((f"best of latents per seed (by {by})", _text(result["best_of"]), ""))
    if "extractor" in result:
        rows.append(("extractor", result["extractor"], ""))
    if "engine" in result:
        rows.append(("Inception engine", result["engine"], ""))
    if "real_cache" in result:
        rows.append(("real features", f"cache {result['real_cache']}", ""))
    parts = ", ".join(f"{k} {v:.1f}" for k, v in result["timings_s"].items())
    seconds = result.get("seconds")
    rows.append(("time (s)", f"{seconds:.1f} in all: {parts}" if seconds is not None else parts, ""))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows if r[2]) if any(r[2] for r in rows) else 0
    lines += [
        f"{a.ljust(w0)}  {b.ljust(w1)}  {c}".rstrip() if c else f"{a.ljust(w0)}  {b}" for a, b, c in rows
    ]
    return "\n".join(lines)


def run_eval(args: argparse.Namespace) -> int:
    import torch

    from spritegan.metrics.evaluate import DEFAULT_METRICS, evaluate, evaluate_run

    torch.set_num_threads(max(1, torch.get_num_threads()))
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    from spritegan.commands import check_output_file

    for option, value, low in (
        ("--samples", args.samples, 2),
        ("--batch-size", args.batch_size, 1),
        ("--ppl-samples", args.ppl_samples, 1),
        ("--kid-subset-size", args.kid_subset_size, 2),
    ):
        if value is not None and value < low:
            raise SpriteganError(f"{option} {value}: must be at least {low}")
    if args.json_out:  # checked before minutes of sampling, not after
        check_output_file(args.json_out, "--json")
    if args.pairs:
        check_output_file(args.pairs, "--pairs")
    if args.fake:
        if args.run:
            raise SpriteganError("give either a RUN folder or --fake DIR_OR_SHEET, not both")
        if not args.real:
            raise SpriteganError("--fake needs --real DATA to compare against")
        wanted = metrics or list(DEFAULT_METRICS)
        progress = not args.no_progress
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
            progress=progress,
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
            progress=not args.no_progress,
            **sampling_overrides(args),
            traits=args.traits,
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
