"""A domain Inception Score: IS computed with a classifier trained on the dataset's own labels.

Salimans et al. 2016 define IS = exp(E_x KL(p(y|x) || p(y))) with an ImageNet Inception classifier. The
offline FID graph has no classifier head, so here the classifier is the trait judge (metrics/judge.py)
and y is one categorical column (punk `type`, Pokemon `type1`). It is named "domain IS" everywhere so it
is never compared with ImageNet IS figures; its ceiling is the number of classes, and it means something
only next to the judge's held-out accuracy on real images, which the result carries.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from spritegan.errors import SpriteganError
from spritegan.labels import label_layout
from spritegan.tensors import to_model


def inception_score_from_probs(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Mean and std over `splits` of exp(mean KL(p(y|x) || p(y))) for class probabilities (N, K)."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) < splits:
        raise SpriteganError(f"domain IS needs at least {splits} samples of class probabilities (N, K)")
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(marginal + 1e-12))).sum(axis=1)
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


@torch.inference_mode()
def class_probabilities(
    judge: torch.nn.Module, images: torch.Tensor, column: str, batch: int = 512
) -> np.ndarray:
    """Softmax over one categorical column of the judge's output, for uint8 (N, C, H, W) images."""
    cols = {c.name: c for c in label_layout(judge.spec)}
    col = cols.get(column)
    if col is None or col.kind != "categorical":
        valid = ", ".join(c.name for c in cols.values() if c.kind == "categorical")
        raise SpriteganError(
            f"column {column!r} is not a categorical label of this judge; choose one of: {valid}"
        )
    judge.eval()
    out = []
    for i in range(0, len(images), batch):
        logits = judge(to_model(images[i : i + batch]))[:, col.offset : col.offset + col.width]
        out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(out)


def domain_inception_score(
    judge: torch.nn.Module, report: dict[str, Any], images: torch.Tensor, column: str, splits: int = 10
) -> dict[str, Any]:
    """Domain IS of `images` over `column`, with the judge's held-out recall per class of that column."""
    mean, std = inception_score_from_probs(class_probabilities(judge, images, column), splits)
    classes = [c for c in label_layout(judge.spec) if c.name == column][0].classes
    recall = {k: v.get("recall") for k, v in report.get("traits", {}).items() if k.startswith(f"{column}=")}
    return {
        "metric": f"domain IS over '{column}' (trait-judge classifier, not ImageNet Inception)",
        "is_mean": mean,
        "is_std": std,
        "splits": splits,
        "samples": len(images),
        "classes": list(classes),
        "ceiling": len(classes),
        "judge_heldout_recall": recall,
        "judge_heldout_images": report.get("n_heldout"),
    }
