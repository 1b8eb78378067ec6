"""What the benchmark ran on, and the machine's own ceiling: matmul and 3x3-conv GFLOP/s in
each precision. ``benchmarks/run.py`` records both beside every result, so a ratio is read
against what this CPU or GPU can do at best.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any


def machine() -> dict:
    import torch

    from i2i.train.precision import cpu_supports_bf16

    flags: set[str] = set()
    model = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text()
        flags = set(text.split())
        model = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), model)
    except OSError:
        pass
    info = {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "amx": sorted(f for f in flags if f.startswith("amx")),
        "avx512_bf16": "avx512_bf16" in flags,
        "avx512f": "avx512f" in flags,
        "cpu_bf16_fast_path": cpu_supports_bf16(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def measure_peaks(device_name: str, reps: int, size: int) -> dict:
    """Matmul, 3x3-conv and 3x3-conv-with-gradients GFLOP/s in fp32 and bf16 (and fp16 on CUDA), interleaved reps,
    best rep each: the ceiling the training numbers are compared with."""
    import torch
    import torch.nn.functional as F

    device = torch.device(device_name)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    if device.type == "cuda":
        dtypes["fp16"] = torch.float16
    n = size
    c, hw = 256, 64 if size >= 512 else 16  # the ResNet blocks' 256-channel 64x64 maps at 256 px
    cases = {}
    for name, dtype in dtypes.items():
        a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
        layout = torch.contiguous_format if dtype == torch.float32 else torch.channels_last
        x = torch.randn(1, c, hw, hw, device=device, dtype=dtype).contiguous(memory_format=layout)
        w = torch.randn(c, c, 3, 3, device=device, dtype=dtype).contiguous(memory_format=layout)
        cases[f"matmul_{name}"] = (lambda a=a, b=b: a @ b, 2 * n**3)
        cases[f"conv_{name}"] = (lambda x=x, w=w: F.conv2d(x, w, padding=1), 2 * c * c * 9 * hw * hw)
        # forward + both gradients: what a train step asks of each layer (its weight gradient
        # at batch 1 is a long reduction that runs below the forward's rate)
        xg, wg = x.detach().requires_grad_(), w.detach().requires_grad_()
        cases[f"conv_train_{name}"] = (
            lambda x=xg, w=wg: torch.autograd.grad(F.conv2d(x, w, padding=1).sum(), (x, w)),
            3 * 2 * c * c * 9 * hw * hw,
        )

    def once(fn: Any) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for _ in range(3 if device.type == "cpu" else 50):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return (time.perf_counter() - start) / (3 if device.type == "cpu" else 50)

    times: dict[str, list[float]] = {k: [] for k in cases}
    for fn, _ in cases.values():
        fn()  # warm-up
    for _ in range(reps):
        for key, (fn, _) in cases.items():
            times[key].append(once(fn))
    out = {key: round(flops / min(times[key]) / 1e9, 1) for key, (_, flops) in cases.items()}
    out["shapes"] = (
        f"matmul {n}x{n}x{n}; conv 3x3 {c}->{c} on 1x{c}x{hw}x{hw}, bf16/fp16 channels_last;"
        " conv_train: the same conv's forward + input and weight gradients"
    )
    for op in ("matmul", "conv", "conv_train"):
        out[f"{op}_bf16_over_fp32"] = round(out[f"{op}_bf16"] / out[f"{op}_fp32"], 2)
    return out
