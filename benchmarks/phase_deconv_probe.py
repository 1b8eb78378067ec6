"""A stride-2 transposed convolution as one ordinary convolution: the lever measured, not kept.

A ``ConvTranspose2d(k=4, s=2, p=1)`` (every up level of the U-Net) writes each output phase
``(r, s)`` (even/odd row, even/odd column) from a 2x2 neighbourhood of its input with a 2x2
slice of its kernel. All four phases are one ``conv2d`` with a 2x2 kernel, padding 1 and
``4 * out_channels`` outputs, whose shifted windows are then interleaved: the same sums, in
another order. This script times, in bf16 channels_last at 2 threads, forward only (inference)
on the U-Net's transposed levels: oneDNN's transposed convolution, the small-map GEMM
(``i2i.nets.small_maps``, where it would route), the phase form with its kernel made ahead,
and what making that kernel costs per call. ``--backward`` adds forward + backward of the
phase form built from the 4x4 weight inside autograd (as training would need)::

    OMP_NUM_THREADS=2 python benchmarks/phase_deconv_probe.py [--backward]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from i2i.nets.small_maps import MAX_COLUMNS, conv_transpose2d_gemm

sys.path.insert(0, str(Path(__file__).parent))
from harness import median_ms

#: (in, out, input map, batch): pix2pix's unet_256 transposed levels at translate's batch 4 and training's 1
LAYERS = [
    (1024, 256, 16, 4),
    (1024, 512, 8, 4),
    (1024, 512, 4, 4),
    (512, 128, 32, 4),
    (256, 64, 64, 4),
    (128, 3, 128, 4),
    (1024, 256, 16, 1),
    (1024, 512, 8, 1),
    (512, 256, 64, 1),
]
CL = torch.channels_last


def phase_kernel(weight: torch.Tensor) -> torch.Tensor:
    """``[in, out, 4, 4]`` -> ``[4 * out, in, 2, 2]``, phases ``(r, s)`` in order: phase ``r``
    of a dimension reads input rows ``m - 1 + r, m + r`` with kernel taps ``3 - r, 1 - r``."""
    cin, cout = weight.shape[:2]
    taps = weight.view(cin, cout, 2, 2, 2, 2)  # [in, out, a, r, b, s], tap = 2a + r (then flipped)
    return taps.permute(3, 5, 1, 0, 2, 4).flip(0, 1, 4, 5).reshape(4 * cout, cin, 2, 2)


def phase_deconv(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    batch, _, h, w = x.shape
    cout = kernel.shape[0] // 4
    out = F.conv2d(x, kernel, padding=1).permute(0, 2, 3, 1).reshape(batch, h + 1, w + 1, 2, 2, cout)
    dst = torch.empty(batch, h, 2, w, 2, cout, dtype=x.dtype)
    for r in (0, 1):
        for s in (0, 1):
            dst[:, :, r, :, s, :] = out[:, r : r + h, s : s + w, r, s, :]
    return dst.view(batch, 2 * h, 2 * w, cout).permute(0, 3, 1, 2)


def probe(cin: int, cout: int, size: int, batch: int, backward: bool) -> str:
    """One table row for a ``cin -> cout`` layer on a ``size`` map at ``batch``."""
    weight, x = torch.randn(cin, cout, 4, 4) * 0.02, torch.randn(batch, cin, size, size)
    exact = F.conv_transpose2d(x, weight, stride=2, padding=1)
    error = (phase_deconv(x.contiguous(memory_format=CL), phase_kernel(weight)) - exact).abs().max().item()
    xb, wb = x.bfloat16().contiguous(memory_format=CL), weight.bfloat16().contiguous(memory_format=CL)
    kb = phase_kernel(wb).contiguous(memory_format=CL)
    with torch.no_grad():
        dnn = median_ms(lambda: F.conv_transpose2d(xb, wb, stride=2, padding=1), 15)
        routed = batch * size * size <= MAX_COLUMNS
        gemm = (
            f"{median_ms(lambda: conv_transpose2d_gemm(xb, wb, None, (2, 2), (1, 1), (0, 0)), 15):.2f}"
            if routed
            else "-"
        )
        phases = median_ms(lambda: phase_deconv(xb, kb), 15)
        prep = median_ms(lambda: phase_kernel(wb).contiguous(memory_format=CL), 15)
    row = f"{cin}->{cout} {size}x{size} (B{batch}) | {dnn:.2f} | {gemm} | {phases:.2f} | {prep:.2f} | {error:.1e}"
    if not backward:
        return row
    xg, wg = xb.clone().requires_grad_(), wb.clone().requires_grad_()
    grad = torch.randn(batch, cout, 2 * size, 2 * size).bfloat16().contiguous(memory_format=CL)

    def step(fn: Callable[[], torch.Tensor]) -> None:
        xg.grad = wg.grad = None
        fn().backward(grad)

    dnn_step = median_ms(lambda: step(lambda: F.conv_transpose2d(xg, wg, stride=2, padding=1)), 7)
    phase_step = median_ms(lambda: step(lambda: phase_deconv(xg, phase_kernel(wg).contiguous(memory_format=CL))), 7)
    return row + f" | fwd+bwd oneDNN {dnn_step:.2f}, phases {phase_step:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backward", action="store_true", help="also forward + backward, oneDNN vs phase form")
    args = parser.parse_args()
    torch.manual_seed(0)
    print("layer (batch) | oneDNN | GEMM | phases | kernel per call | max error vs fp32 oneDNN (ms)")
    for layer in LAYERS:
        print(probe(*layer, backward=args.backward), flush=True)


if __name__ == "__main__":
    main()
