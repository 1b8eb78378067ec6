"""One layer, oneDNN's convolution against the same layer as one GEMM (``i2i.nets.small_maps``).

The evidence behind ``small_maps.MAX_COLUMNS`` and ``WIDE_MAX_COLUMNS``: forward + backward of convolutions and
transposed convolutions from pix2pix's U-Net (batch 1) and StarGAN's critic (batch 16) and a
few larger maps, in the given precision, channels_last, median of ``--reps``::

    OMP_NUM_THREADS=1 python benchmarks/small_map_probe.py --dtype bfloat16

Not a test; the figures go in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from i2i.nets import small_maps

sys.path.insert(0, str(Path(__file__).parent))
from harness import median_ms

#: (kind, batch, in channels, out channels, input side, kernel, stride, padding)
LAYERS = (
    ("conv", 1, 64, 128, 128, 4, 2, 1),
    ("conv", 16, 256, 512, 16, 4, 2, 1),
    ("conv", 16, 512, 1024, 8, 4, 2, 1),
    ("conv", 16, 1024, 2048, 4, 4, 2, 1),
    ("conv", 1, 256, 512, 32, 4, 2, 1),
    ("conv", 1, 512, 512, 16, 4, 2, 1),
    ("conv", 1, 512, 512, 8, 4, 2, 1),
    ("conv", 1, 512, 512, 2, 4, 2, 1),
    ("convT", 1, 512, 512, 1, 4, 2, 1),
    ("convT", 1, 1024, 512, 8, 4, 2, 1),
    ("convT", 1, 1024, 512, 16, 4, 2, 1),
    ("convT", 1, 1024, 256, 32, 4, 2, 1),
    ("conv", 16, 256, 256, 32, 3, 1, 1),
    # wide outputs past 256 columns (small_maps.WIDE_MAX_COLUMNS): StarGAN's critic on real + fake
    ("conv", 32, 512, 512, 8, 4, 2, 1),
    ("conv", 32, 512, 1024, 8, 4, 2, 1),
    ("conv", 64, 512, 1024, 8, 4, 2, 1),
    ("conv", 32, 1024, 2048, 8, 4, 2, 1),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    print(f"{args.dtype}, threads {torch.get_num_threads()}")
    for kind, batch, cin, cout, side, k, stride, pad in LAYERS:
        # the GEMM classes built directly: every layer listed takes the GEMM, whatever its size
        cls, gemm_cls = {
            "conv": (nn.Conv2d, small_maps.SmallMapConv2d),
            "convT": (nn.ConvTranspose2d, small_maps.SmallMapConvTranspose2d),
        }[kind]
        conv = cls(cin, cout, k, stride, pad, bias=False).to(dtype).to(memory_format=torch.channels_last)
        gemm = gemm_cls(cin, cout, k, stride, pad, bias=False).to(dtype).to(memory_format=torch.channels_last)
        gemm.load_state_dict(conv.state_dict())
        x = torch.randn(batch, cin, side, side, dtype=dtype).contiguous(memory_format=torch.channels_last)

        def step(layer: nn.Module, x: torch.Tensor = x) -> Callable[[], None]:
            def run() -> None:
                xi = x.detach().requires_grad_()
                layer(xi).float().sum().backward()

            return run

        # and every call of it, whatever the map size
        saved = small_maps.MAX_COLUMNS, small_maps.WIDE_MAX_COLUMNS
        small_maps.MAX_COLUMNS = small_maps.WIDE_MAX_COLUMNS = 10**9
        try:
            out = conv(x)
            columns = batch * (out.shape[2] * out.shape[3] if kind == "conv" else side * side)
            a, b = median_ms(step(conv), args.reps), median_ms(step(gemm), args.reps)
        finally:
            small_maps.MAX_COLUMNS, small_maps.WIDE_MAX_COLUMNS = saved
        print(
            f"{kind:5} {cin:4}->{cout:4} k{k} s{stride} {side:3}->{out.shape[-1]:3} batch {batch:2} "
            f"columns {columns:6}: oneDNN {a:8.2f} ms  GEMM {b:8.2f} ms  x{a / b:5.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
