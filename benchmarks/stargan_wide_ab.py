"""StarGAN's critic with its 512->1024 convolution on the GEMM past 256 columns, A/B.

``small_maps.WIDE_MAX_COLUMNS`` routes convolutions with 1024+ output channels through one GEMM
up to 512 columns; at StarGAN's paper setting (128 px, batch 16) that is the critic's 512->1024
layer on real + fake (32 images, 4x4 outputs). This times whole ``n_critic`` cycles of the fast
mode with the limit at 512 (today) and at ``MAX_COLUMNS`` (before), interleaved, the order
alternating::

    OMP_NUM_THREADS=2 python benchmarks/stargan_wide_ab.py [reps]

Not a test; the figures go in ``benchmarks/README.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from i2i.nets import small_maps

sys.path.insert(0, str(Path(__file__).parent))
from harness import Bench, cpu_modes, interleaved_ab, paper_setting, print_ab, steps_per_cycle


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    bench = Bench(paper_setting("stargan"), {m.name: m for m in cpu_modes()}["fast"], torch.device("cpu"))
    cycle = steps_per_cycle(bench)
    limits = {"wide 512": small_maps.WIDE_MAX_COLUMNS, "256 for all": small_maps.MAX_COLUMNS}

    def use(limit: int):  # type: ignore[no-untyped-def]
        return lambda: setattr(small_maps, "WIDE_MAX_COLUMNS", limit)

    for _ in range(cycle - 1):  # the rest of a warm-up cycle (interleaved_ab steps once per variant)
        bench.train_step()
    times = interleaved_ab(bench, {name: use(limit) for name, limit in limits.items()}, reps=reps, steps=cycle)
    print_ab("stargan fast", times)


if __name__ == "__main__":
    main()
