"""Where bf16 autocast pays: CUDA GPUs, and CPUs with native bf16 dot products (AVX512-BF16 or AMX).

On other CPUs torch emulates bf16 matmuls and convolutions, which is slower than fp32, so `train.amp` (and
the Inception features' precision mode) quietly means fp32 there. `SPRITEGAN_CPU_BF16=0` turns the CPU
path off without touching a run's config (and `=1` forces it, for tests on machines without the ISA).
"""

from __future__ import annotations

import functools
import os

import torch


@functools.lru_cache(maxsize=1)
def cpu_bf16_native() -> bool:
    """True when oneDNN is available and the CPU reports AVX512-BF16 or AMX tiles."""
    forced = os.environ.get("SPRITEGAN_CPU_BF16", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if not torch.backends.mkldnn.is_available():
        return False
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    for name in probes:
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and probe():
                return True
        except RuntimeError:  # a build without cpuinfo
            continue
    return False


def bf16_autocast_ok(device: torch.device | str) -> bool:
    """Whether bf16 autocast is worth turning on for `device` (CUDA: always, as before; CPU: native bf16)."""
    kind = torch.device(device).type
    if kind == "cuda":
        return True
    return kind == "cpu" and cpu_bf16_native()
