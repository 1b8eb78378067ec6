"""The trainer's finite-gradient check, a sum per gradient against the checks it replaced, A/B.

Every optimizer update first checks that its gradients are finite (a NaN update would destroy
the weights). Without ``train.grad_clip`` that check needs no norm: one sum per gradient is
non-finite whenever an element is, and skips the squares. This times pix2pix train steps (the
paper's setting, 256 px batch 1, 57M weights: the check reads every gradient) with
``TrainContext``'s check swapped between the two, interleaved, three steps per repetition::

    OMP_NUM_THREADS=2 python benchmarks/finite_check_ab.py fast        # or fp32_nchw
    OMP_NUM_THREADS=2 python benchmarks/finite_check_ab.py fast cyclegan   # another method's paper setting

Not a test; the figures go in ``benchmarks/README.md``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

import i2i.train.context as context

sys.path.insert(0, str(Path(__file__).parent))
from harness import Bench, cpu_modes, paper_setting


def by_norm(grads: list[torch.Tensor]) -> bool:
    """The check as it was: the total norm, then isfinite."""
    return bool(torch.isfinite(context._total_norm(grads)).item())


def by_fp32_sums(grads: list[torch.Tensor]) -> bool:
    """The sum check as it was until 2026-12-03: every sum asked for in fp32, which converts a
    bf16 gradient (a weight copy's) to fp32 in full first."""
    return bool(torch.isfinite(torch.stack([g.sum(dtype=torch.float32) for g in grads]).sum()).item())


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "fast"
    method = sys.argv[2] if len(sys.argv) > 2 else "pix2pix"
    bench = Bench(paper_setting(method), {m.name: m for m in cpu_modes()}[mode], torch.device("cpu"))
    for _ in range(2):
        bench.train_step()
    checks = {"sum": context._all_finite, "fp32 sums": by_fp32_sums, "norm": by_norm}
    times: dict[str, list[float]] = {name: [] for name in checks}
    for _ in range(6):
        for name, check in checks.items():
            context._all_finite = check
            start = time.perf_counter()
            for _ in range(3):
                bench.train_step()
            times[name].append((time.perf_counter() - start) / 3 * 1e3)
    for name, values in times.items():
        print(f"{method} {mode} {name}: median {statistics.median(values):.1f} ms/step {[round(v) for v in values]}")
    for other in ("fp32 sums", "norm"):
        ratio = statistics.median([o / s for s, o in zip(times["sum"], times[other])])
        print(f"{other} / sum: {ratio:.3f}")


if __name__ == "__main__":
    main()
