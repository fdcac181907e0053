"""Where bf16 autocast pays: CUDA GPUs, and CPUs on which bf16 convolutions are measured to be faster.

On CPUs without native bf16 dot products (AVX512-BF16 or AMX) torch emulates bf16, which is slower than fp32.
Native bf16 is not enough either: on an Intel Xeon that reports AVX512-BF16 but no AMX, oneDNN ran bf16
convolutions and matmuls at 0.5-0.6x the fp32 rate (docs/benchmarks.md), while an AMD Zen 5 ran them faster.
So on a CPU with native bf16 a short probe (a convolution's forward and backward in both precisions, about
0.3 s) decides, once per machine and torch version: its result is kept in ~/.cache/spritegan/cpu-bf16.json
($SPRITEGAN_MODEL_CACHE's parent folder when set), so runs and resumes on one machine decide alike.
`SPRITEGAN_CPU_BF16=0` turns the CPU path off without touching a run's config (`=1` forces it, for tests).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import time
from pathlib import Path

import torch

# bf16 must beat fp32 by this much on the probe to be used: a near tie is not worth bf16's coarser numbers
BF16_MIN_SPEEDUP = 1.15


def flush_denormals() -> bool:
    """Treat subnormal floats as zero on this thread and on every CPU thread it starts from now on.

    A trained palette head is sure of its colours: most of its softmax probabilities fall below 1e-38,
    and x86 CPUs (Intel's most) run arithmetic on such subnormal numbers up to 100x slower. Unflushed, a
    `sprite` run on the punks slowed from 252 to 106 images per second within 1,300 steps, and the
    head alone ran 10x slower (docs/benchmarks.md). Worker threads inherit the setting only when they are
    created after it, so the CLI calls this before any tensor work. Returns False where the CPU has no
    such mode (flushing changes results only by values below 1e-38)."""
    return bool(torch.set_flush_denormal(True))


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


def probe_bf16_speedup(repeats: int = 3) -> float:
    """fp32 time / bf16 time of a small convolution's forward and backward (a sprite G/D layer's shape), the
    best of `repeats` each after a warm-up, on this process's threads: > 1 means bf16 is faster here."""
    gen = torch.Generator().manual_seed(0)
    x32 = torch.randn(64, 64, 16, 16, generator=gen).contiguous(memory_format=torch.channels_last)
    w32 = torch.randn(64, 64, 3, 3, generator=gen).contiguous(memory_format=torch.channels_last)

    def best(dtype: torch.dtype) -> float:
        x = x32.to(dtype).requires_grad_(True)
        w = w32.to(dtype).requires_grad_(True)
        times = []
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            torch.nn.functional.conv2d(x, w, padding=1).sum().backward()
            if i:  # the first call is the warm-up (oneDNN builds its kernels)
                times.append(time.perf_counter() - t0)
        return min(times)

    return best(torch.float32) / best(torch.bfloat16)


def _probe_cache_file() -> Path:
    models = os.environ.get("SPRITEGAN_MODEL_CACHE")
    root = Path(models).parent if models else Path.home() / ".cache" / "spritegan"
    return root / "cpu-bf16.json"


def _machine_key() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu} | {os.cpu_count()} cpus | torch {torch.__version__}"


def cached_bf16_speedup(cache_file: Path | None = None) -> float:
    """The probe's speedup for this machine and torch version, measured once and kept in `cache_file`."""
    path = cache_file or _probe_cache_file()
    key = _machine_key()
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    value = known.get(key)
    if isinstance(value, (int, float)) and value > 0:
        return float(value)
    speedup = probe_bf16_speedup()
    known[key] = round(speedup, 3)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known, indent=1) + "\n")
        tmp.replace(path)
    except OSError:  # a read-only home: decide from this measurement alone
        pass
    return speedup


@functools.lru_cache(maxsize=1)
def cpu_bf16_pays() -> bool:
    """True when this CPU has native bf16 and bf16 convolutions measured faster than fp32 (or when forced
    with SPRITEGAN_CPU_BF16=1)."""
    forced = os.environ.get("SPRITEGAN_CPU_BF16", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    return cpu_bf16_native() and cached_bf16_speedup() >= BF16_MIN_SPEEDUP


def bf16_autocast_ok(device: torch.device | str) -> bool:
    """Whether bf16 autocast is worth turning on for `device` (CUDA: always, as before; CPU: native bf16
    that the probe measured faster than fp32 on this machine)."""
    kind = torch.device(device).type
    if kind == "cuda":
        return True
    return kind == "cpu" and cpu_bf16_pays()


def cpu_bf16_reason() -> str:
    """Why train.amp=on does or does not use bf16 on this CPU, for the run's first lines."""
    forced = os.environ.get("SPRITEGAN_CPU_BF16", "").strip()
    if forced in ("0", "1"):
        return f"set by SPRITEGAN_CPU_BF16={forced}"
    if not cpu_bf16_native():
        return "this CPU has no native bf16"
    return f"bf16 convolutions ran {cached_bf16_speedup():.2f}x the fp32 speed on this CPU"
