"""Keep the memory a step frees inside the process, so the next step reuses it.

Every training step (and every translated image) allocates and frees the same large tensors:
activations, each weight's fresh gradient, autocast's low-precision copies. glibc's malloc
hands blocks above its adaptive mmap threshold (at most 32 MiB) back to the kernel on
``free``, and trims the heap top once more than twice that threshold is free there, so the
next step takes a page fault for every 4 KiB page of them again: in a pix2pix step at the
paper's setting that was 8% of the time. A fixed mmap threshold above the tensors' sizes and a
trim threshold that never fires keep those pages in the process; torch's CPU allocator has no
cache of its own to do this.

Measured on this project's 2-core CPU at the papers' settings (``benchmarks/README.md``,
"Keeping freed memory"): train steps 5-10% faster for pix2pix, CycleGAN and StarGAN, in bf16
and fp32 alike, and ``i2i translate`` of 40 photos 12% faster. The price: memory the process
frees is kept for its later allocations, not returned to the system, so its resident size
stays near the run's peak until it exits (the peak itself rose 0-4%).

It changes malloc for the whole process, so it is applied once, where i2i owns the process's
work: training on a CPU (``train.keep_freed_memory``, on by default) and translation on a CPU.
Elsewhere than glibc (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

#: ``mallopt`` parameter numbers (glibc's ``malloc.h``)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: Blocks up to this size come from the heap, not from mmap: pix2pix's 1024x512x4x4 fp32
#: weight and its gradient are 32 MiB each. Larger blocks (a big batch's feature maps) are
#: still mapped per use; 256 MiB was no faster and kept more resident (benchmarks/README.md).
MMAP_THRESHOLD = 64 << 20
#: Free memory at the heap top beyond this is returned to the system: in effect never.
TRIM_THRESHOLD = 2**31 - 1


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc malloc to keep freed blocks (once per process); whether it took effect."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
