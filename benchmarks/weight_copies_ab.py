"""Train steps with and without bf16 weight copies (``train.weight_copies``), interleaved,
beside the fp32 NCHW reference mode of ``run.py``.

The variants are built in one process from the same seed and timed in turns, several steps
each, so the machine's load hits all alike (``run.py`` times one step per repetition)::

    OMP_NUM_THREADS=2 python benchmarks/weight_copies_ab.py pix2pix

Prints each variant's median step time and the ratios (the numerics are pinned by
``tests/test_weight_copies.py``, not here: dropout draws differ between interleaved models).
``N`` / ``W`` in the environment set the timed and warm-up rounds. Not a test; the figures go
in ``benchmarks/README.md``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import attrs
import torch

sys.path.insert(0, str(Path(__file__).parent))
from harness import Bench, cpu_modes, paper_setting


def main() -> None:
    method = sys.argv[1]
    modes = {m.name: m for m in cpu_modes()}
    fast = modes["fast"]
    benches = {
        "fp32_nchw": Bench(paper_setting(method), modes["fp32_nchw"], torch.device("cpu")),
        "casts": Bench(paper_setting(method), attrs.evolve(fast, weight_copies=False), torch.device("cpu")),
        "copies": Bench(paper_setting(method), fast, torch.device("cpu")),
    }
    copied = sum(getattr(o, "weight_copies", None) is not None for o in benches["copies"].optimizers.values())
    print(f"{method}: {copied} of {len(benches['copies'].optimizers)} optimizers keep weight copies")
    for _ in range(int(os.environ.get("W", 2))):
        for bench in benches.values():
            bench.train_step()
    times: dict[str, list[float]] = {name: [] for name in benches}
    for _ in range(int(os.environ.get("N", 8))):
        for name, bench in benches.items():
            start = time.perf_counter()
            bench.train_step()
            times[name].append((time.perf_counter() - start) * 1e3)
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"  {name}: median {medians[name]:.1f} ms/step {[round(x) for x in t]}")
    print(f"  casts / copies: {medians['casts'] / medians['copies']:.3f}x")
    for name in ("casts", "copies"):
        print(f"  fp32_nchw / {name}: {medians['fp32_nchw'] / medians[name]:.3f}x")


if __name__ == "__main__":
    main()
