"""The bf16 per-image instance norm (training-mode ``F.batch_norm``) against its two suspects.

Issue #21's StarGAN trap blamed this kernel and denormals. This times the forward and
forward+backward of one 1x64x64x64 bf16 map (the StarGAN generator's first norm at 64 px),
channels_last, for ordinary values and for values whose squares are subnormal (x * 1e-20),
with and without ``torch.set_flush_denormal``, at the thread count given::

    OMP_NUM_THREADS=1 python benchmarks/norm_probe.py
    OMP_NUM_THREADS=2 python benchmarks/norm_probe.py

Min and max over repetitions are printed: on a shared machine the 2-thread maximum shows
OpenMP threads waiting for a descheduled partner. Not a test.
"""

from __future__ import annotations

import os
import time

import torch
import torch.nn.functional as F


def timings(x: torch.Tensor, reps: int = 20) -> tuple[float, float, float]:
    """(min fwd, max fwd, median fwd+bwd) in ms."""
    g = x.clone().requires_grad_()
    fwd, both = [], []
    for _ in range(reps):
        start = time.perf_counter()
        F.batch_norm(x, None, None, training=True)
        fwd.append(time.perf_counter() - start)
        start = time.perf_counter()
        y = F.batch_norm(g, None, None, training=True)
        y.backward(torch.ones_like(y))
        both.append(time.perf_counter() - start)
    both.sort()
    return min(fwd) * 1e3, max(fwd) * 1e3, both[len(both) // 2] * 1e3


def main() -> None:
    torch.manual_seed(0)
    base = torch.randn(1, 64, 64, 64)
    print(f"threads {torch.get_num_threads()}, load average {os.getloadavg()}")
    for name, values in (("randn", base), ("randn * 1e-20 (subnormal squares)", base * 1e-20)):
        x = values.bfloat16().contiguous(memory_format=torch.channels_last)
        for flush in (False, True):
            torch.set_flush_denormal(flush)
            lo, hi, both = timings(x)
            print(f"{name:34} flush={flush!s:5}  fwd {lo:6.2f}-{hi:6.2f} ms  fwd+bwd median {both:6.2f} ms")
    torch.set_flush_denormal(False)


if __name__ == "__main__":
    main()
