"""What each preset's full recipe costs here: training images/s on its own data, times the recipe's images.

Each preset trains a few steps on the dataset its source system used (after 2 warm-up steps); the full
recipe's image count (epochs x data size, or steps x batch) divided by the measured rate gives the estimate.

usage: python benchmarks/preset_costs.py [--steps 5] [--threads 0]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time

DATA = "/work/shared/datasets"
CASES = {
    "sprite": (f"{DATA}/cryptopunks/punks.png", "24"),
    "cyberpunk-gan": (f"{DATA}/cryptopunks/punks.png", "24"),
    "pokegan": (f"{DATA}/pokemon/images", None),
    "pokegan-run3": (f"{DATA}/pokemon/images", None),
    "pokegan-mlp": (f"{DATA}/pokemon/images", None),
    "vgc-gan": (f"{DATA}/game-characters/images", None),
    "concept-gan": (f"{DATA}/game-characters/images", None),
    "stylegan": (f"{DATA}/cryptopunks/punks.png", "24"),
}


def main(argv: list[str] | None = None) -> int:

    from spritegan.bench import loadavg, machine
    from spritegan.config import build_config
    from spritegan.data.dataset import open_dataset
    from spritegan.train.loop import Trainer, fit_model_to_data, total_steps

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5, help="timed steps per preset")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    args = ap.parse_args(argv)
    print(machine(), f"load before: {loadavg()}")
    print("| preset | data | size | train img/s | full recipe (images) | estimated time here |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for preset, (source, tile) in CASES.items():
        cfg = build_config(preset, {"data.source": source, "data.tile": tile, "train.threads": args.threads})
        d = cfg.data
        ds = open_dataset(d.source, tile=d.tile, resize=d.resize, resample=d.resample)
        fit_model_to_data(cfg, ds, conditional=False)
        with tempfile.TemporaryDirectory() as tmp:
            trainer = Trainer(cfg, ds, tmp)
            for _ in range(2):
                trainer.train_step()
            t0 = time.perf_counter()
            for _ in range(args.steps):
                float(trainer.train_step()["loss_d"])
            rate = args.steps * cfg.train.batch_size / (time.perf_counter() - t0)
        images = total_steps(cfg, len(ds.images)) * cfg.train.batch_size
        hours = images / rate / 3600
        size = "x".join(map(str, cfg.model.image_size)) + f"x{cfg.model.channels}"
        name = source.split("/")[-2] if source.endswith(("images", "png")) else source
        when = f"{hours:.1f} h" if hours >= 1 else f"{math.ceil(hours * 60)} min"
        print(f"| `{preset}` | {name} | {size} | {rate:.0f} | {images:,} | {when} |", flush=True)
    print(f"load after: {loadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
