"""In-training evaluation curves: read each run's eval.jsonl and draw FID (or KID) against step."""

from __future__ import annotations

import math
from pathlib import Path

from spritegan import storage
from spritegan.errors import RunError
from spritegan.metrics.records import read_records, value

METRICS = ("fid", "kid")


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")


def read_eval_curve(run: str | Path) -> list[dict]:
    """The records of `RUN/eval.jsonl` (written by `train --eval-every N`), sorted by step.

    A resumed run can evaluate a step twice; the later record wins. Unreadable lines are a one-line error.
    """
    path = Path(run) / "eval.jsonl"
    if not path.is_file():
        raise RunError(f"{run}: no eval.jsonl (train with --eval-every N to record FID during training)")
    by_step: dict[int, dict] = {}
    try:
        rows = read_records(path)
    except ValueError as exc:
        raise RunError(f"{path}: {exc} (not an evaluation record)") from exc
    for number, record in rows:
        try:
            by_step[int(record["step"])] = record
        except (KeyError, TypeError, ValueError) as exc:
            raise RunError(f"{path}: line {number} is not an evaluation record ({exc})") from exc
    if not by_step:
        raise RunError(f"{path}: no evaluation records yet")
    return [by_step[s] for s in sorted(by_step)]


def curve_table(curves: dict[str, list[dict]], metric: str = "fid") -> str:
    """A Markdown table: one row per evaluated step, one column per run (blank where a run has no value)."""
    _check_metric(metric)
    steps = sorted({r["step"] for rows in curves.values() for r in rows})
    values = {name: {r["step"]: value(r, metric) for r in rows} for name, rows in curves.items()}
    scale = 1000.0 if metric == "kid" else 1.0
    head = "| step | " + " | ".join(
        f"{name} {metric.upper()}" + (" x10^3" if scale != 1 else "") for name in curves
    )
    lines = [head + " |", "|---:|" + "---:|" * len(curves)]
    for step in steps:
        cells = []
        for name in curves:
            v = values[name].get(step)
            cells.append("" if v is None or not math.isfinite(v) else f"{v * scale:.1f}")
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_curves(curves: dict[str, list[dict]], out: str | Path, metric: str = "fid") -> Path:
    """Draw `metric` against step for every run on one chart (PNG, written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _check_metric(metric)
    fig, ax = plt.subplots(figsize=(7, 3.8), dpi=100)
    for name, rows in curves.items():
        pts = [(r["step"], value(r, metric)) for r in rows if value(r, metric) is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", linewidth=1.2, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel(metric.upper() + " (lower is better)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = storage.atomic_write(out, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out
