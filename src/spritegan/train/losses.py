"""GAN losses as pure functions of discriminator scores (logits), plus the R1 penalty.

bce: Goodfellow et al. 2014 with targets (real_label for reals, optional label flips); the generator uses
the non-saturating form. ns: the same written with softplus. hinge: Lim & Ye 2017 / Miyato et al. 2018.
rpgan: the relativistic pairing GAN (Jolicoeur-Martineau 2019) as R3GAN uses it (Huang et al. 2024): each real
score is paired with one fake score, D minimises softplus(-(D(real) - D(fake))) and G softplus(-(D(fake) -
D(real))), so both batches must have the same size. R2 is R1's penalty on fakes. frame_drift: the
character-sheet penalty of model.posed_hold.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spritegan.config import unknown_choice
from spritegan.labels import label_loss_terms
from spritegan.tensors import cut_frames


def d_loss(
    real: torch.Tensor,
    fake: torch.Tensor,
    kind: str,
    real_label: float = 1.0,
    flip: torch.Tensor | None = None,
) -> torch.Tensor:
    """Discriminator loss on real and fake logits (N,). `flip` (bool, N) swaps the targets of those pairs."""
    if kind in ("bce", "ns"):
        t_real = torch.full_like(real, real_label)
        t_fake = torch.zeros_like(fake)
        if flip is not None:
            t_real, t_fake = torch.where(flip, t_fake, t_real), torch.where(flip, t_real, t_fake)
        return F.binary_cross_entropy_with_logits(real, t_real) + F.binary_cross_entropy_with_logits(
            fake, t_fake
        )
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    if kind == "rpgan":  # real_label has no meaning here; a flip swaps the pair's roles
        margin = _paired(real, fake)
        if flip is not None:
            margin = torch.where(flip, -margin, margin)
        return F.softplus(-margin).mean()
    raise ValueError(unknown_choice("train.loss", kind))


def g_loss(fake: torch.Tensor, kind: str, real: torch.Tensor | None = None) -> torch.Tensor:
    """Generator loss on fake logits: non-saturating for bce/ns, -D(G(z)) for hinge; rpgan also needs the
    real logits it pairs them with (treated as constants: no gradient reaches G through them)."""
    if kind in ("bce", "ns"):
        return F.softplus(-fake).mean()
    if kind == "hinge":
        return -fake.mean()
    if kind == "rpgan":
        if real is None:
            raise ValueError("train.loss=rpgan: the generator loss needs D's scores of a real batch")
        return F.softplus(-_paired(fake, real.detach())).mean()
    raise ValueError(unknown_choice("train.loss", kind))


def _paired(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a - b element by element: the relativistic margin of each (a, b) pair; batches must match."""
    if a.shape != b.shape:
        raise ValueError(
            f"train.loss=rpgan pairs scores one to one; got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return a - b


def r1_penalty(real_scores: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): mean squared gradient norm of D's score w.r.t. real images."""
    (grad,) = torch.autograd.grad(real_scores.sum(), real_images, create_graph=True)
    return grad.square().flatten(1).sum(1).mean()


def r2_penalty(fake_scores: torch.Tensor, fake_images: torch.Tensor) -> torch.Tensor:
    """R2 (R3GAN): R1's zero-centred penalty on generated images; `fake_images` must require grad (detached
    from G, so only D is penalised)."""
    return r1_penalty(fake_scores, fake_images)


def frame_drift(sheets: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """How much one row's frames differ in colour amounts: each frame's mean over its pixels (every channel,
    colour codes included), then the squared distance of each frame's mean from its row's mean, averaged.

    A row of a character sheet is one direction's walk cycle, drawn in the same colours in nearly the same
    amounts; a shirt that turns another colour every other step moves the means. The built-in walkers score
    about 1.5e-4 (their legs move); the same sheets with two columns taken from other characters, 0.042.
    """
    frames = cut_frames(sheets, rows, cols).mean((3, 4))  # (N, rows * cols, C)
    frames = frames.view(len(sheets), rows, cols, -1)
    return (frames - frames.mean(2, keepdim=True)).square().sum(3).mean()


def colour_usage_loss(usage: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """KL(target || usage): how far the colours G draws in a batch (`usage`, mean softmax probabilities per
    palette colour) are from the colours of the training pixels (`target`, their shares; both sum to 1).

    A colour the data uses that G has stopped drawing (its probability near 0 at every pixel) gets a push on
    its logits of about its target share, however dead it is (d KL / d usage_k = -target_k / usage_k, times
    d usage_k / d logit of about usage_k), so colours lost early in training come back where they are most
    likely. Zero when G draws each colour in the data's proportion.
    """
    target = target.to(usage.dtype)
    kept = target > 0
    return (target[kept] * (target[kept].log() - usage[kept].clamp_min(eps).log())).sum()


def label_classification_loss(
    logits: torch.Tensor, labels: torch.Tensor, groups: list[tuple[int, int]]
) -> torch.Tensor:
    """Auxiliary-classifier loss (AC-GAN, Odena et al. 2017) on the rows that carry labels.

    groups are (offset, width) of each categorical column: cross-entropy over its classes; every other
    label dimension is a binary trait: binary cross-entropy. The result is the mean over columns, so its
    scale does not grow with the number of traits. Rows of all zeros (the unconditional slot) are skipped;
    with none left the loss is 0.
    """
    rows = labels.abs().sum(1) > 0
    if not bool(rows.any()):
        return logits.sum() * 0.0
    ce, bce = label_loss_terms(logits[rows].float(), labels[rows].float(), groups)
    if bce is None:
        return ce / len(groups)
    return (ce + bce.sum(1).mean()) / (len(groups) + bce.shape[1])
