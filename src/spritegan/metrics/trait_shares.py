"""Unconditional diversity read by a trait judge: how often each trait appears in samples vs in real data.

A generator can score a fair FID while never drawing a rare class (zombie punks) or a dozen accessories. Here
a trait judge (`metrics/judge.py`) reads both the generated samples and the real training images, and each
trait's share among generated images is compared with its share among real ones, as read by the same judge
(so the judge's own errors fall on both sides). A trait the real images show in at least `min_share` of
images must appear within `max_ratio`x of its real share, either way; the mean number of binary traits
(accessories) per image must be within `count_tolerance` of the real mean. The idea is the precision/recall
view of generative models (Sajjadi et al. 2018, "Assessing Generative Models via Precision and Recall"),
measured on named, human-readable modes instead of feature-space clusters; issue 16 sets the thresholds
(0.5%, 2x, 10%).
"""

from __future__ import annotations

from typing import Any

import torch

from spritegan.errors import SpriteganError
from spritegan.labels import label_dim, label_layout

MIN_SHARE = 0.005  # traits rarer than this among real images are reported but not checked
MAX_RATIO = 2.0  # generated share within [real / 2, real * 2]
COUNT_TOLERANCE = 0.10  # mean binary traits per image within 10% of the real mean
MIN_JUDGE_RECALL = 0.5  # traits the judge finds in fewer of its held-out real images are listed as unreadable


def _shares(readings: torch.Tensor, spec: dict, what: str) -> torch.Tensor:
    """Column means of (N, label_dim) 0/1 readings, after checking their shape."""
    if readings.ndim != 2 or readings.shape[1] != label_dim(spec):
        raise ValueError(f"{what} readings must be (N, {label_dim(spec)}); got {tuple(readings.shape)}")
    if len(readings) == 0:
        raise ValueError(f"{what} readings are empty")
    return (readings > 0.5).double().mean(0)


def trait_shares(
    real: torch.Tensor,
    fake: torch.Tensor,
    spec: dict,
    *,
    min_share: float = MIN_SHARE,
    max_ratio: float = MAX_RATIO,
    count_tolerance: float = COUNT_TOLERANCE,
) -> dict[str, Any]:
    """Per-trait real and generated shares, ratios and verdicts, plus binary traits per image.

    `real` and `fake` are a judge's readings, (N, label_dim) label vectors in `spec`'s layout (one-hot per
    categorical column, 0/1 per binary column). Each trait ('col=class' or the binary column's name) gets
    real_share, generated_share, ratio (generated / real; None when the real share is 0), checked (real
    share >= min_share) and ok (1/max_ratio <= ratio <= max_ratio; None when not checked). `failing` counts
    the checked traits that are not ok; `passes` is true when none fail and the per-image count is ok.
    """
    real_share, fake_share = _shares(real, spec, "real"), _shares(fake, spec, "generated")
    rows: list[dict[str, Any]] = []
    binary: list[int] = []
    for col in label_layout(spec):
        for j, cls in enumerate(col.classes):
            i = col.offset + j
            if col.kind == "binary":
                binary.append(i)
            r, g = float(real_share[i]), float(fake_share[i])
            ratio = g / r if r > 0 else None
            checked = r >= min_share
            ok = _within(ratio, 1.0 / max_ratio, max_ratio) if checked and ratio is not None else None
            rows.append(
                {
                    "trait": f"{col.name}={cls}" if col.kind == "categorical" else col.name,
                    "kind": col.kind,
                    "real_share": r,
                    "generated_share": g,
                    "ratio": ratio,
                    "checked": checked,
                    "ok": ok,
                }
            )
    count = _per_image(real, fake, binary, count_tolerance)
    failing = [row["trait"] for row in rows if row["ok"] is False]
    return {
        "n_real": len(real),
        "n_generated": len(fake),
        "min_share": min_share,
        "max_ratio": max_ratio,
        "count_tolerance": count_tolerance,
        "checked": sum(row["checked"] for row in rows),
        "failing": len(failing),
        "failing_traits": failing,
        "missing_traits": [row["trait"] for row in rows if row["checked"] and row["generated_share"] == 0],
        "binary_per_image": count,
        "passes": not failing and count["ok"] is not False,
        "traits": rows,
    }


def _within(value: float, low: float, high: float) -> bool:
    """low <= value <= high, forgiving rounding at the edges (a share of exactly 2x passes)."""
    return low * (1 - 1e-9) <= value <= high * (1 + 1e-9)


def _per_image(real: torch.Tensor, fake: torch.Tensor, binary: list[int], tolerance: float) -> dict[str, Any]:
    """Mean number of binary traits on per image, real and generated, and whether they agree within tolerance."""
    if not binary:
        return {"real": None, "generated": None, "ratio": None, "ok": None}
    r = float((real[:, binary] > 0.5).sum(1).double().mean())
    g = float((fake[:, binary] > 0.5).sum(1).double().mean())
    ratio = g / r if r > 0 else None
    ok = _within(ratio, 1.0 - tolerance, 1.0 + tolerance) if ratio is not None else g == 0.0
    return {"real": r, "generated": g, "ratio": ratio, "ok": ok}


def shares_markdown(result: dict[str, Any], all_traits: bool = True) -> str:
    """The shares as a markdown table (trait, real %, generated %, ratio, ok) and the per-image line.

    With all_traits=False only the checked traits are listed (the rest are counted in a closing line).
    """
    lines = ["| trait | real % | generated % | ratio | ok |", "|---|---:|---:|---:|---|"]
    skipped = 0
    for row in result["traits"]:
        if not row["checked"] and not all_traits:
            skipped += 1
            continue
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        ok = {True: "yes", False: "**no**", None: "(rare)"}[row["ok"]]
        lines.append(
            f"| {row['trait']} | {100 * row['real_share']:.2f} | {100 * row['generated_share']:.2f} "
            f"| {ratio} | {ok} |"
        )
    lines.append("")
    if skipped:
        lines.append(f"({skipped} traits under {100 * result['min_share']:g}% of real images not listed)")
    c = result["binary_per_image"]
    if c["real"] is not None:
        verdict = "ok" if c["ok"] else "**not ok**"
        lines.append(
            f"binary traits (accessories) per image: real {c['real']:.2f}, generated {c['generated']:.2f} "
            f"(within {100 * result['count_tolerance']:g}%: {verdict})"
        )
    lines.append(
        f"{result['failing']} of {result['checked']} traits with real share >= {100 * result['min_share']:g}% "
        f"are outside {result['max_ratio']:g}x of it"
        + (f": {', '.join(result['failing_traits'])}" if result["failing_traits"] else "")
    )
    return "\n".join(lines) + "\n"


def check_judge_fits(judge: Any, report: dict[str, Any], pipe: Any, judge_name: str, run: str) -> None:
    """One-line SpriteganError when `judge` cannot read this run's sprites: other image size or channels,
    other labels than a conditional run's, or trained on other images than the run's training data."""
    from spritegan.errors import SpriteganError

    size, channels = list(pipe.manifest.get("size") or []), pipe.manifest.get("channels")
    if list(judge.size) != size or judge.channels != channels:
        raise SpriteganError(
            f"--judge {judge_name}: judge reads {judge.channels}-channel {judge.size[1]}x{judge.size[0]} images, "
            f"but {run} makes {channels}-channel {size[1] if size else '?'}x{size[0] if size else '?'} sprites"
        )
    from spritegan.data.clusters import COLUMN

    # a cluster column (data.clusters) is the run's own, made from the images: the judge need not know it
    run_spec = {k: v for k, v in (pipe.manifest.get("labels") or {}).items() if k != COLUMN}
    if run_spec and run_spec != judge.spec:
        raise SpriteganError(f"--judge {judge_name}: judge was trained on other labels than {run}'s data")
    judged_data = (report.get("data") or {}).get("sha256")
    if judged_data and pipe.manifest.get("sha256") and judged_data != pipe.manifest["sha256"]:
        raise SpriteganError(
            f"--judge {judge_name}: judge was trained on other images ({report['data'].get('source')}) than "
            f"{run}'s training data ({pipe.manifest.get('source')}); train one on that data"
        )


def _judged(judge: Any, images: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The judge's readings of the images it can read, and how many those are: a judge that declines images
    (the exact judge of the built-in sprites, below 85% pixel agreement) has its shares taken over the
    sprites it read; a classifier reads every image."""
    readings = judge.score(images)
    readable = getattr(judge, "readable", None)
    if readable is None:
        return readings, len(images)
    return readings[readable], int(readable.sum())


def judged_shares(judge: Any, real: torch.Tensor, fake: torch.Tensor, **thresholds: float) -> dict[str, Any]:
    """`trait_shares` of the judge's readings of real and generated images, with `read_by_judge`: how many of
    each it read (all, but for the exact judge, whose shares are over the sprites it read)."""
    real_read, real_kept = _judged(judge, real)
    fake_read, fake_kept = _judged(judge, fake)
    if not len(fake_read):
        raise SpriteganError(
            f"the judge reads none of the {len(fake)} samples as a sprite: no shares to compare"
        )
    result = trait_shares(real_read, fake_read, judge.spec, **thresholds)
    result["read_by_judge"] = {
        "real": real_kept,
        "generated": fake_kept,
        "real_share": real_kept / len(real),
        "generated_share": fake_kept / len(fake),
    }
    return result


def measure_trait_shares(
    pipe: Any,
    judge: Any,
    real: torch.Tensor,
    *,
    n: int = 10_000,
    seed: int = 0,
    batch_size: int = 500,
    traits: str | None = None,
    judge_report: dict[str, Any] | None = None,
    progress: bool | None = None,
    **thresholds: float,
) -> dict[str, Any]:
    """Generate n sprites (seeds seed..seed+n-1), let the judge read them and the real images, and return
    `trait_shares` with the near-copy share (`metrics/novelty.py`) and timings beside it.

    `traits` is for conditional pipelines: None or 'none' samples the unconditional slot, 'random' draws
    each sprite's trait set from the training data (as `generate --traits random`), 'new' sets no training
    image has. With the judge's training report, each trait row also carries the judge's held-out recall on
    real images, and the traits it finds in under MIN_JUDGE_RECALL of them are listed as `unreadable_traits`.
    `read_by_judge` counts the images the judge read (all of them, but for the exact judge).
    """
    import time

    from tqdm import tqdm

    from spritegan.metrics.novelty import DEFAULT_THRESHOLD, near_copy_floor, nearest_real, novelty_stats

    t0 = time.perf_counter()
    seeds = list(range(seed, seed + n))
    labels = pipe.labels_for(traits, seeds, seed) if traits not in (None, "none") else None
    images = []
    with tqdm(
        total=n, desc="generating", unit="img", disable=None if progress is None else not progress
    ) as bar:
        for i in range(0, n, batch_size):
            lab = labels[i : i + batch_size] if labels is not None else None
            images.append(pipe(seeds[i : i + batch_size], labels=lab))
            bar.update(len(images[-1]))
    fake = torch.cat(images)
    t_gen = time.perf_counter()
    result = judged_shares(judge, real, fake, **thresholds)
    t_judge = time.perf_counter()
    held = (judge_report or {}).get("traits", {})
    for row in result["traits"]:
        row["judge_heldout_recall"] = (held.get(row["trait"]) or {}).get("recall")
    result["unreadable_traits"] = [  # their real share is the judge's blind spot, not the data's
        row["trait"]
        for row in result["traits"]
        if row["judge_heldout_recall"] is not None and row["judge_heldout_recall"] < MIN_JUDGE_RECALL
    ]
    _, distances = nearest_real(fake, real)
    novelty = novelty_stats(distances)
    result["near_copies"] = {
        "share": float((distances < DEFAULT_THRESHOLD).mean()),  # 1 - novelty
        "threshold_mad": DEFAULT_THRESHOLD,
        "exact_copies": novelty["exact_copies"],
        "nn_mad_median": novelty["nn_mad_median"],
        "real_floor": near_copy_floor(real, DEFAULT_THRESHOLD, seed),  # half of the real set vs the other
    }
    result.update(
        seed=seed,
        conditioning=traits or "none",
        seconds={
            "generate": round(t_gen - t0, 1),
            "judge": round(t_judge - t_gen, 1),
            "near_copies": round(time.perf_counter() - t_judge, 1),
        },
    )
    return result
