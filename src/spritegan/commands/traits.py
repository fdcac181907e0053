"""`spritegan traits`: list a run's traits, train a trait judge, and measure how well conditioning works."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from spritegan.commands import add_command

EXAMPLES = """  spritegan traits list runs/punks-cond
  spritegan traits judge --data ../shared/datasets/cryptopunks/punks.png --tile 24 \\
      --labels ../shared/datasets/cryptopunks/labels.csv --out judges/punks.safetensors
  spritegan traits eval runs/punks-cond --judge judges/punks.safetensors -n 200 --out out/punks-traits
  spritegan traits eval runs/sprites-cond --judge exact -n 200     # built-in sprites: read exactly
  spritegan traits fid runs/punks-cond -n 500 --real-n 500     # Inception on CPU: ~2.6 images/s
  spritegan traits sheet runs/punks-cond --column type -n 8 --scale 3 --out punk-types.png
"""


def register(subparsers) -> None:
    from spritegan.commands.train import add_data_arguments
    from spritegan.data.procedural import MIN_AGREEMENT

    p = add_command(
        subparsers, "traits", "Trait tools: list, judge (classifier), eval (conditioning).", EXAMPLES
    )
    sub = p.add_subparsers(dest="traits_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="the traits a conditional run knows, with training counts")
    ls.add_argument("run", help="run folder or generator.safetensors")
    ls.set_defaults(func=run_list)
    jd = sub.add_parser("judge", help="train a trait classifier on real labelled data")
    add_data_arguments(jd)
    jd.add_argument("--out", required=True, help="judge file to write (.safetensors)")
    jd.add_argument("--steps", type=int, default=800, help="training steps (default 800)")
    jd.add_argument("--batch-size", type=int, default=64)
    jd.add_argument("--holdout", type=float, default=0.2, help="share of images held out for accuracy")
    jd.add_argument("--seed", type=int, default=0)
    jd.set_defaults(func=run_judge)
    ev = sub.add_parser("eval", help="generate n samples per trait and report the judge's rate of it")
    ev.add_argument("run", help="run folder or generator.safetensors")
    ev.add_argument("--judge", default="exact", help="judge file, or 'exact' for the built-in sprites")
    ev.add_argument("-n", type=int, default=200, help="samples per asked trait")
    ev.add_argument("--top-binary", type=int, default=20, help="evaluate the k most common binary traits")
    ev.add_argument("--truncation", type=float, default=1.0)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--palette", action="store_true", help="snap samples to the dataset palette first")
    ev.add_argument(
        "--min-agreement",
        type=float,
        default=MIN_AGREEMENT,
        help=f"exact judge: share of pixels that must match the nearest valid sprite (default {MIN_AGREEMENT}; "
        "1.0: pixel-perfect only)",
    )
    ev.add_argument("--out", help="folder for traits.json and traits.md (default: RUN/traits-eval)")
    ev.set_defaults(func=run_eval)
    sh = sub.add_parser("sheet", help="a sheet with one row per class of a categorical column (or per trait)")
    sh.add_argument("run", help="run folder or generator.safetensors")
    sh.add_argument("--column", help="categorical column: one row per class (default: the first one)")
    sh.add_argument("--rows", help="instead of --column: ';'-separated trait sets, one row each")
    sh.add_argument("-n", type=int, default=8, help="sprites per row")
    sh.add_argument("--seed", type=int, default=0)
    sh.add_argument("--scale", type=int, default=2, help="nearest-neighbour upscale")
    sh.add_argument("--out", required=True, help="PNG to write")
    sh.set_defaults(func=run_sheet)
    fd = sub.add_parser(
        "fid", help="FID of n samples (random trait sets if conditional) vs the training data"
    )
    fd.add_argument("run", help="run folder")
    fd.add_argument("-n", type=int, default=1000, help="generated samples (Inception on CPU is slow)")
    fd.add_argument("--real-n", type=int, help="compare with a fixed random subset of this many real images")
    fd.add_argument("--seed", type=int, default=0)
    fd.add_argument("--json", dest="json_out", help="also write the result here")
    fd.set_defaults(func=run_fid)
    ds = sub.add_parser("is", help="domain Inception Score: the judge's class spread over generated samples")
    ds.add_argument("run", help="run folder, or --real to score real images instead")
    ds.add_argument("--judge", required=True, help="judge file from `spritegan traits judge`")
    ds.add_argument("--column", default="type", help="categorical label column (default: type)")
    ds.add_argument("-n", type=int, default=1000, help="generated samples (seeds 0..n-1)")
    ds.add_argument("--real", action="store_true", help="score the run's training images (the reference)")
    ds.set_defaults(func=run_domain_is)


def _pipeline(path: str):
    from spritegan.errors import SpriteganError
    from spritegan.generate.pipeline import SpritePipeline

    pipe = SpritePipeline.from_run(path)
    if not pipe.label_spec:
        raise SpriteganError(f"{path}: this model is unconditional (train with --conditional to use traits)")
    return pipe


def run_list(args: argparse.Namespace) -> int:
    from spritegan.generate.traits import load_label_table
    from spritegan.labels import label_layout

    pipe = _pipeline(args.run)
    table = load_label_table(args.run, pipe.meta)
    freq = table.frequencies() if table is not None else None
    for col in label_layout(pipe.label_spec):
        for j, cls in enumerate(col.classes):
            name = f"{col.name}={cls}" if col.kind == "categorical" else col.name
            count = f"{int(freq[col.offset + j]):>7d}" if freq is not None else "      ?"
            print(f"{count}  {name}")
    if table is not None:
        print(f"{len(table.rows)} distinct trait combinations in {sum(table.counts)} training images")
    return 0


def run_judge(args: argparse.Namespace) -> int:
    from spritegan.data.dataset import open_dataset
    from spritegan.metrics.judge import save_judge, train_judge

    cols = [c.strip() for c in args.label_columns.split(",")] if args.label_columns else None
    ds = open_dataset(
        args.data or "builtin:sprites",
        tile=args.tile,
        resize=args.resize,
        resample=args.resample or "nearest",
        pad_to=args.pad_to,
        labels_csv=args.labels,
        label_columns=cols,
    )
    t0 = time.perf_counter()
    judge, report = train_judge(
        ds, steps=args.steps, batch_size=args.batch_size, holdout=args.holdout, seed=args.seed, log=print
    )
    report["seconds"] = round(time.perf_counter() - t0, 1)
    report["data"] = {"source": ds.manifest["source"], "sha256": ds.manifest["sha256"]}
    save_judge(args.out, judge, report)
    print(_judge_table(report))
    print(f"judge trained in {report['seconds']}s on {report['n_train']} images; wrote {args.out}")
    return 0


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _judge_table(report: dict) -> str:
    lines = ["| trait | held-out n | recall | accuracy |", "|---|---:|---:|---:|"]
    for name, r in report["traits"].items():
        lines.append(f"| {name} | {r['n']} | {_pct(r['recall'])} | {_pct(r.get('accuracy'))} |")
    lines.append(f"\nexact match of all traits on held-out images: {_pct(report.get('exact_match'))}")
    return "\n".join(lines)


def run_eval(args: argparse.Namespace) -> int:
    import torch

    from spritegan.errors import SpriteganError
    from spritegan.generate.traits import complete_traits, load_label_table, random_traits
    from spritegan.labels import label_layout
    from spritegan.metrics.judge import ExactJudge, load_judge

    t0 = time.perf_counter()
    pipe = _pipeline(args.run)
    spec = pipe.label_spec
    if args.judge == "exact":
        if not str(pipe.manifest.get("source", "")).startswith("builtin:sprites"):
            raise SpriteganError("--judge exact only reads the built-in sprites; give a judge file")
        try:
            judge, held = ExactJudge(spec, args.min_agreement), None
        except ValueError as exc:
            raise SpriteganError(f"--min-agreement: {exc}") from exc
    else:
        judge, held = load_judge(args.judge)
        if judge.spec != spec:
            raise SpriteganError(f"{args.judge}: judge was trained on other labels than {args.run}")
    table = load_label_table(args.run, pipe.meta)
    if table is None:
        raise SpriteganError(f"{args.run}: cannot find the training labels (no config.yaml or label table)")
    freq = table.frequencies()
    asked: list[tuple[str, int]] = []
    binary = []
    for col in label_layout(spec):
        if col.kind == "categorical":
            asked += [(f"{col.name}={c}", col.offset + j) for j, c in enumerate(col.classes)]
        else:
            binary.append((col.name, col.offset))
    binary.sort(key=lambda b: -float(freq[b[1]]))
    asked += binary[: args.top_binary]
    gen = torch.Generator().manual_seed(args.seed)
    rows = []
    exact_hits = 0
    agreements: list[float] = []
    for k, (name, index) in enumerate(asked):
        want = torch.zeros(table.dim)
        want[index] = 1.0
        labels = complete_traits(want, args.n, spec, table, gen)
        seeds = range(args.seed + k * args.n, args.seed + (k + 1) * args.n)
        pred = judge.score(pipe(seeds, labels=labels, truncation=args.truncation, palette=args.palette))
        agreements += getattr(judge, "agreements", [])
        rate = float((pred[:, index] > 0.5).float().mean())
        all_match = float((pred == labels).all(1).float().mean())
        exact_hits += all_match * args.n
        real = (held or {}).get("traits", {}).get(name, {})
        rows.append(
            {
                "trait": name,
                "train_count": int(freq[index]),
                "rate": rate,
                "all_traits_rate": all_match,
                "judge_recall": real.get("recall") if held else None,
                "judge_heldout_n": real.get("n") if held else None,
            }
        )
        print(f"{name:32s} asked {args.n}: judged {_pct(rate)} (all traits {_pct(all_match)})")
    mean_rate = sum(r["rate"] for r in rows) / len(rows)
    wanted = random_traits(args.n, table, gen)
    seeds = range(10**6, 10**6 + args.n)
    got = judge.score(pipe(seeds, labels=wanted, truncation=args.truncation, palette=args.palette))
    hit = (got == wanted).all(1)
    combos = {tuple(r.nonzero().flatten().tolist()) for r in wanted}
    made = {tuple(r.nonzero().flatten().tolist()) for r, ok in zip(wanted, hit, strict=True) if ok}
    random_check = {
        "n": args.n,
        "all_traits_rate": float(hit.float().mean()),
        "per_trait_rate": float(((got > 0.5) & (wanted > 0.5)).sum() / wanted.sum()),
        "distinct_combinations_asked": len(combos),
        "distinct_combinations_made": len(made),
        "coverage": len(made) / max(1, len(combos)),
    }
    print(f"random trait sets from the data: {json.dumps(random_check)}")
    recalls = [r["judge_recall"] for r in rows if r["judge_recall"] is not None]
    result = {
        "run": str(args.run),
        "step": pipe.meta.get("step"),
        "judge": args.judge,
        "n_per_trait": args.n,
        "truncation": args.truncation,
        "palette": args.palette,
        "mean_rate": mean_rate,
        "mean_judge_recall": sum(recalls) / len(recalls) if recalls else None,
        "all_traits_rate": exact_hits / (args.n * len(rows)),
        "seconds": round(time.perf_counter() - t0, 1),
        "random_trait_sets": random_check,
        "traits": rows,
    }
    if agreements:
        result["pixels"] = {
            "min_agreement": args.min_agreement,
            "mean_agreement": sum(agreements) / len(agreements),
            "readable_share": sum(a >= args.min_agreement for a in agreements) / len(agreements),
            "pixel_perfect_share": sum(a == 1.0 for a in agreements) / len(agreements),
        }
        print(f"pixel agreement with the nearest valid sprite: {json.dumps(result['pixels'])}")
    out = Path(args.out or Path(args.run) / "traits-eval")
    out.mkdir(parents=True, exist_ok=True)
    (out / "traits.json").write_text(json.dumps(result, indent=1))
    (out / "traits.md").write_text(eval_markdown(result))
    print(
        f"mean conditioned-trait rate {_pct(mean_rate)}; judge recall on real {_pct(result['mean_judge_recall'])}"
    )
    print(f"wrote {out / 'traits.json'} and {out / 'traits.md'} in {result['seconds']}s")
    return 0


def eval_markdown(result: dict) -> str:
    """The eval result as a markdown table."""
    lines = [
        "| asked trait | training images | judged rate in samples | all asked traits | judge recall on real |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["traits"]:
        real = (
            "exact" if result["judge"] == "exact" else f"{_pct(r['judge_recall'])} (n={r['judge_heldout_n']})"
        )
        lines.append(
            f"| {r['trait']} | {r['train_count']} | {_pct(r['rate'])} | {_pct(r['all_traits_rate'])} | {real} |"
        )
    lines.append(
        f"\nmean judged rate {_pct(result['mean_rate'])}, mean judge recall on real held-out "
        f"{_pct(result['mean_judge_recall'])}; {result['n_per_trait']} samples per trait, step {result['step']}"
    )
    rc = result["random_trait_sets"]
    lines.append(
        f"\n{rc['n']} samples asking for whole trait sets drawn from the training data: all traits right in "
        f"{_pct(rc['all_traits_rate'])}, single traits right in {_pct(rc['per_trait_rate'])}; "
        f"{rc['distinct_combinations_made']} of {rc['distinct_combinations_asked']} distinct combinations made "
        f"(coverage {_pct(rc['coverage'])})"
    )
    px = result.get("pixels")
    if px:
        lines.append(
            f"\nexact reading: a sample counts when >= {_pct(px['min_agreement'])} of its pixels match the nearest "
            f"valid sprite; readable {_pct(px['readable_share'])}, pixel-perfect {_pct(px['pixel_perfect_share'])}, "
            f"mean pixel agreement {_pct(px['mean_agreement'])}"
        )
    return "\n".join(lines) + "\n"


def run_fid(args: argparse.Namespace) -> int:
    import torch

    from spritegan.data.dataset import open_dataset
    from spritegan.errors import SpriteganError
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.generate.traits import load_label_table, random_traits
    from spritegan.metrics.evaluate import evaluate, training_data_options

    t0 = time.perf_counter()
    pipe = SpritePipeline.from_run(args.run)
    labels = None
    if pipe.label_spec:
        table = load_label_table(args.run, pipe.meta)
        if table is None:
            raise SpriteganError(f"{args.run}: cannot find the training labels to sample trait sets")
        labels = random_traits(args.n, table, torch.Generator().manual_seed(args.seed))
    real = open_dataset(pipe.manifest["source"], **training_data_options(pipe.manifest)).images
    if args.real_n and args.real_n < len(real):
        real = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(1234))[: args.real_n]]
    fake = pipe(range(args.seed, args.seed + args.n), labels=labels)
    result = evaluate(fake, real, metrics=("fid",), seed=args.seed)
    record = {
        "run": str(args.run),
        "step": pipe.meta.get("step"),
        "conditional": labels is not None,
        "n_fake": args.n,
        "n_real": len(real),
        "fid": result["metrics"]["fid"],
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(record))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(record, indent=1))
    return 0


def run_domain_is(args: argparse.Namespace) -> int:
    from spritegan.data.dataset import open_dataset
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.metrics.domain_is import domain_inception_score
    from spritegan.metrics.evaluate import training_data_options
    from spritegan.metrics.judge import load_judge

    judge, report = load_judge(args.judge)
    pipe = SpritePipeline.from_run(args.run)
    if args.real:
        images = open_dataset(pipe.manifest["source"], **training_data_options(pipe.manifest)).images
    else:
        images = pipe(n=args.n, seed=0)
    result = domain_inception_score(judge, report, images, args.column)
    result["scored"] = "training images" if args.real else f"{args.n} generated samples of {args.run}"
    print(json.dumps(result, indent=1))
    return 0


def run_sheet(args: argparse.Namespace) -> int:
    import torch

    from spritegan.errors import SpriteganError
    from spritegan.generate.sheet import make_sheet, save_png
    from spritegan.generate.traits import complete_traits, load_label_table, parse_traits
    from spritegan.labels import label_layout

    pipe = _pipeline(args.run)
    spec = pipe.label_spec
    if args.rows:
        asks = [r.strip() for r in args.rows.split(";") if r.strip()]
    else:
        cats = [c for c in label_layout(spec) if c.kind == "categorical"]
        col = next((c for c in cats if args.column is None or c.name == args.column), None)
        if col is None:
            raise SpriteganError(
                f"--column {args.column!r}: categorical columns are {[c.name for c in cats]}"
            )
        asks = [f"{col.name}={c}" for c in col.classes]
    table = load_label_table(args.run, pipe.meta)
    gen = torch.Generator().manual_seed(args.seed)
    images = []
    for k, ask in enumerate(asks):
        labels = complete_traits(parse_traits(ask, spec), args.n, spec, table, gen)
        images.append(pipe(range(args.seed + k * args.n, args.seed + (k + 1) * args.n), labels=labels))
        print(f"row {k + 1}: {ask}")
    save_png(
        make_sheet(torch.cat(images), ncol=args.n, scale=args.scale, background="checker"), Path(args.out)
    )
    print(f"wrote {args.out}")
    return 0
