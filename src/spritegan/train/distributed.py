"""Multi-process training with PyTorch's own engine (torchrun + torch.distributed).

Every rank holds the same G and D; each step every rank draws the same global batch of indices and trains
on its own slice, then gradients are averaged with one flat all-reduce per network (NCCL on GPUs, gloo on
CPUs). We average gradients explicitly rather than wrapping in DistributedDataParallel because D's lazy R1
penalty needs a double backward, which DDP's reducer does not support; the arithmetic is the same.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched() -> bool:
    """Whether torchrun started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device_type: str) -> DistInfo:
    """Join the process group torchrun describes in the environment (a no-op for one process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return DistInfo(rank, world, local_rank)


def average_gradients(module: nn.Module, info: DistInfo) -> None:
    """All-reduce the gradients of `module` as one flat buffer and divide by the world size."""
    if not info.enabled:
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= info.world
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def average_buffers(module: nn.Module, info: DistInfo) -> None:
    """Average floating-point buffers (batch-norm statistics) so every rank keeps the same model; buffers a
    module names in `constant_buffers` (a palette head's colours) are equal on every rank and must stay exact."""
    if not info.enabled:
        return
    for sub in module.modules():
        constant = getattr(sub, "constant_buffers", ())
        for name, buf in sub.named_buffers(recurse=False):
            if buf.is_floating_point() and name not in constant:
                dist.all_reduce(buf)
                buf /= info.world


def checksum(module: nn.Module) -> torch.Tensor:
    """A float64 fingerprint of all parameters (sum of values weighted by position)."""
    total = torch.zeros((), dtype=torch.float64)
    for i, p in enumerate(module.parameters()):
        total += p.detach().double().cpu().sum() * (i + 1)
    return total


def assert_in_sync(modules: dict[str, nn.Module], info: DistInfo) -> None:
    """Raise if any rank's weights differ from rank 0's (they must stay identical)."""
    if not info.enabled:
        return
    for name, module in modules.items():
        local = checksum(module).reshape(1)
        device = next(module.parameters()).device
        gathered = [torch.zeros(1, dtype=torch.float64, device=device) for _ in range(info.world)]
        dist.all_gather(gathered, local.to(device))
        values = [float(g) for g in gathered]
        if max(values) - min(values) > 1e-9 * max(1.0, abs(values[0])):
            raise RuntimeError(f"{name} weights differ across ranks: {values}")


def any_rank(flag: bool, info: DistInfo, device: torch.device | str = "cpu") -> bool:
    """True on every rank when `flag` is true on at least one (so all ranks stop at the same step)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def mean_over_ranks(value: torch.Tensor, info: DistInfo) -> float:
    """The mean of a scalar tensor over all ranks (the value itself for one process)."""
    if not info.enabled:
        return float(value)
    t = value.detach().float().reshape(1).clone()
    dist.all_reduce(t)
    return float(t.item()) / info.world


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo, together: bool = True) -> None:
    """Leave the process group. `together` (a run that ended normally on every rank): a barrier first, so no
    rank tears its gloo connections down while another still writes its last files (one rank then aborted at
    exit, 'terminate called without an active exception', in one CI run); after an error, leave at once."""
    if info.enabled and dist.is_initialized():
        try:
            if together:
                dist.barrier()
        finally:
            dist.destroy_process_group()
