"""Train steps with glibc malloc keeping freed memory (``train.keep_freed_memory``) or not.

malloc's setting is per process, so each variant is its own process; run them alternately::

    for v in release 64 release 64; do
        OMP_NUM_THREADS=2 python benchmarks/kept_memory_ab.py fast pix2pix $v
    done

``release`` is malloc's default; a number is the mmap threshold in MiB with trimming off
(``i2i.allocator``; 64 is i2i's). Prints the median step time and the process's RSS peak.
``N`` / ``W`` in the environment set the timed and warm-up steps (cover StarGAN's ``n_critic``
cycle of 5). Not a test; the figures go in ``benchmarks/README.md``.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from pathlib import Path

import attrs
import torch

import i2i.allocator as allocator

sys.path.insert(0, str(Path(__file__).parent))
from harness import Bench, cpu_modes, paper_setting


def main() -> None:
    mode_name, method, variant = sys.argv[1], sys.argv[2], sys.argv[3]
    keep = variant != "release"
    if keep:
        allocator.MMAP_THRESHOLD = int(variant) << 20
    mode = attrs.evolve({m.name: m for m in cpu_modes()}[mode_name], keep_freed_memory=keep)
    bench = Bench(paper_setting(method), mode, torch.device("cpu"))
    for _ in range(int(os.environ.get("W", 2))):
        bench.train_step()
    times = []
    for _ in range(int(os.environ.get("N", 8))):
        start = time.perf_counter()
        bench.train_step()
        times.append((time.perf_counter() - start) * 1e3)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{method} {mode_name} {variant}: median {statistics.median(times):.1f} ms/step, "
        f"sum {sum(times):.0f} ms, RSS peak {peak:.0f} MiB {[round(t) for t in times]}"
    )


if __name__ == "__main__":
    main()
