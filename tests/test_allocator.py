"""reuse_freed_memory: glibc then serves a large tensor from its heap instead of a fresh mmap (and the
setting can be turned off). Each case runs in its own process, since the setting lasts a process's life."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")

PROBE = """
import torch
from spritegan.allocator import reuse_freed_memory
ok = reuse_freed_memory()
big = torch.ones(40_000_000)  # 160 MB
heap = 0
for line in open('/proc/self/maps'):
    if line.rstrip().endswith('[heap]'):
        start, end = (int(a, 16) for a in line.split()[0].split('-'))
        heap += end - start
print(ok, heap >= big.numel() * 4)
"""


@pytest.mark.parametrize("setting, expected", [("", "True True"), ("0", "False False")])
def test_large_tensors_come_from_the_heap_unless_turned_off(setting, expected):
    env = {**os.environ, "SPRITEGAN_MALLOC_REUSE": setting}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
