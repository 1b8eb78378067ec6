"""The weight copies' Adam update (``i2i.weight_copies``): compiled against eager alternatives.

``train.weight_copies`` updates each fp32 weight, its Adam moments and its bf16 copy from the
copy's bf16 gradient in one compiled pass. Compiling costs a process ~215 MiB of RSS (dynamo,
Inductor, sympy and triton imported) and ~25 s the first time: this script measures whether an
uncompiled update could take its place. On pix2pix's unet_256 (54.4M weights), per update:
the compiled pass; the same Python eagerly (one pass per op); torch's ``_foreach_`` ops; and
torch's fused CPU Adam, which needs fp32 gradients, after casting the bf16 ones, then the copy.
``--imports`` prints instead what each import adds to the RSS of a process that has torch::

    OMP_NUM_THREADS=2 python benchmarks/adam_update_ab.py [--imports]
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable

import torch

LR, BETA1, BETA2, EPS, STEP = 2e-4, 0.5, 0.999, 1e-8, 10


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


def imports() -> None:
    base = rss_mib()
    for name in ("triton", "sympy", "torch._functorch.aot_autograd", "torch._dynamo", "torch._inductor.compile_fx"):
        try:
            importlib.import_module(name)
        except ImportError:
            print(f"{name}: not installed")
            continue
        now = rss_mib()
        print(f"import {name}: +{now - base:.0f} MiB")
        base = now
    torch.compile(lambda a: a.mul_(2), dynamic=False)(torch.ones(8))
    print(f"first compile and call: +{rss_mib() - base:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--imports", action="store_true")
    args = parser.parse_args()
    if args.imports:
        imports()
        return
    import i2i
    from i2i import weight_copies

    torch.manual_seed(0)
    net = i2i.create_generator("unet_256", input_nc=3, output_nc=3, ngf=64, norm="batch", use_dropout=True)
    weights = [p.detach().clone() for p in net.parameters()]
    grads = [torch.randn_like(w).bfloat16() * 1e-3 for w in weights]
    avg, avg_sq = [torch.zeros_like(w) for w in weights], [torch.zeros_like(w) for w in weights]
    copies = [w.bfloat16() for w in weights]
    steps = [torch.tensor(float(STEP)) for _ in weights]
    bc1, bc2 = 1 - BETA1**STEP, 1 - BETA2**STEP
    scalars = (1.0, 0.0, 1 - BETA1, BETA2, 1 - BETA2, bc2**0.5, EPS, LR / bc1)
    groups = list(zip(weights, grads, avg, avg_sq, copies))

    def compiled() -> None:
        weight_copies._update(groups, [scalars] * len(groups))

    def eager() -> None:
        values = tuple(torch.tensor(v) for v in scalars)
        with torch.no_grad():
            weight_copies._adam_updates(groups, [values] * len(groups))

    def foreach() -> None:
        with torch.no_grad():
            g = [x.float() for x in grads]
            torch._foreach_lerp_(avg, g, 1 - BETA1)
            torch._foreach_mul_(avg_sq, BETA2)
            torch._foreach_addcmul_(avg_sq, g, g, 1 - BETA2)
            denom = torch._foreach_sqrt(avg_sq)
            torch._foreach_div_(denom, bc2**0.5)
            torch._foreach_add_(denom, EPS)
            torch._foreach_addcdiv_(weights, avg, denom, value=-LR / bc1)
            torch._foreach_copy_(copies, weights)

    def fused_after_cast() -> None:
        with torch.no_grad():
            torch._fused_adam_(
                weights,
                [x.float() for x in grads],
                avg,
                avg_sq,
                [],
                steps,
                lr=LR,
                beta1=BETA1,
                beta2=BETA2,
                weight_decay=0.0,
                eps=EPS,
                amsgrad=False,
                maximize=False,
            )
            torch._foreach_copy_(copies, weights)

    def median_ms(fn: Callable[[], None], reps: int = 8) -> float:
        fn()
        fn()
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return sorted(times)[reps // 2] * 1000

    print(f"{sum(w.numel() for w in weights) / 1e6:.1f}M weights, {torch.get_num_threads()} threads, ms per update:")
    for name, fn in (
        ("compiled", compiled),
        ("eager", eager),
        ("foreach", foreach),
        ("fused + cast", fused_after_cast),
    ):
        print(f"{name}: {median_ms(fn):.1f}", flush=True)


if __name__ == "__main__":
    main()
