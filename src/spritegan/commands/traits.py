"""`spritegan traits`: list a run's traits, train a trait judge, and measure how well conditioning works."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from spritegan.commands import add_command, add_sampling_arguments, sampling_overrides

EXAMPLES = """  spritegan traits list runs/punks-cond
  spritegan traits judge --data my_sheet.png --tile 24 \\
      --labels my_labels.csv --out judges/mine.safetensors
  spritegan traits eval runs/punks-cond --judge judges/punks.safetensors -n 200 --out out/punks-traits
  spritegan traits eval runs/sprites-cond --judge exact -n 200     # built-in sprites: read exactly
  spritegan traits fid runs/punks-cond -n 500 --real-n 500     # Inception on CPU: ~2.6 images/s
  spritegan traits sheet runs/punks-cond --column type -n 8 --scale 3 --out punk-types.png
  spritegan traits shares runs/punks --judge judges/punks.safetensors -n 10000 --threads 1
  spritegan traits shares runs/demo --judge exact -n 1000      # built-in sprites: read exactly
"""

SHARES_DESCRIPTION = """Unconditional diversity, read by a trait judge.

Generates n sprites, lets the judge read them and the run's training images, and compares each trait's
share: every trait in >= 0.5% of real images must appear within 2x of its real share (either way), and
the mean number of binary traits (accessories) per image must be within 10% of the real mean. The
near-copy share (samples within MAD 4 of their nearest training image, as `eval --metrics novelty`)
is printed beside it. The JSON holds every trait, with the judge's held-out recall on real images.
On the built-in sprites `--judge exact` reads each sample as its nearest valid sprite when at least 85%
of its pixels agree with it (as `traits eval --judge exact`); shares are over the samples it reads.
"""

SHARES_EXAMPLES = """examples:
  spritegan traits judge --data punks.png --tile 24 --labels labels.csv --steps 3000 \\
      --out judges/punks.safetensors
  spritegan traits shares runs/punks --judge judges/punks.safetensors -n 10000 --threads 1
  spritegan traits shares runs/punks-cond --judge judges/punks.safetensors --traits random \\
      --out out/shares-random.json --overwrite
  spritegan traits shares runs/punks --judge judges/punks.safetensors --agree 0 \\
      --out out/shares-per-pixel.json       # sampled without neighbour agreement
  spritegan traits shares runs/demo --judge exact -n 1000 --refine 0   # built-in sprites, G alone
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
    add_sampling_arguments(ev)
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
    sr = sub.add_parser(
        "shares",
        help="unconditional diversity: each trait's share in n samples vs in the real data, read by a judge",
        description=SHARES_DESCRIPTION,
        epilog=SHARES_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sr.add_argument(
        "run", help="run folder or generator.safetensors (unconditional, or conditional: see --traits)"
    )
    sr.add_argument(
        "--judge",
        required=True,
        help="judge file from `spritegan traits judge` on the run's data, or 'exact' for the built-in sprites",
    )
    sr.add_argument(
        "-n", type=int, default=10_000, help="generated samples, seeds SEED..SEED+n-1 (default 10000)"
    )
    sr.add_argument("--seed", type=int, default=0)
    sr.add_argument("--batch-size", type=int, default=500, help="sprites generated per batch (default 500)")
    sr.add_argument(
        "--traits",
        choices=("none", "random", "new"),
        default="none",
        help="conditional runs: none = the unconditional slot (default), random = trait sets drawn from the"
        " data, new = trait sets no training image has",
    )
    sr.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    sr.add_argument("--all-traits", action="store_true", help="list traits under 0.5%% of real images too")
    sr.add_argument("--out", help="JSON to write (default: RUN/trait-shares.json)")
    sr.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    add_sampling_arguments(sr)
    sr.set_defaults(func=run_shares)


def _pipeline(path: str, overrides: dict | None = None):
    from spritegan.errors import SpriteganError
    from spritegan.generate.pipeline import SpritePipeline

    pipe = SpritePipeline.from_run(path, **(overrides or {}))
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


def _judge_table(report: dict) -> str:
    from spritegan.metrics.traits import pct

    lines = ["| trait | held-out n | recall | accuracy |", "|---|---:|---:|---:|"]
    for name, r in report["traits"].items():
        lines.append(f"| {name} | {r['n']} | {pct(r['recall'])} | {pct(r.get('accuracy'))} |")
    lines.append(f"\nexact match of all traits on held-out images: {pct(report.get('exact_match'))}")
    return "\n".join(lines)


def run_eval(args: argparse.Namespace) -> int:
    from spritegan.errors import SpriteganError
    from spritegan.generate.traits import load_label_table
    from spritegan.metrics.traits import evaluate_conditioning, open_judge, pct, report_markdown

    pipe = _pipeline(args.run, sampling_overrides(args))
    judge, held = open_judge(args.judge, pipe, args.min_agreement, args.run)
    table = load_label_table(args.run, pipe.meta)
    if table is None:
        raise SpriteganError(f"{args.run}: cannot find the training labels (no config.yaml or label table)")
    result = evaluate_conditioning(
        pipe,
        table,
        judge,
        held,
        run=str(args.run),
        judge_name=args.judge,
        n=args.n,
        top_binary=args.top_binary,
        truncation=args.truncation,
        seed=args.seed,
        palette=args.palette,
        min_agreement=args.min_agreement,
        log=print,
    )
    result.update(pipe.sampling_record)
    out = Path(args.out or Path(args.run) / "traits-eval")
    out.mkdir(parents=True, exist_ok=True)
    (out / "traits.json").write_text(json.dumps(result, indent=1))
    (out / "traits.md").write_text(report_markdown(result))
    print(
        f"mean conditioned-trait rate {pct(result['mean_rate'])}; judge recall on real "
        f"{pct(result['mean_judge_recall'])}"
    )
    print(f"wrote {out / 'traits.json'} and {out / 'traits.md'} in {result['seconds']}s")
    return 0


def run_fid(args: argparse.Namespace) -> int:
    from spritegan.data.dataset import open_dataset
    from spritegan.errors import SpriteganError
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.generate.traits import load_label_table
    from spritegan.metrics.evaluate import training_data_options
    from spritegan.metrics.traits import trait_fid

    pipe = SpritePipeline.from_run(args.run)
    table = load_label_table(args.run, pipe.meta) if pipe.label_spec else None
    if pipe.label_spec and table is None:
        raise SpriteganError(f"{args.run}: cannot find the training labels to sample trait sets")
    real = open_dataset(pipe.manifest["source"], **training_data_options(pipe.manifest)).images
    record = trait_fid(pipe, table, real, run=str(args.run), n=args.n, real_n=args.real_n, seed=args.seed)
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


def run_shares(args: argparse.Namespace) -> int:
    import torch

    from spritegan.commands import check_output_file
    from spritegan.data.dataset import open_dataset
    from spritegan.data.procedural import MIN_AGREEMENT
    from spritegan.errors import SpriteganError
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.metrics.evaluate import training_data_options
    from spritegan.metrics.judge import load_judge
    from spritegan.metrics.trait_shares import check_judge_fits, measure_trait_shares, shares_markdown
    from spritegan.metrics.traits import open_judge
    from spritegan.storage import atomic_write_text

    for option, value, low in (
        ("-n", args.n, 1),
        ("--batch-size", args.batch_size, 1),
        ("--threads", args.threads, 0),
    ):
        if value < low:
            raise SpriteganError(f"{option} {value}: must be at least {low}")
    if args.threads:
        torch.set_num_threads(args.threads)
    run_dir = Path(args.run)
    out = (
        Path(args.out)
        if args.out
        else (run_dir if run_dir.is_dir() else run_dir.parent) / "trait-shares.json"
    )
    check_output_file(out, "--out", overwrite=args.overwrite)
    pipe = SpritePipeline.from_run(args.run, **sampling_overrides(args))
    if args.traits != "none" and not pipe.label_spec:
        raise SpriteganError(
            f"--traits {args.traits}: {args.run} is unconditional; its samples take no traits"
        )
    if args.judge == "exact":  # the built-in sprites, read from their pixels
        judge, report = open_judge("exact", pipe, MIN_AGREEMENT, args.run)
    else:
        judge, report = load_judge(args.judge)
        check_judge_fits(judge, report, pipe, args.judge, args.run)
    real = open_dataset(pipe.manifest["source"], **training_data_options(pipe.manifest)).images
    result = measure_trait_shares(
        pipe,
        judge,
        real,
        n=args.n,
        seed=args.seed,
        batch_size=args.batch_size,
        traits=args.traits,
        judge_report=report,
    )
    result.update(run=str(args.run), step=pipe.meta.get("step"), judge=str(args.judge))
    result.update(pipe.sampling_record)
    if "palette_agree" in result:
        print(f"palette neighbour agreement {result['palette_agree']:g}")
    if result.get("palette_despeckle"):
        print(f"palette specks removed: parts of at most {result['palette_despeckle']} pixels")
    if result.get("palette_max_colours"):
        print(f"palette colours per sprite: at most {result['palette_max_colours']}")
    if result.get("palette_refine_passes"):
        print(f"palette refiner: {result['palette_refine_passes']} rounds")
    read = result["read_by_judge"]
    if read["generated_share"] < 1 or read["real_share"] < 1:  # n_generated counts the read samples only
        print(
            f"the judge read {read['generated']} of {args.n} samples as sprites "
            f"({100 * read['generated_share']:.1f}%) and {read['real']} of {len(real)} training images; "
            "shares are over those"
        )
    print(shares_markdown(result, all_traits=args.all_traits), end="")
    near = result["near_copies"]
    print(
        f"near copies: {100 * near['share']:.2f}% of {args.n} samples within MAD "
        f"{near['threshold_mad']:g} of a training image ({near['exact_copies']} exact); real floor "
        f"{100 * near['real_floor']['share']:.2f}% (a random half of the training images against the other "
        f"half, {near['real_floor']['exact_copies']} exact)"
    )
    if result["unreadable_traits"]:
        print(
            f"the judge finds these in under half of its held-out real images, so their shares say little: "
            f"{', '.join(result['unreadable_traits'])}"
        )
    print(f"verdict: {'passes' if result['passes'] else 'fails'}")
    atomic_write_text(out, json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0
