"""One trained palette-head run sampled with several neighbour-agreement strengths (`--agree`): same seeds,
same weights, only the colour choice differs. Prints one markdown table of `spritegan eval`'s measures
(FID-N against all training images when asked, the pixel-art measures with their real floor, the exact
sprite or walker measures on the built-in data) and writes results.json.

usage: python benchmarks/palette_agreement.py runs/demo --agree 0,0.25,0.5,1 --metrics pixelart,sprites -n 1000
       python benchmarks/palette_agreement.py runs/punks --agree 0,0.5 --metrics fid,kid,pixelart -n 5000
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from spritegan.metrics.evaluate import evaluate_run

COLUMNS = {
    "fid": "FID",
    "kid_mean": "KID",
    "pixelart_stray": "stray-colour",
    "pixelart_isolated": "isolated",
    "sprite_readable_share": "readable",
    "sprite_mean_agreement": "agreement",
    "sprite_valid_share": "valid",
    "walker_frame_readable_share": "frames readable",
    "walker_readable_share": "characters readable",
    "walker_mean_agreement": "agreement",
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run folder trained with the palette head")
    p.add_argument("--agree", default="0,0.5,1", help="comma-separated strengths (0: per-pixel argmax)")
    p.add_argument("--metrics", default="pixelart", help="spritegan eval metrics, comma-separated")
    p.add_argument("-n", "--samples", type=int, default=1000, help="samples per strength (seeds 0..n-1)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--json", default=None, help="results file (default RUN/eval/palette_agreement.json)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    metrics = [m for m in args.metrics.split(",") if m]
    rows, floors = [], {}
    for strength in [float(s) for s in args.agree.split(",")]:
        result = evaluate_run(
            args.run, samples=args.samples, metrics=metrics, write=False, progress=False, agree=strength
        )
        floors.update(result.get("real_floor") or {})
        rows.append({"agree": strength, "seconds": result["seconds"], **result["metrics"]})
        print(f"agree {strength}: {result['seconds']:.0f} s", flush=True)
    out = Path(args.json) if args.json else Path(args.run) / "eval" / "palette_agreement.json"
    report(args.run, args.samples, rows, floors, ("agree", "agree"), out)


def report(run: str, samples: int, rows: list[dict], floors: dict, first: tuple[str, str], out: Path) -> None:
    """Print one markdown table, a row per setting (`first`: its key and column title) with the measures
    of COLUMNS that any row has and the real floor, and write the rows to `out` as JSON."""
    keys = [k for k in COLUMNS if any(k in r for r in rows)]
    key, title = first
    print(f"\n{run}, {samples} samples per setting (seeds 0-{samples - 1})\n")
    print(f"| {title} | " + " | ".join(COLUMNS[k] for k in keys) + " |")
    print("|---:|" + "---:|" * len(keys))
    for r in rows:
        cells = [f"{r[k]:.4f}" if isinstance(r.get(k), float) else str(r.get(k, "")) for k in keys]
        print(f"| {r[key]:g} | " + " | ".join(cells) + " |")
    if any(k in floors for k in keys):
        print("| real floor | " + " | ".join(f"{floors[k]:.4f}" if k in floors else "" for k in keys) + " |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"run": run, "samples": samples, "rows": rows, "floor": floors}, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
