"""The U-Net's skip concatenation, ``i2i.cat_channels`` against plain ``torch.cat``, A/B.

``torch.cat``'s backward hands each input a channel slice of the gradient, which on a
channels_last map is strided, and the bf16/fp32 batch-norm backward that comes next in the up
path runs ~10x slower on it (``i2i/nets/concat.py``). This times pix2pix train steps (the
paper's setting: ``unet_256``, 256 px, batch 1) with the U-Net's concatenation swapped
between the two, interleaved (the order alternates per repetition), three steps each::

    OMP_NUM_THREADS=2 python benchmarks/skip_concat_ab.py           # fast (bf16 channels_last)
    OMP_NUM_THREADS=2 python benchmarks/skip_concat_ab.py fp32_nchw # the same op there: ~1.0

and the batch-norm backward alone on one such gradient::

    OMP_NUM_THREADS=2 python benchmarks/skip_concat_ab.py --kernel

Not a test; the figures go in ``benchmarks/README.md``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

import i2i.nets.unet as unet
from i2i.nets.concat import cat_channels

sys.path.insert(0, str(Path(__file__).parent))
from harness import Bench, cpu_modes, interleaved_ab, paper_setting, print_ab


def plain_cat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(tensors, 1)


def _timed(fn, reps: int = 20) -> float:  # type: ignore[no-untyped-def]
    fn()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps * 1e3


def kernel(dtype: torch.dtype) -> None:
    """native_batch_norm_backward on a 64-channel 128x128 map's gradient: the channel slice of
    a 128-channel channels_last gradient (what torch.cat hands back) against a dense one."""
    x = torch.randn(1, 64, 128, 128, dtype=dtype).contiguous(memory_format=torch.channels_last)
    w, b, rm, rv = torch.ones(64), torch.zeros(64), torch.zeros(64), torch.ones(64)
    _, mean, invstd = torch.native_batch_norm(x, w, b, rm, rv, True, 0.1, 1e-5)
    full = torch.randn(1, 128, 128, 128, dtype=dtype).contiguous(memory_format=torch.channels_last)
    sliced = full[:, 64:]
    dense = sliced.contiguous(memory_format=torch.channels_last)

    def backward(g: torch.Tensor) -> None:
        torch.ops.aten.native_batch_norm_backward(g, x, w, rm, rv, mean, invstd, True, 1e-5, [True, True, True])

    print(
        f"{str(dtype)[6:]}: sliced gradient {_timed(lambda: backward(sliced)):.2f} ms, "
        f"dense {_timed(lambda: backward(dense)):.2f} ms, "
        f"the copy {_timed(lambda: sliced.contiguous(memory_format=torch.channels_last)):.2f} ms"
    )


def main() -> None:
    if "--kernel" in sys.argv:
        for dtype in (torch.bfloat16, torch.float32):
            kernel(dtype)
        return
    mode = sys.argv[1] if len(sys.argv) > 1 else "fast"
    bench = Bench(paper_setting("pix2pix"), {m.name: m for m in cpu_modes()}[mode], torch.device("cpu"))

    def use(fn):  # type: ignore[no-untyped-def]
        return lambda: setattr(unet, "cat_channels", fn)

    times = interleaved_ab(bench, {"cat_channels": use(cat_channels), "torch.cat": use(plain_cat)}, reps=10, steps=3)
    print_ab(f"pix2pix {mode}", times)


if __name__ == "__main__":
    main()
