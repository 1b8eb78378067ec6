"""Convolutions with at most 4 outputs split in two (``i2i.nets.narrow_conv``), A/B.

``--kernel`` times the layers themselves, forward and forward + backward, channels_last, the
plain convolution against :func:`~i2i.nets.narrow_conv.conv2d_narrow` (the paper settings'
heads and score maps, and wider layers that show where the split stops paying). Without it,
whole fast-mode train steps (StarGAN: whole ``n_critic`` cycles) at the papers' settings, with
each method's routed layers switched between the split and the plain convolution,
interleaved, the order alternating::

    OMP_NUM_THREADS=2 python benchmarks/narrow_conv_ab.py --kernel
    OMP_NUM_THREADS=2 python benchmarks/narrow_conv_ab.py --reps 6 cyclegan augcyclegan stargan pix2pix

Not a test; the figures go in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from i2i.nets.narrow_conv import NarrowConv2d, conv2d_narrow

sys.path.insert(0, str(Path(__file__).parent))
from harness import Bench, cpu_modes, interleaved_ab, median_ms, paper_setting, print_ab, steps_per_cycle

#: (label, batch, in channels, map side, out channels, kernel, padding, dtype)
KERNELS = [
    ("CycleGAN head (padded map)", 1, 64, 262, 3, 7, 0, torch.float32),
    ("StarGAN head", 16, 64, 128, 3, 7, 3, torch.float32),
    ("Aug. CycleGAN head (padded map)", 32, 32, 70, 3, 7, 0, torch.float32),
    ("CycleGAN head, translation", 1, 64, 262, 3, 7, 0, torch.bfloat16),
    ("PatchGAN score map", 1, 512, 31, 1, 4, 0, torch.bfloat16),
    ("3x3, 3 outputs", 4, 64, 128, 3, 3, 0, torch.float32),
    ("4 outputs", 4, 64, 128, 4, 7, 0, torch.float32),
    ("8 outputs (not routed)", 4, 64, 128, 8, 7, 0, torch.float32),
    ("16 outputs (not routed)", 4, 64, 128, 16, 7, 0, torch.float32),
]


def kernels() -> None:
    print("layer | direct fwd | split fwd | direct fwd+bwd | split fwd+bwd | fwd+bwd ratio")
    for label, batch, channels, side, out, k, pad, dtype in KERNELS:
        torch.manual_seed(0)
        cl = torch.channels_last
        x = torch.randn(batch, channels, side, side, dtype=dtype).contiguous(memory_format=cl).requires_grad_()
        w = (torch.randn(out, channels, k, k) * 0.05).to(dtype).contiguous(memory_format=cl).requires_grad_()
        b = torch.zeros(out, dtype=dtype, requires_grad=True)
        grad = torch.randn_like(F.conv2d(x, w, b, padding=pad))

        def direct(x: torch.Tensor = x, w: torch.Tensor = w, b: torch.Tensor = b, pad: int = pad) -> torch.Tensor:
            return F.conv2d(x, w, b, padding=pad)

        def split(x: torch.Tensor = x, w: torch.Tensor = w, b: torch.Tensor = b, pad: int = pad) -> torch.Tensor:
            return conv2d_narrow(x, w, b, (pad, pad))

        row = []
        for fn in (direct, split):
            with torch.no_grad():
                row.append(median_ms(fn, 9))
        for fn in (direct, split):
            row.append(median_ms(lambda fn=fn, grad=grad: fn().backward(grad), 9))
        print(
            f"{label}, {str(dtype)[6:]} {out}x{channels}x{k}x{k} B{batch} {side}px | "
            + " | ".join(f"{v:.2f}" for v in row)
            + f" | x{row[2] / row[3]:.2f}",
            flush=True,
        )


def steps(methods: list[str], reps: int) -> None:
    fast = {m.name: m for m in cpu_modes()}["fast"]
    for method in methods:
        bench = Bench(paper_setting(method), fast, torch.device("cpu"))
        routed = [m for m in bench.method.modules() if isinstance(m, NarrowConv2d)]
        if not routed:
            print(f"{method}: no layer is routed")
            continue

        def use(cls: type, routed: list[nn.Module] = routed) -> Any:
            return lambda: [setattr(m, "__class__", cls) for m in routed]

        cycle = steps_per_cycle(bench)
        for _ in range(cycle - 1):  # the rest of a warm-up cycle (interleaved_ab steps once per variant)
            bench.train_step()
        times = interleaved_ab(bench, {"split": use(NarrowConv2d), "direct": use(nn.Conv2d)}, reps=reps, steps=cycle)
        print(f"{paper_setting(method).label()}: {len(routed)} layers routed")
        print_ab(f"{method} fast", times)
        del bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("methods", nargs="*", default=["cyclegan", "augcyclegan", "stargan", "pix2pix"])
    parser.add_argument("--kernel", action="store_true", help="time the layers alone")
    parser.add_argument("--reps", type=int, default=6)
    args = parser.parse_args()
    if args.kernel:
        kernels()
    else:
        steps(args.methods, args.reps)


if __name__ == "__main__":
    main()
