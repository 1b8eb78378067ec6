"""The weight copies' Adam update (``i2i.weight_copies``): compiled against eager alternatives.

``train.weight_copies`` updates each fp32 weight, its Adam moments and its bf16 copy from the
copy's bf16 gradient in one compiled pass. Compiling costs a process ~215 MiB of RSS (dynamo,
Inductor, sympy and triton imported) and ~25 s the first time: this script measures whether an
uncompiled update could take its place. On pix2pix's unet_256 (54.4M weights), per update:
the compiled pass; the same Python eagerly (one pass per op); torch's ``_foreach_`` ops; and
torch's fused CPU Adam, which needs fp32 gradients, after casting the bf16 ones, then the copy.
``--imports`` prints instead what each import adds to the RSS of a process that has torch;
``--step METHOD`` times whole fast train steps at the paper's setting, interleaved, with the
compiled update against torch's fused kernel run per weight on the widened gradient::

    OMP_NUM_THREADS=2 python benchmarks/adam_update_ab.py [--imports | --step pix2pix]
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from run import _rss_kib  # light: harness (imported where it is used) brings torch._dynamo, which --imports measures

LR, BETA1, BETA2, EPS, STEP = 2e-4, 0.5, 0.999, 1e-8, 10


def rss_mib() -> float:
    return _rss_kib("VmRSS") / 1024


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


def whole_steps(method: str, reps: int = 10) -> None:
    """Fast train steps with ``WeightCopies.adam_step`` as it is, and as torch's fused Adam per
    weight, switched in turns on one model (both keep Adam's state as torch does)."""
    from harness import Bench, cpu_modes, interleaved_ab, paper_setting, print_ab

    from i2i.weight_copies import WeightCopies

    compiled_step = WeightCopies.adam_step
    use_fused = {"on": False}

    @torch.no_grad()
    def adam_step(self: Any, group: Any, weights: list[torch.Tensor], states: Any, fused: bool) -> None:
        if not use_fused["on"]:
            return compiled_step(self, group, weights, states, fused)
        kernel = torch._fused_adamw_ if group.get("decoupled_weight_decay", False) else torch._fused_adam_
        beta1, beta2 = (float(b) for b in group["betas"])
        for weight in weights:
            grad = self.gradient(weight)
            if grad is None:
                continue
            state = states[weight]
            if not state:
                state.update(step=torch.tensor(0.0), exp_avg=torch.zeros_like(weight))
                state["exp_avg_sq"] = torch.zeros_like(weight)
            state["step"] += 1
            wide = torch.empty_like(weight).copy_(grad)  # fp32, in the weight's layout
            kernel(
                [weight],
                [wide],
                [state["exp_avg"]],
                [state["exp_avg_sq"]],
                [],
                [state["step"]],
                lr=float(group["lr"]),
                beta1=beta1,
                beta2=beta2,
                weight_decay=float(group["weight_decay"]),
                eps=float(group["eps"]),
                amsgrad=False,
                maximize=False,
            )
            self._copies[weight].copy_(weight)
            self.synced(weight)

    WeightCopies.adam_step = adam_step  # type: ignore[method-assign]
    fast = next(m for m in cpu_modes() if m.name == "fast")
    bench = Bench(paper_setting(method), fast, torch.device("cpu"))
    variants = {"compiled": lambda: use_fused.update(on=False), "fused": lambda: use_fused.update(on=True)}
    print_ab(method, interleaved_ab(bench, variants, reps, steps=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--imports", action="store_true")
    parser.add_argument("--step", metavar="METHOD", help="whole train steps of METHOD, interleaved")
    args = parser.parse_args()
    if args.imports:
        imports()
        return
    if args.step:
        whole_steps(args.step)
        return
    from harness import median_ms

    import i2i
    from i2i import weight_copies
    from i2i.allocator import keep_freed_memory

    keep_freed_memory()  # as the trainer does (train.keep_freed_memory): the casts' memory is reused
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

    print(f"{sum(w.numel() for w in weights) / 1e6:.1f}M weights, {torch.get_num_threads()} threads, ms per update:")
    for name, fn in (
        ("compiled", compiled),
        ("eager", eager),
        ("foreach", foreach),
        ("fused + cast", fused_after_cast),
    ):
        print(f"{name}: {median_ms(fn, 8):.1f}", flush=True)


if __name__ == "__main__":
    main()
