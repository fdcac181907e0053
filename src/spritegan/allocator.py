"""Keep freed memory for reuse instead of handing it back to the kernel (glibc on Linux).

PyTorch on a CPU allocates every tensor with malloc. glibc serves blocks above 32 MB (and, until it adapts,
above 128 kB) with a fresh mmap and unmaps them on free, so each large temporary of a training step starts as
untouched pages, and touching each 4 kB page costs a page fault. At 96x128 a `sprite` step makes dozens of
such tensors (D's 20-channel input of 64 images is 63 MB) and spent about a quarter of its time in page
faults: 30 against 41 images per CPU-second without and with this setting, at about 1.4x the peak memory
(docs/benchmarks.md). At 24x24 the tensors are small and it changes nothing.

`reuse_freed_memory()` tells glibc to serve every block from its heap (no mmap) and to give memory back only
when more than 2 GB lies free at the top of it, which is what tcmalloc and jemalloc, the allocators Intel's
PyTorch tuning guide suggests preloading, do by design. `SPRITEGAN_MALLOC_REUSE=0` leaves malloc as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: about 2 GB


@functools.lru_cache(maxsize=1)
def reuse_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks for the next allocation (see the module doc); True when set.
    Once per process, before the large allocations start (the CLI and `Trainer` call it)."""
    if os.environ.get("SPRITEGAN_MALLOC_REUSE", "").strip() == "0" or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        version = libc.gnu_get_libc_version  # glibc only: musl and others have no such function
    except (OSError, AttributeError):
        return False
    version.restype = ctypes.c_char_p
    if not version():
        return False
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
