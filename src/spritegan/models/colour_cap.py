"""Each sprite's colour cap: a hand-drawn sprite uses a few of the palette's colours, so sampling keeps only
the ones an image uses most (the palette head's choice and the refiner's both go through here)."""

from __future__ import annotations

import torch


def capped_logits(logits: torch.Tensor, max_colours: int) -> torch.Tensor:
    """Logits (N, K, H, W) with every colour but each image's `max_colours` most chosen ones (by the per-pixel
    argmax) set to -inf: a hand-drawn sprite uses a few colours, so the pixels G gives a rare one take their
    best among the image's own. Ties among equally used colours go to the lower palette index."""
    k = logits.shape[1]
    if max_colours <= 0 or max_colours >= k:
        return logits
    index = logits.argmax(1).flatten(1)  # (N, H * W)
    counts = torch.zeros_like(logits[:, :, 0, 0])  # (N, K), its batch size dynamic in an ONNX export
    counts = counts.scatter_add(1, index, torch.ones_like(index, dtype=logits.dtype))
    order = torch.arange(k, dtype=logits.dtype, device=logits.device) / k  # < 1: breaks ties only
    keep = (counts - order).topk(max_colours, dim=1).indices
    allowed = torch.zeros_like(counts).scatter(1, keep, 1.0) > 0
    return logits.masked_fill(~allowed[:, :, None, None], float("-inf"))
