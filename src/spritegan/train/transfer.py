"""Transfer learning: start a run from another run's weights, optionally freezing D's first layers."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from spritegan import storage
from spritegan.errors import RunError
from spritegan.train import checkpoint as ckpt


def _source_weights(source: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """(G weights, D weights or None) from a run folder's latest checkpoint or a generator file."""
    path = Path(source)
    if path.is_dir():
        state = ckpt.load_latest(path / "checkpoints")
        if state is not None:
            return state["modules"]["G_ema"], state["modules"]["D"]
        path = path / "generator.safetensors"
    if not path.exists():
        raise RunError(f"--init-from {source}: no checkpoint or generator.safetensors found")
    weights, _ = storage.load_generator_file(path)
    return weights, None


def _load_matching(module: nn.Module, weights: dict[str, torch.Tensor]) -> tuple[int, int, float]:
    """Copy every tensor whose name and shape match; returns (copied, total in module, share of the module's
    numbers copied)."""
    own = module.state_dict()
    matched = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    numbers = sum(v.numel() for v in own.values())
    share = sum(v.numel() for v in matched.values()) / max(1, numbers)
    own.update(matched)
    module.load_state_dict(own)
    return len(matched), len(own), share


def init_from(source: str | Path, generator: nn.Module, discriminator: nn.Module) -> str:
    """Load matching weights into G (and D when the source has one).

    Rule: tensors are copied by name where shapes agree (same arch and widths; a different image size,
    channel count or palette leaves the layers that depend on it fresh). Fewer than half of G's numbers
    matching is an error, since that is not transfer but a different model (counted in numbers, not
    tensors: scalars such as batch-norm step counters always match).
    """
    g_weights, d_weights = _source_weights(source)
    g_hit, g_total, g_share = _load_matching(generator, g_weights)
    if g_share < 0.5:
        raise RunError(
            f"--init-from {source}: only {g_hit} of {g_total} generator tensors match this model; "
            "use the same arch, widths and z_dim as the source run"
        )
    note = f"init-from {source}: G {g_hit}/{g_total} tensors"
    if d_weights is not None:
        d_hit, d_total, _ = _load_matching(discriminator, d_weights)
        note += f", D {d_hit}/{d_total} tensors"
    else:
        note += ", D from scratch (the source has no discriminator)"
    return note


def freeze_first_layers(discriminator: nn.Module, n_layers: int) -> list[str]:
    """Set requires_grad=False on the parameters of D's first `n_layers` weight layers (FreezeD)."""
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d)
    layers = [
        m
        for m in discriminator.modules()
        if not isinstance(m, norms)
        and (isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear) or "weight" in m._parameters)
    ]
    frozen = []
    for layer in layers[:n_layers]:
        for name, p in layer.named_parameters():
            p.requires_grad_(False)
            frozen.append(name)
    return frozen
