"""Exponential moving average of the generator's weights (Karras et al. 2018), with foreach updates."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def ema_beta(batch_size: int, half_life_kimg: float) -> float:
    """Per-step decay so that the weight of a sample halves after `half_life_kimg` thousand images."""
    if half_life_kimg <= 0:
        return 0.0
    return 0.5 ** (batch_size / (half_life_kimg * 1000.0))


def rampup_half_life(half_life_kimg: float, rampup: float, images_seen: int) -> float:
    """The EMA half-life (kimg) capped at `rampup` times the images seen so far (StyleGAN2-ADA's ema_rampup),
    so a short run's average is not dragged back to its first, untrained steps; rampup <= 0: no cap."""
    if rampup <= 0:
        return half_life_kimg
    return min(half_life_kimg, rampup * images_seen / 1000.0)


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, beta: float) -> None:
    """ema = beta * ema + (1 - beta) * model for parameters; buffers (BN statistics) are copied."""
    e_params = [p for p in ema.parameters()]
    m_params = [p.detach() for p in model.parameters()]
    if beta <= 0:
        torch._foreach_copy_(e_params, m_params)
    else:
        torch._foreach_lerp_(e_params, m_params, 1.0 - beta)
    for e_buf, m_buf in zip(ema.buffers(), model.buffers(), strict=True):
        e_buf.copy_(m_buf)


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, make_inputs: Callable[[int], tuple], batches: int = 8) -> None:
    """Give an EMA model its own batch-norm statistics ("standing statistics", Brock et al. 2019).

    The EMA weights differ from the live G whose running statistics were copied, so in eval mode they
    would normalise with the wrong means and variances (washed-out alpha, noisy backgrounds). This runs
    `batches` fixed input batches in train mode with a cumulative average; models without BN are untouched.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for i in range(batches):
        model(*make_inputs(i))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.train(was_training)
