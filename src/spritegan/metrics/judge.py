"""The trait judge: a small CNN trained on real labelled sprites, used to score conditioned samples.

Categorical columns get one softmax each, binary columns one sigmoid each, all from one label-vector-wide
logit layer. The judge is trained on a split of the real data (rarity-balanced draws so 9 aliens count) and
its accuracy on the held-out rest is stored with it. For the built-in sprites `ExactJudge` reads the traits
from the pixels instead (`spritegan.data.procedural.nearest_traits`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from spritegan.data.procedural import MIN_AGREEMENT, nearest_traits, read_traits
from spritegan.errors import SpriteganError
from spritegan.labels import categorical_groups, label_dim, label_layout, label_loss_terms, label_matrix
from spritegan.storage import load_judge_file, save_judge_file
from spritegan.tensors import to_model


class TraitJudge(nn.Module):
    """Conv net: image (C, H, W) -> logits in the label-vector layout."""

    def __init__(self, channels: int, size: list[int], spec: dict, width: int = 24) -> None:
        super().__init__()
        self.channels, self.size, self.spec, self.width = channels, list(size), spec, width
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(w, w, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 2 * w, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(4 * w * 16, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, label_dim(spec)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def config(self) -> dict[str, Any]:
        """What it takes to rebuild the network."""
        return {"channels": self.channels, "size": self.size, "spec": self.spec, "width": self.width}

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy per categorical column plus the mean BCE over the binary columns x sqrt(their count)."""
        ce, bce = label_loss_terms(logits, target, categorical_groups(self.spec))
        return ce if bce is None else ce + bce.mean() * bce.shape[1] ** 0.5

    def to_vector(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits -> predicted label vectors (one-hot argmax / sigmoid > 0.5)."""
        out = torch.zeros_like(logits)
        for col in label_layout(self.spec):
            sl = slice(col.offset, col.offset + col.width)
            if col.kind == "categorical":
                out[torch.arange(len(out)), col.offset + logits[:, sl].argmax(1)] = 1.0
            else:
                out[:, sl] = (logits[:, sl] > 0).float()
        return out

    @torch.inference_mode()
    def score(self, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """uint8 (N, C, H, W) -> predicted label vectors, float (N, label_dim)."""
        self.eval()
        outs = [
            self.to_vector(self(to_model(images[i : i + batch_size])))
            for i in range(0, len(images), batch_size)
        ]
        return torch.cat(outs) if outs else torch.zeros(0, label_dim(self.spec))


class ExactJudge:
    """The built-in sprites' traits read from the pixels, with no learned classifier.

    Each sample is matched to its nearest valid sprite (`procedural.nearest_traits`); its traits count
    only when at least `min_agreement` of the 1,024 pixels agree with that sprite (1.0: pixel-perfect
    only), otherwise the sample scores all zeros. `agreements` keeps the last batch's agreement shares and
    `readable` which of its samples were read. A valid sprite is decoded exactly first (60x faster).
    """

    def __init__(self, spec: dict, min_agreement: float | None = None) -> None:
        min_agreement = MIN_AGREEMENT if min_agreement is None else min_agreement
        if not 0.0 < min_agreement <= 1.0:
            raise ValueError(f"min_agreement must be in (0, 1], got {min_agreement}")
        self.spec = spec
        self.min_agreement = min_agreement
        self.agreements: list[float] = []

    @property
    def readable(self) -> torch.Tensor:
        """Which samples of the last batch were read (agreement at least min_agreement)."""
        return torch.tensor(self.agreements, dtype=torch.float64) >= self.min_agreement

    def score(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 4, 32, 32) -> label vectors; rows of zeros where the sprite is not close enough."""
        out = torch.zeros(len(images), label_dim(self.spec))
        self.agreements = []
        for i, image in enumerate(images.permute(0, 2, 3, 1).contiguous().numpy()):
            traits = read_traits(image)
            agreement = 1.0
            if traits is None:
                traits, agreement = nearest_traits(image)
            self.agreements.append(agreement)
            if agreement < self.min_agreement:
                continue
            for col in label_layout(self.spec):
                if col.name in traits:
                    out[i, col.offset + col.classes.index(traits[col.name])] = 1.0
        return out


def holdout_split(
    labels: torch.Tensor, share: float = 0.2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, held-out) indices, stratified by each image's rarest label so rare traits land in both."""
    g = torch.Generator().manual_seed(seed)
    freq = labels.sum(0)
    rarity = torch.where(labels > 0.5, freq, torch.full_like(labels, float("inf")))
    key = rarity.argmin(1)
    train, held = [], []
    for k in torch.unique(key):
        idx = torch.nonzero(key == k).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_held = int(round(len(idx) * share)) if len(idx) >= 2 else 0
        n_held = max(n_held, 1) if len(idx) >= 2 else 0
        held.append(idx[:n_held])
        train.append(idx[n_held:])
    return torch.cat(train).sort().values, torch.cat(held).sort().values


def trait_rates(pred: torch.Tensor, target: torch.Tensor, spec: dict) -> dict[str, dict[str, Any]]:
    """Per trait ('col=class' or binary name): n images having it, recall (rate judged present) and accuracy."""
    out: dict[str, dict[str, Any]] = {}
    for col in label_layout(spec):
        for j, cls in enumerate(col.classes):
            i = col.offset + j
            name = f"{col.name}={cls}" if col.kind == "categorical" else col.name
            has = target[:, i] > 0.5
            n = int(has.sum())
            rec = float((pred[has, i] > 0.5).float().mean()) if n else None
            row: dict[str, Any] = {"n": n, "recall": rec}
            if col.kind == "binary":
                row["accuracy"] = float(((pred[:, i] > 0.5) == has).float().mean()) if len(has) else None
            out[name] = row
    return out


def train_judge(
    dataset: Any,
    *,
    steps: int = 1500,
    batch_size: int = 128,
    lr: float = 2e-3,
    width: int = 24,
    seed: int = 0,
    holdout: float = 0.2,
    log: Any = None,
) -> tuple[TraitJudge, dict[str, Any]]:
    """Fit a judge on the dataset's labelled images; returns it and its held-out report."""
    spec = dataset.manifest.get("labels")
    if not label_dim(spec):
        raise SpriteganError(
            "the trait judge needs labelled data: give --labels CSV (or use builtin:sprites)"
        )
    torch.manual_seed(seed)
    labels = label_matrix(dataset.labels, spec)
    train_idx, held_idx = holdout_split(labels, holdout, seed)
    judge = TraitJudge(dataset.channels, list(dataset.size), spec, width)
    opt = torch.optim.Adam(judge.parameters(), lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    tl = labels[train_idx]
    freq = tl.sum(0).clamp(min=1)
    inv = torch.where(tl > 0.5, 1.0 / freq, torch.zeros_like(tl)).amax(1).clamp(min=1.0 / len(tl))
    weights = inv.sqrt()
    g = torch.Generator().manual_seed(seed + 1)
    judge.train()
    for step in range(steps):
        pick = train_idx[torch.multinomial(weights, batch_size, replacement=True, generator=g)]
        x = to_model(dataset.images[pick])
        loss = judge.loss(judge(x), labels[pick])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log and (step + 1) % 100 == 0:
            log(f"judge step {step + 1}/{steps}: loss {float(loss.detach()):.4f}")
    pred = judge.score(dataset.images[held_idx])
    rates = trait_rates(pred, labels[held_idx], spec)
    report = {
        "n_train": len(train_idx),
        "n_heldout": len(held_idx),
        "steps": steps,
        "exact_match": float((pred == labels[held_idx]).all(1).float().mean()) if len(held_idx) else None,
        "traits": rates,
    }
    return judge, report


def save_judge(path: str | Path, judge: TraitJudge, report: dict[str, Any]) -> Path:
    """Write weights with config and held-out report in the safetensors metadata (atomically)."""
    return save_judge_file(path, dict(judge.state_dict()), judge.config(), report)


def load_judge(path: str | Path) -> tuple[TraitJudge, dict[str, Any]]:
    """A saved judge and its held-out report."""
    state, config, report = load_judge_file(path)
    judge = TraitJudge(**config)
    judge.load_state_dict(state)
    return judge.eval(), report
