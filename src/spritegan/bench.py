"""Shared helpers of the benchmark scripts in the repository's benchmarks/ folder.

The scripts compare against a reference measured in the same run, interleaved, so a shared machine's load
affects both sides alike; these helpers describe the machine and its load, time, measure memory and print
markdown tables.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from spritegan.errors import SpriteganError

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """Import benchmarks/<name>.py from this checkout (the scripts are not part of the wheel)."""
    path = BENCH_DIR / f"{name}.py"
    if not path.is_file():
        raise SpriteganError(f"{path}: benchmark script not found (run from a source checkout of spritegan)")
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages from /proc/loadavg ("n/a" elsewhere)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def cpu_name() -> str:
    """The CPU model name from /proc/cpuinfo, else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: str = "cpu") -> str:
    """One line naming the machine, torch and the accelerator used."""
    text = (
        f"{platform.machine()}, {cpu_name()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, Python {platform.python_version()}"
    )
    if device.startswith("cuda") and torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name(0)}"
    return text


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB: VmHWM, else ru_maxrss (which survives fork + exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / (1024 * 1024) if sys.platform == "darwin" else kib / 1024


def current_rss_mib() -> float:
    """This process's current resident set size in MiB (from /proc/self/statm; 0 where unavailable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def sync(device: Any) -> None:
    """Wait for queued GPU work so wall-clock timings are honest (no-op on CPU)."""
    if str(device).startswith("cuda") and torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: Any = "cpu") -> float:
    """Seconds one call of fn takes, synchronised with the device."""
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def interleave(cases: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Run every case once per repeat, in a rotating order; each call returns a rate (images/s)."""
    names = list(cases)
    out: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            out[name].append(cases[name]())
    return out


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of fn as torch.utils.flop_counter counts them (matmuls, convolutions and their
    backward passes, double backward included; elementwise ops count 0)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def matmul_peak(
    dtype: Any = None, n: int = 2048, repeats: int = 3, threads: int = 0, device: Any = "cpu"
) -> float:
    """GFLOP/s of an n x n matmul (2 n^3 FLOPs) in dtype on device, the best of `repeats` timings.

    "Peak" is what this machine reaches on the friendliest dense kernel at that moment, so a training
    step's GFLOP/s divided by it is the share of the reachable rate the step gets.
    """
    dtype = dtype or torch.float32
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        a = torch.randn(n, n, generator=gen).to(device, dtype)
        b = torch.randn(n, n, generator=gen).to(device, dtype)
        a @ b  # warm-up
        best = min(timed(lambda: a @ b, device) for _ in range(repeats))
    finally:
        torch.set_num_threads(old)
    return 2 * n**3 / best / 1e9


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    """min-max of the repeats, for the table."""
    return f"{min(values):.0f}-{max(values):.0f}" if values else "-"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A GitHub markdown table; align is one character per column, "l" or "r" (default: first l, rest r)."""
    align = align or "l" + "r" * (len(headers) - 1)
    cells = [[fmt(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("| " + " | ".join("---" if a == "l" else "---:" for a in align) + " |")
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def fmt(value: Any) -> str:
    """Numbers rounded for tables: 3 significant digits below 10, whole numbers above."""
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"
    return str(value)


def write_section(path: str | Path, name: str, text: str) -> Path:
    """Replace the text between <!-- name:start --> and <!-- name:end --> in a markdown file (or append it)."""
    path = Path(path)
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{text.rstrip()}\n{end}\n"
    old = path.read_text() if path.is_file() else ""
    if start in old and end in old:
        head, rest = old.split(start, 1)
        new = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        new = (old.rstrip() + "\n\n" if old.strip() else "") + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)
    return path
