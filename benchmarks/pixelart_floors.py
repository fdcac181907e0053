"""Real-data floors of the pixel-art measures (and, with --run, the same measures on a model's samples).

For each dataset the measures of `spritegan.metrics.pixelart` are computed on all of its images, against
the dataset's own palette and alpha levels: what a perfect model would score. With --run, N samples of a
trained run (seeds 0..N-1, as `spritegan eval` draws them) are measured against that run's training data,
as generated and snapped to the palette (`generate --palette`).
Prints a markdown table with the time each row took on this machine.

    python benchmarks/pixelart_floors.py                        # builtin:sprites and the CryptoPunks sheet
    python benchmarks/pixelart_floors.py --all                  # + Pokemon (64x64 area) and game characters
    python benchmarks/pixelart_floors.py --run runs/demo -n 5000 --no-datasets
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

COLUMNS = (
    ("pixelart_off_palette", "off-palette"),
    ("pixelart_isolated", "isolated"),
    ("pixelart_stray", "stray-colour"),
    ("pixelart_alpha_levels", "alpha levels"),
    ("pixelart_off_alpha", "off-level alpha"),
    ("pixelart_visible_share", "visible"),
)


def datasets(root: Path, everything: bool) -> list[tuple[str, str, dict]]:
    """(name, source spec, open_dataset options) for the sets to measure."""
    sets = [
        ("builtin:sprites", "builtin:sprites", {}),
        ("cryptopunks (punks.png, tile 24)", str(root / "cryptopunks" / "punks.png"), {"tile": "24"}),
    ]
    if everything:
        sets += [
            (
                "pokemon (resized to 64, area)",
                str(root / "pokemon" / "images"),
                {"resize": "64", "resample": "area"},
            ),
            ("game-characters (80x80 RGB)", str(root / "game-characters" / "images"), {}),
        ]
    return sets


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def row(name: str, images, palette, alpha_levels, seconds_from: float) -> str:
    from spritegan.metrics.pixelart import pixelart_metrics

    m = pixelart_metrics(images, palette, alpha_levels)
    n, c, h, w = images.shape
    colours = "> 256" if palette is None else str(len(palette))
    cells = [name, f"{n:,}", f"{w}x{h}x{c}", colours, *(_cell(m.get(key)) for key, _ in COLUMNS)]
    cells.append(f"{time.perf_counter() - seconds_from:.1f}")
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--root", default=None, help="datasets folder (default ../shared/datasets, /work/shared/datasets)"
    )
    parser.add_argument(
        "--all", action="store_true", help="also Pokemon and the game characters (painted art)"
    )
    parser.add_argument("--no-datasets", action="store_true", help="measure only --run")
    parser.add_argument(
        "--run", action="append", default=[], help="a run folder to sample and measure (repeatable)"
    )
    parser.add_argument("-n", type=int, default=5000, help="samples per run (default 5000)")
    args = parser.parse_args()

    import torch

    from spritegan.data.dataset import open_dataset
    from spritegan.metrics.evaluate import training_data_options
    from spritegan.metrics.pixelart import palette_of

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    here = Path(__file__).resolve().parents[1]
    candidates = [args.root] if args.root else [here.parent / "shared" / "datasets", "/work/shared/datasets"]
    root = next((Path(c) for c in candidates if Path(c).is_dir()), Path(candidates[0]))
    names = ["data", "images", "size", "palette colours", *(label for _, label in COLUMNS), "seconds"]
    print(
        f"pixel-art measures, {platform.node()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
    )
    print()
    print("| " + " | ".join(names) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(names) - 1)) + "|")
    if not args.no_datasets:
        for name, spec, options in datasets(root, args.all):
            t0 = time.perf_counter()
            try:
                ds = open_dataset(spec, **options)
            except Exception as exc:  # a missing dataset is a row, not a crash
                print(f"| {name} | not measured: {type(exc).__name__}: {exc} |")
                continue
            manifest = ds.manifest
            print(row(name, ds.images, manifest.get("palette"), manifest.get("alpha_levels"), t0), flush=True)
    for run in args.run:
        from spritegan.generate.pipeline import SpritePipeline

        t0 = time.perf_counter()
        pipe = SpritePipeline.from_run(run)
        manifest = dict(pipe.manifest or {})
        real = open_dataset(manifest["source"], **training_data_options(manifest)).images
        palette = manifest.get("palette", palette_of(real))
        levels = manifest.get("alpha_levels")
        fake = pipe(n=args.n, seed=0)
        print(row(f"{run} ({args.n} samples)", fake, palette, levels, t0), flush=True)
        if palette is not None:
            t0 = time.perf_counter()
            snapped = pipe(n=args.n, seed=0, palette=True)
            print(row(f"{run} ({args.n} samples, palette-snapped)", snapped, palette, levels, t0), flush=True)
        t0 = time.perf_counter()
        print(row(f"{run}: its training data", real, palette, levels, t0), flush=True)
    print()
    print(
        "Shares are of visible pixels (alpha > 0), alpha shares of all pixels; definitions in docs/evaluation.md."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
