"""How well a conditional generator draws the traits it is asked for, read back by a trait judge.

For each categorical class and the most common binary traits, `evaluate_conditioning` asks the pipeline for
n sprites with that trait (the other traits completed from the training label table), lets the judge read
them, and reports the rate at which the asked trait is read, the rate at which every asked trait is, and a
check with whole trait sets drawn from the data (how many distinct combinations come out right). The judge
is a classifier trained on real labelled images (`metrics/judge.py`, its held-out recall reported beside
each rate), or for the built-in sprites the exact decoder. `spritegan traits eval|fid` print these.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import torch

from spritegan.errors import SpriteganError
from spritegan.generate.traits import complete_traits, random_traits
from spritegan.labels import binary_mask, label_layout
from spritegan.metrics.evaluate import evaluate
from spritegan.metrics.judge import ExactJudge, load_judge


def open_judge(which: str, pipe, min_agreement: float, run: str) -> tuple[Any, dict | None]:
    """The judge `which` names ('exact' for the built-in sprites, else a judge file) and its training
    report (None for the exact judge); one-line errors when it cannot read this pipeline's sprites."""
    if which == "exact":
        if not str(pipe.manifest.get("source", "")).startswith("builtin:sprites"):
            raise SpriteganError("--judge exact only reads the built-in sprites; give a judge file")
        spec = pipe.label_spec or pipe.manifest.get("labels")  # an unconditional run: the data's own
        if not spec:
            raise SpriteganError(f"--judge exact: {run} records no trait labels of its built-in sprites")
        try:
            return ExactJudge(spec, min_agreement), None
        except ValueError as exc:
            raise SpriteganError(f"--min-agreement: {exc}") from exc
    judge, held = load_judge(which)
    if judge.spec != pipe.label_spec:
        raise SpriteganError(f"{which}: judge was trained on other labels than {run}")
    return judge, held


def asked_traits(spec: dict, freq: torch.Tensor, top_binary: int) -> list[tuple[str, int]]:
    """(name, label index) of every categorical class, then the `top_binary` most common binary traits."""
    asked: list[tuple[str, int]] = []
    binary = []
    for col in label_layout(spec):
        if col.kind == "categorical":
            asked += [(f"{col.name}={c}", col.offset + j) for j, c in enumerate(col.classes)]
        else:
            binary.append((col.name, col.offset))
    binary.sort(key=lambda b: -float(freq[b[1]]))
    return asked + binary[:top_binary]


def variety(images: torch.Tensor, judged: torch.Tensor, asked: torch.Tensor, binary: torch.Tensor) -> dict:
    """How varied n sprites asked for one trait are: distinct images, distinct trait sets the judge reads, and
    the judged accessories (binary traits) per sprite beside those of the label rows they were asked with
    (drawn from the training data given the trait, so the data's own mean). 200 near-identical bare heads
    score 1 set and 0 accessories against the data's 2 or 3."""
    flat = images.reshape(len(images), -1)
    return {
        "distinct_images": len(torch.unique(flat, dim=0)) if len(flat) else 0,
        "judged_sets": len(torch.unique(judged > 0.5, dim=0)) if len(judged) else 0,
        "accessories": float((judged[:, binary] > 0.5).sum(1).float().mean()) if len(judged) else 0.0,
        "asked_accessories": float((asked[:, binary] > 0.5).sum(1).float().mean()) if len(asked) else 0.0,
    }


def whole_set_check(pipe, judge, table, n: int, gen: torch.Generator, **render) -> dict[str, Any]:
    """n sprites asked for trait sets drawn from the data (seeds 10^6...): how many come out whole."""
    wanted = random_traits(n, table, gen)
    got = judge.score(pipe(range(10**6, 10**6 + n), labels=wanted, **render))
    hit = (got == wanted).all(1)
    combos = {tuple(r.nonzero().flatten().tolist()) for r in wanted}
    made = {tuple(r.nonzero().flatten().tolist()) for r, ok in zip(wanted, hit, strict=True) if ok}
    return {
        "n": n,
        "all_traits_rate": float(hit.float().mean()),
        "per_trait_rate": float(((got > 0.5) & (wanted > 0.5)).sum() / wanted.sum()),
        "distinct_combinations_asked": len(combos),
        "distinct_combinations_made": len(made),
        "coverage": len(made) / max(1, len(combos)),
    }


def evaluate_conditioning(
    pipe,
    table,
    judge,
    held: dict | None,
    *,
    run: str,
    judge_name: str,
    n: int = 200,
    top_binary: int = 20,
    truncation: float = 1.0,
    seed: int = 0,
    palette: bool = False,
    min_agreement: float = 1.0,
    log: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """The conditioning report (traits.json): per asked trait its judged rate, then the whole-set check and,
    for the exact judge, how close the sprites' pixels come to a valid sprite. `log` gets a line per trait."""
    t0 = time.perf_counter()
    spec, freq = pipe.label_spec, table.frequencies()
    render = {"truncation": truncation, "palette": palette}
    gen = torch.Generator().manual_seed(seed)
    rows, exact_hits, agreements = [], 0.0, []
    binary = binary_mask(spec)
    for k, (name, index) in enumerate(asked_traits(spec, freq, top_binary)):
        want = torch.zeros(table.dim)
        want[index] = 1.0
        labels = complete_traits(want, n, spec, table, gen)
        images = pipe(range(seed + k * n, seed + (k + 1) * n), labels=labels, **render)
        pred = judge.score(images)
        agreements += getattr(judge, "agreements", [])
        rate = float((pred[:, index] > 0.5).float().mean())
        all_match = float((pred == labels).all(1).float().mean())
        exact_hits += all_match * n
        real = (held or {}).get("traits", {}).get(name, {})
        rows.append(
            {
                "trait": name,
                "train_count": int(freq[index]),
                "rate": rate,
                "all_traits_rate": all_match,
                "judge_recall": real.get("recall") if held else None,
                "judge_heldout_n": real.get("n") if held else None,
                **variety(images, pred, labels, binary),
            }
        )
        v = rows[-1]
        log(
            f"{name:32s} asked {n}: judged {pct(rate)} (all traits {pct(all_match)}); {v['distinct_images']} "
            f"distinct images, {v['judged_sets']} trait sets, accessories {v['accessories']:.2f} "
            f"(asked {v['asked_accessories']:.2f})"
        )
    whole = whole_set_check(pipe, judge, table, n, gen, **render)
    log(f"random trait sets from the data: {json.dumps(whole)}")
    recalls = [r["judge_recall"] for r in rows if r["judge_recall"] is not None]
    result = {
        "run": run,
        "step": pipe.meta.get("step"),
        "judge": judge_name,
        "n_per_trait": n,
        "truncation": truncation,
        "palette": palette,
        "mean_rate": sum(r["rate"] for r in rows) / len(rows),
        "mean_judge_recall": sum(recalls) / len(recalls) if recalls else None,
        "all_traits_rate": exact_hits / (n * len(rows)),
        "seconds": round(time.perf_counter() - t0, 1),
        "random_trait_sets": whole,
        "traits": rows,
    }
    if agreements:
        result["pixels"] = {
            "min_agreement": min_agreement,
            "mean_agreement": sum(agreements) / len(agreements),
            "readable_share": sum(a >= min_agreement for a in agreements) / len(agreements),
            "pixel_perfect_share": sum(a == 1.0 for a in agreements) / len(agreements),
        }
        log(f"pixel agreement with the nearest valid sprite: {json.dumps(result['pixels'])}")
    return result


def trait_fid(
    pipe, table, real: torch.Tensor, *, run: str, n: int, real_n: int | None, seed: int = 0
) -> dict:
    """FID of n sprites (random trait sets from the data when conditional) against the real images, or a
    fixed random subset of real_n of them."""
    t0 = time.perf_counter()
    labels = random_traits(n, table, torch.Generator().manual_seed(seed)) if pipe.label_spec else None
    if real_n and real_n < len(real):
        real = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(1234))[:real_n]]
    fake = pipe(range(seed, seed + n), labels=labels)
    result = evaluate(fake, real, metrics=("fid",), seed=seed)
    return {
        "run": run,
        "step": pipe.meta.get("step"),
        "conditional": labels is not None,
        "n_fake": n,
        "n_real": len(real),
        "fid": result["metrics"]["fid"],
        "seconds": round(time.perf_counter() - t0, 1),
    }


def pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def report_markdown(result: dict) -> str:
    """The conditioning report as markdown (traits.md)."""
    lines = [
        "| asked trait | training images | judged rate in samples | all asked traits | judge recall on real "
        "| distinct images | judged trait sets | accessories judged (asked) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["traits"]:
        real = (
            "exact" if result["judge"] == "exact" else f"{pct(r['judge_recall'])} (n={r['judge_heldout_n']})"
        )
        lines.append(
            f"| {r['trait']} | {r['train_count']} | {pct(r['rate'])} | {pct(r['all_traits_rate'])} | {real} "
            f"| {r['distinct_images']} | {r['judged_sets']} | {r['accessories']:.2f} ({r['asked_accessories']:.2f}) |"
        )
    lines.append(
        f"\nmean judged rate {pct(result['mean_rate'])}, mean judge recall on real held-out "
        f"{pct(result['mean_judge_recall'])}; {result['n_per_trait']} samples per trait, step {result['step']}"
    )
    rc = result["random_trait_sets"]
    lines.append(
        f"\n{rc['n']} samples asking for whole trait sets drawn from the training data: all traits right in "
        f"{pct(rc['all_traits_rate'])}, single traits right in {pct(rc['per_trait_rate'])}; "
        f"{rc['distinct_combinations_made']} of {rc['distinct_combinations_asked']} distinct combinations made "
        f"(coverage {pct(rc['coverage'])})"
    )
    px = result.get("pixels")
    if px:
        lines.append(
            f"\nexact reading: a sample counts when >= {pct(px['min_agreement'])} of its pixels match the nearest "
            f"valid sprite; readable {pct(px['readable_share'])}, pixel-perfect {pct(px['pixel_perfect_share'])}, "
            f"mean pixel agreement {pct(px['mean_agreement'])}"
        )
    return "\n".join(lines) + "\n"
