"""One trained palette-head run sampled with several speck sizes (model.palette_despeckle), each with the
positions where the run's training data has parts that small (model.palette_speck_sites), as a run trained
today gets them: same weights, same seeds, only the speck removal differs. Works on runs trained before
speck removal existed (it writes a copy of the generator file with the two settings into a temporary
folder). Prints one markdown table of `spritegan eval`'s measures and writes results.json.

usage: python benchmarks/speck_removal.py runs/punks --sizes 0,8 --metrics fid,kid,pixelart -n 5000
       python benchmarks/speck_removal.py runs/demo --sizes 0,2,8 --metrics pixelart,sprites -n 1000
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from palette_agreement import report  # this folder's table of eval measures
from spritegan.config import ModelConfig
from spritegan.data.dataset import open_dataset
from spritegan.metrics.evaluate import evaluate_run, training_data_options
from spritegan.models import build_generator
from spritegan.models.despeckle import data_speck_sites
from spritegan.storage import load_generator_file, resolve_generator_path, save_generator


def with_speck_removal(run: str, size: int, folder: Path) -> tuple[Path, int]:
    """A copy of the run's generator file in `folder` that removes specks of at most `size` pixels except at
    the data's own sites; returns the folder and the number of sites."""
    weights, meta = load_generator_file(resolve_generator_path(run))
    images = open_dataset(meta["manifest"]["source"], **training_data_options(meta["manifest"])).images
    sites = data_speck_sites(images, size) if size and images.shape[1] in (2, 4) else []
    config = {**meta["model_config"], "palette_despeckle": size, "palette_speck_sites": sites}
    generator = build_generator(ModelConfig(**config))
    generator.load_state_dict(weights)
    save_generator(folder / "generator.safetensors", generator, {**meta, "model_config": config})
    return folder, len(sites)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run folder trained with the palette head")
    p.add_argument("--sizes", default="0,8", help="comma-separated speck sizes in pixels (0: keep specks)")
    p.add_argument("--metrics", default="pixelart", help="spritegan eval metrics, comma-separated")
    p.add_argument("-n", "--samples", type=int, default=1000, help="samples per size (seeds 0..n-1)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--json", default=None, help="results file (default RUN/eval/speck_removal.json)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    metrics = [m for m in args.metrics.split(",") if m]
    rows, floors = [], {}
    for size in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            folder, n_sites = with_speck_removal(args.run, size, Path(tmp))
            result = evaluate_run(folder, samples=args.samples, metrics=metrics, write=False, progress=False)
        floors.update(result.get("real_floor") or {})
        rows.append({"size": size, "sites": n_sites, "seconds": result["seconds"], **result["metrics"]})
        print(f"speck size {size} ({n_sites} sites): {result['seconds']:.0f} s", flush=True)
    out = Path(args.json) if args.json else Path(args.run) / "eval" / "speck_removal.json"
    report(args.run, args.samples, rows, floors, ("size", "speck size"), out)


if __name__ == "__main__":
    main()
