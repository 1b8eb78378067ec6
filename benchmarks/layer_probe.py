"""One layer, fp32 NCHW against bf16 channels_last: the evidence a per-layer precision rule needs.

Issue #21 lists per-layer precision as a lever: on the AVX512-BF16 EPYC, pix2pix's
1024->512 transposed convolutions (the U-Net's inner up levels at batch 1) ran *slower* in
bf16. This times forward + backward (input and weight gradients) of those layers, and of the
outer 3x3 conv for comparison, in both precisions, interleaved, median of ``--reps``; a third column has the layer's weights
already in bf16 (no autocast cast per forward, no fp32 gradient copy back): what persistent
bf16 weight copies would leave of the layer's cost::

    OMP_NUM_THREADS=1 python benchmarks/layer_probe.py

Not a test; the figures go in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn

#: (label, layer factory, input shape): pix2pix's unet_256 layers at 256 px, batch 1
LAYERS = (
    ("convT 1024->512 on 8x8", lambda: nn.ConvTranspose2d(1024, 512, 4, 2, 1, bias=False), (1, 1024, 8, 8)),
    ("convT 1024->512 on 16x16", lambda: nn.ConvTranspose2d(1024, 512, 4, 2, 1, bias=False), (1, 1024, 16, 16)),
    ("convT 1024->256 on 32x32", lambda: nn.ConvTranspose2d(1024, 256, 4, 2, 1, bias=False), (1, 1024, 32, 32)),
    ("conv 256->256 3x3 on 64x64", lambda: nn.Conv2d(256, 256, 3, 1, 1, bias=False), (1, 256, 64, 64)),
)


def step(layer: nn.Module, x: torch.Tensor, bf16: bool | str) -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16 is True):
        y = layer(x)
    y.float().sum().backward()
    layer.zero_grad(set_to_none=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"threads {torch.get_num_threads()}, load average {os.getloadavg()}")
    for label, make, shape in LAYERS:
        runs: dict[bool | str, tuple[nn.Module, torch.Tensor, list[float]]] = {}
        for bf16 in (False, True, "weights"):
            layer = make()
            x = torch.randn(shape, requires_grad=True)
            if bf16:
                layer = layer.to(memory_format=torch.channels_last)
                x = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_()
            if bf16 == "weights":
                layer, x = layer.bfloat16(), x.detach().bfloat16().requires_grad_()
            step(layer, x, bf16)  # warm-up: oneDNN primitives
            runs[bf16] = (layer, x, [])
        for _ in range(args.reps):
            for bf16, (layer, x, times) in runs.items():
                start = time.perf_counter()
                step(layer, x, bf16)
                times.append(time.perf_counter() - start)
        fp32, bf16, held = (statistics.median(runs[k][2]) * 1e3 for k in (False, True, "weights"))
        print(
            f"{label:28} fp32 NCHW {fp32:7.1f} ms  bf16 channels_last {bf16:7.1f} ms (x{fp32 / bf16:4.2f})  "
            f"bf16 weights held {held:7.1f} ms (x{fp32 / held:4.2f})"
        )


if __name__ == "__main__":
    main()
