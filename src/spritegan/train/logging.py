"""Training logs: metrics.csv (appended across resumes), TensorBoard event files and losses.png."""

from __future__ import annotations

import csv
from pathlib import Path

from spritegan import storage
from spritegan.metrics.monitor import MONITOR_FIELDS

FIELDS = [
    "step",
    "images",
    "seconds",
    "loss_d",
    "loss_g",
    "score_real",
    "score_fake",
    "r1",
    "images_per_s",
    "aux_d",  # conditional runs with an auxiliary classifier only (model.cond_aux)
    "aux_g",
    "augment_p",  # train.ada_target > 0 only
    "palette_confidence",  # model.head=palette only: mean max-probability of the per-pixel colour choice
    "colour_usage",  # train.colour_usage > 0 only: KL(the data's colour shares || G's, one batch)
    "resolution",  # model.progressive only: the height being trained (pixels)
    "alpha",  # model.progressive only: how far that resolution is faded in (0..1)
    "pose_hold",  # model.posed_hold > 0 only: the frame drift of G's sheets (train/losses.frame_drift)
    "d_sign_real",  # the collapse monitor (metrics/monitor.py): E[sign D(real)], ADA's r_t
    "score_gap",  # mean D(real) - mean D(fake)
    "diversity",  # fixed batch's mean pairwise distance / a real batch's (1 = as varied as the data)
    "distinct_nn",  # distinct nearest real images of the fixed batch / a real batch's
    "nn_distance",  # fixed batch's distance to its nearest real images / a real batch's
    "missing_colours",  # palette head only: colours (>= 1% of real pixels) the fixed batch draws at < 1/8
]


class TrainLogger:
    """Writes one row per logging step to metrics.csv and the same scalars to TensorBoard."""

    def __init__(self, run_dir: Path, resume_step: int | None = None, tensorboard: bool = True) -> None:
        """resume_step: the step a resumed run continues from (0 too: killed before its first checkpoint);
        rows logged after it are dropped so no step appears twice. None: a fresh run."""
        self.path = run_dir / "metrics.csv"
        self.run_dir = run_dir
        if resume_step is not None and self.path.exists():
            _truncate_after(self.path, resume_step)
        new = not self.path.exists()
        self._fh = open(self.path, "a", newline="")
        self._csv = csv.DictWriter(self._fh, fieldnames=FIELDS, extrasaction="ignore")
        if new:
            self._csv.writeheader()
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = resume_step + 1 if resume_step is not None else None
            self._tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"), purge_step=purge)

    def log(self, row: dict[str, float]) -> None:
        self._csv.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        self._fh.flush()
        if self._tb is not None:
            step = int(row["step"])
            for key, value in row.items():
                if key in ("step", "images", "seconds"):
                    continue
                tag = {
                    "score_real": "Loss/scores/real",
                    "score_fake": "Loss/scores/fake",
                    "r1": "Loss/r1_penalty",
                    "aux_d": "Loss/classifier/d",
                    "aux_g": "Loss/classifier/g",
                    "augment_p": "Augment/probability",
                    "palette_confidence": "Palette/confidence",
                    "colour_usage": "Palette/colour_usage",
                    **{name: f"Monitor/{name}" for name in MONITOR_FIELDS},
                }
                self._tb.add_scalar(
                    tag.get(key, f"Loss/{key}" if key.startswith("loss") else f"Progress/{key}"), value, step
                )

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self._tb is not None:
            self._tb.add_scalar(tag, value, step)

    def image(self, tag: str, image_hwc, step: int) -> None:
        if self._tb is not None:
            self._tb.add_image(tag, image_hwc, step, dataformats="HWC")

    def close(self) -> None:
        self._fh.close()
        if self._tb is not None:
            self._tb.close()


def _truncate_after(path: Path, step: int) -> None:
    """On resume, drop rows logged after the checkpoint so the curve continues without a fork."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(r for r in rows if r.get("step") and int(r["step"]) <= step)


def plot_losses(run_dir: Path) -> Path | None:
    """Draw losses.png from metrics.csv (D and G loss against step)."""
    path = run_dir / "metrics.csv"
    if not path.exists():
        return None
    with open(path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("step")]
    if len(rows) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [int(r["step"]) for r in rows]
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    for key, label in (("loss_d", "D loss"), ("loss_g", "G loss")):
        ax.plot(steps, [float(r[key]) for r in rows], label=label, linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = storage.atomic_write(run_dir / "losses.png", lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out
