"""Each method's own ceiling: its convolutions' fast/fp32 ratio, measured inside its train step.

The machine peaks in ``run.py`` time one 3x3 256->256 convolution; a method's step is made of
other shapes (4x4 strided convolutions, transposed convolutions, 3-channel heads, small maps
routed to one GEMM), whose bf16/fp32 ratios oneDNN makes lower or higher. This runs a method's
train step at its paper setting in the fp32 NCHW mode and in the fast mode, times every
convolution forward and backward (and, in the fast mode, the GEMM, unfold and fold that replace
small-map convolutions) with a dispatch mode, and reports:

* the step ratio (plain steps), the convolutions' ratio (steps under the timer), and the time
  left outside the convolutions in each mode (the difference);
* the layers that cost the most, each with its own fp32 -> fast ratio.

A step cannot beat its convolutions' ratio by much unless the rest shrinks by more, so the
conv ratio is the ceiling the step is judged against::

    OMP_NUM_THREADS=2 python benchmarks/conv_ratio.py --methods pix2pix cyclegan augcyclegan stargan

Not a test; the figures go in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).parent))
from harness import Bench, cpu_modes, paper_setting, steps_per_cycle

#: ops that do a convolution's work: oneDNN's, and the small-map GEMM route's (i2i/nets/small_maps.py)
CONV_WORK = ("convolution.default", "convolution_backward.default", "mm.default", "im2col.default", "col2im.default")


def layer_key(name: str, args: tuple[Any, ...]) -> str:
    """One key per layer and pass, the same in both modes (dtypes and layouts left out)."""
    if name == "convolution.default":
        x, w, transposed = args[0], args[1], args[6]
        return f"{'convT' if transposed else 'conv'} fwd x{list(x.shape)} w{list(w.shape)} s{list(args[3])}"
    if name == "convolution_backward.default":
        x, w, transposed, mask = args[1], args[2], args[7], args[10]
        grads = "".join(n for n, m in zip(("dx", "dw", "db"), mask) if m)
        return f"{'convT' if transposed else 'conv'} bwd {grads} x{list(x.shape)} w{list(w.shape)} s{list(args[4])}"
    shapes = [list(a.shape) for a in args if isinstance(a, torch.Tensor)]
    return f"{name.split('.')[0]} {shapes}"


class ConvTimer(TorchDispatchMode):
    """Wall time of each convolution-work op, summed per layer key."""

    def __init__(self) -> None:
        super().__init__()
        self.ms: dict[str, float] = defaultdict(float)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if func.__name__ not in CONV_WORK:
            return func(*args, **(kwargs or {}))
        start = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        self.ms[layer_key(func.__name__, args)] += (time.perf_counter() - start) * 1e3
        return out


def measure(benches: dict[str, Bench], reps: int) -> dict[str, tuple[float, dict[str, float]]]:
    """Per mode: (ms per plain step, conv-work ms per step by layer). Each repetition runs, per
    mode, one whole cycle plainly (timed: the step) and one under the timer (the layers), with
    the modes interleaved so that a busy moment of a shared machine falls on both. A cycle is
    StarGAN's ``n_critic`` steps, its generator step included. The step is timed outside the
    dispatch mode because under one the weight copies' compiled Adam runs eagerly
    (``i2i/weight_copies.py``)."""
    totals = {mode: [0.0, 0, ConvTimer()] for mode in benches}
    for _ in range(reps):
        for mode, bench in benches.items():
            cycle = steps_per_cycle(bench)
            start = time.perf_counter()
            for _ in range(cycle):
                bench.train_step()
            totals[mode][0] += (time.perf_counter() - start) * 1e3
            totals[mode][1] += cycle
            with totals[mode][2]:
                for _ in range(cycle):
                    bench.train_step()
    return {mode: (t[0] / t[1], {k: v / t[1] for k, v in t[2].ms.items()}) for mode, t in totals.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["pix2pix", "cyclegan", "augcyclegan", "stargan"])
    parser.add_argument("--reps", type=int, default=3, help="whole cycles timed per mode, interleaved")
    parser.add_argument("--top", type=int, default=8, help="layers listed per method")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    results: dict[str, Any] = {"command": command, "torch_threads": torch.get_num_threads(), "methods": {}}
    print(command)
    modes = {m.name: m for m in cpu_modes()}
    for method in args.methods:
        benches = {
            name: Bench(paper_setting(method), modes[name], torch.device("cpu")) for name in ("fp32_nchw", "fast")
        }
        for bench in benches.values():
            for _ in range(2 * steps_per_cycle(bench)):  # warm-up: optimizer state, caches, compiles
                bench.train_step()
        measured = measure(benches, args.reps)
        del benches
        gc.collect()
        (step_fp32, conv_fp32), (step_fast, conv_fast) = measured["fp32_nchw"], measured["fast"]
        total_fp32, total_fast = sum(conv_fp32.values()), sum(conv_fast.values())
        layers = sorted(set(conv_fp32) | set(conv_fast), key=lambda k: -conv_fp32.get(k, 0.0))
        row = {
            "setting": paper_setting(method).label(),
            "step_ms": {"fp32_nchw": round(step_fp32, 1), "fast": round(step_fast, 1)},
            "step_ratio": round(step_fp32 / step_fast, 3),
            "conv_ms": {"fp32_nchw": round(total_fp32, 1), "fast": round(total_fast, 1)},
            "conv_ratio": round(total_fp32 / total_fast, 3),
            "rest_ms": {"fp32_nchw": round(step_fp32 - total_fp32, 1), "fast": round(step_fast - total_fast, 1)},
            "top_layers": [
                {"layer": k, "fp32_ms": round(conv_fp32.get(k, 0.0), 1), "fast_ms": round(conv_fast.get(k, 0.0), 1)}
                for k in layers[: args.top]
            ],
        }
        results["methods"][method] = row
        print(
            f"{row['setting']}: step {step_fp32:.0f} -> {step_fast:.0f} ms ({row['step_ratio']:.2f}x); "
            f"convolutions {total_fp32:.0f} -> {total_fast:.0f} ms ({row['conv_ratio']:.2f}x); "
            f"the rest {row['rest_ms']['fp32_nchw']:.0f} -> {row['rest_ms']['fast']:.0f} ms"
        )
        for layer in row["top_layers"]:
            fast = layer["fast_ms"]
            ratio = f"{layer['fp32_ms'] / fast:5.2f}x" if fast else "  (GEMM)"
            print(f"    {layer['fp32_ms']:8.1f} -> {fast:8.1f} ms {ratio}  {layer['layer']}")
    results["loadavg_after"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
