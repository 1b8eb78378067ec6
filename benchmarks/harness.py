"""Build a method at a benchmark setting and step it the way the trainer does.

The benchmark must measure the code path users run, so nothing here decides precision or
layout on its own: the method comes from :func:`i2i.create_method` (paper config), its
optimizers from ``configure_optimizers()``, the autocast and gradient scaler from
:class:`i2i.train.precision.Precision`, the step context is the trainer's
:class:`i2i.train.context.TrainContext`, and channels_last / compile follow the same steps as
``Trainer._setup`` (model ``.to(memory_format=...)``, the trainer's batch conversion,
``g.compile()`` on the generators only). Batches are synthetic and already on the device, so
the numbers are the step itself, not data loading (``benchmarks/data_pipeline.py`` measures that).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from typing import Any, Callable, Iterator

import attrs
import torch

import i2i
from i2i.allocator import keep_freed_memory
from i2i.method import LABELLED, DataInfo, Method
from i2i.testing.methods import dummy_batch
from i2i.train.config import TrainConfig
from i2i.train.context import TrainContext
from i2i.train.precision import Precision, use_fast_kernels
from i2i.train.trainer import _channels_last
from i2i.weight_copies import use_weight_copies

#: The five CelebA attributes of the StarGAN paper (multi-label, as its CelebA run).
CELEBA_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")

#: Labelled methods that translate between exclusive domains (one-hot labels), with their
#: paper data's domain names (StarGAN v2: AFHQ's three).
ONE_HOT_DOMAINS = {"stargan_v2": ("cat", "dog", "wild")}

METHODS = ("cyclegan", "pix2pix", "stargan", "augcyclegan", "stargan_v2")


@attrs.frozen
class Setting:
    """One method at one image size and batch size, with method-config overrides."""

    method: str
    size: int
    batch: int
    overrides: dict[str, Any] = attrs.field(factory=dict)

    def label(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in sorted(self.overrides.items()))
        return f"{self.method} {self.size}px batch {self.batch}{extra}"


def paper_setting(method: str) -> Setting:
    """The paper's image size and batch size, read from the plugin's registered defaults."""
    defaults = i2i.get_method(method).defaults
    size = int(defaults.get("data.image_size", 256))
    overrides = {"image_size": size} if "method.image_size" in defaults else {}
    return Setting(method, size, int(defaults.get("train.batch_size", 1)), overrides)


def smoke_setting(method: str, size: int = 32) -> Setting:
    """Tiny networks (the plugin's own test overrides) at ``size`` px, batch 2: for tests."""
    overrides = dict(i2i.get_method(method).test_overrides)
    if "image_size" in overrides:
        overrides["image_size"] = size
    return Setting(method, size, 2, overrides)


def data_info(method: str) -> DataInfo:
    spec = i2i.get_method(method)
    if method in ONE_HOT_DOMAINS:
        return DataInfo(kind=LABELLED, domains=ONE_HOT_DOMAINS[method])
    if spec.data_kind == LABELLED:
        return DataInfo(kind=LABELLED, domains=CELEBA_ATTRIBUTES, multi_label=True)
    return DataInfo(kind=spec.data_kind)


@attrs.frozen
class Mode:
    """A precision configuration: ``precision`` as ``train.precision`` takes it."""

    name: str
    precision: str
    channels_last: bool
    compile: bool = False
    small_map_gemm: bool = True
    narrow_conv: bool = True
    keep_freed_memory: bool = True
    weight_copies: bool = True


def cpu_modes(
    compile: bool = False, without_gemm: bool = False, releasing_memory: bool = False, without_copies: bool = False
) -> list[Mode]:
    """The fp32 NCHW reference and i2i's defaults (``train.precision = auto``, channels_last);
    ``without_gemm`` adds the defaults with ``train.small_map_gemm = false`` (that lever's before),
    ``releasing_memory`` both modes with ``train.keep_freed_memory = false`` (that one's),
    ``without_copies`` the defaults with ``train.weight_copies = false``."""
    fast = TrainConfig()
    modes = [Mode("fp32_nchw", "fp32", False), Mode("fast", fast.precision, fast.channels_last)]
    if without_gemm:
        modes.append(Mode("fast_no_gemm", fast.precision, fast.channels_last, small_map_gemm=False))
    if releasing_memory:
        modes.append(Mode("fp32_nchw_released", "fp32", False, keep_freed_memory=False))
        modes.append(Mode("fast_released", fast.precision, fast.channels_last, keep_freed_memory=False))
    if without_copies:
        modes.append(Mode("fast_no_copies", fast.precision, fast.channels_last, weight_copies=False))
    if compile:
        modes.append(Mode("fast_compile", fast.precision, fast.channels_last, True))
    return modes


def cuda_modes(compile: bool = False) -> list[Mode]:
    modes = [
        Mode("fp32_nchw", "fp32", False),
        Mode("fast", "auto", True),
        Mode("bf16", "bf16", True),
        Mode("fp16", "fp16", True),
    ]
    if compile:
        modes.append(Mode("fast_compile", "auto", True, True))
    return modes


class Bench:
    """A built method, its optimizers, the trainer's step context and a synthetic batch."""

    def __init__(self, setting: Setting, mode: Mode, device: torch.device, seed: int = 0) -> None:
        self.setting, self.mode, self.device = setting, mode, device
        torch.manual_seed(seed)
        info = data_info(setting.method)
        method: Method = i2i.create_method(setting.method, data_info=info, **setting.overrides)
        # as Trainer._setup: device, then layout, then optimizers, weight copies, then compile (generators only)
        method.to(device)
        self.precision = Precision.create(mode.precision, device)
        if mode.keep_freed_memory and device.type == "cpu":
            keep_freed_memory()
        use_fast_kernels(
            method,
            device,
            self.precision.name,
            channels_last=mode.channels_last,
            small_map_gemm=mode.small_map_gemm,
            narrow_conv=mode.narrow_conv,
        )
        self.method = method
        self.optimizers = method.configure_optimizers()
        if mode.weight_copies:
            use_weight_copies(method, self.optimizers, self.precision.dtype, device, compiled=mode.compile)
        if mode.compile:
            for g in method.generators().values():
                g.compile()
        self.ctx = TrainContext(self.optimizers, self.precision, device=device)
        batch = dummy_batch(info, batch_size=setting.batch, size=setting.size, seed=seed).to(device)
        if mode.channels_last:  # as the trainer's loop does after augmentation
            batch.a, batch.b = _channels_last(batch.a), _channels_last(batch.b)
        self.batch = batch
        self.steps_run = 0

    # -- training --------------------------------------------------------------------------
    def train_step(self) -> dict[str, torch.Tensor]:
        """One step exactly as ``Trainer.fit`` runs it (minus data loading and logging)."""
        self.method.train()
        self.ctx.begin_step(self.steps_run)
        with self.precision.autocast():
            losses = self.method.train_step(self.batch, self.ctx)
        self.ctx.end_step()
        self.steps_run += 1
        return losses

    def translate(self) -> torch.Tensor:
        """Inference as ``i2i translate`` runs it: eval mode, no grad, the run's autocast."""
        self.method.eval()
        with torch.no_grad(), self.precision.autocast():
            return self.method.translate(self.batch.a)

    # -- timing ----------------------------------------------------------------------------
    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def time(self, fn: Callable[[], Any], iters: int) -> float:
        """Seconds per call of ``fn`` over ``iters`` calls (device synchronised)."""
        self.sync()
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        self.sync()
        return (time.perf_counter() - start) / iters

    @property
    def resolved_precision(self) -> str:
        return self.precision.name


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker: counts everything under "Global".

    The tracker's module hooks make ``torch.autograd.grad`` fail ("A leaf node was passed to
    _will_engine_execute_node ...", torch 2.14), and StarGAN's gradient penalty calls it; the
    per-module breakdown is not needed here, only the total.
    """

    parents = frozenset({"Global"})

    def __enter__(self) -> _GlobalOnly:
        return self

    def __exit__(self, *args: Any) -> None:
        return None


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call, counted by :class:`torch.utils.flop_counter.FlopCounterMode`
    (matmuls and convolutions, forward and backward; elementwise ops are not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    with counter:
        fn()
    return int(counter.get_total_flops())


def _storage_bytes(tensors: Any) -> int:
    seen, total = set(), 0
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in seen:
            seen.add(t.untyped_storage().data_ptr())
            total += t.untyped_storage().nbytes()
    return total


@contextlib.contextmanager
def quiet_profiler() -> Iterator[None]:
    """Silence what torch.profiler's C++ side (kineto) writes to stderr on a CPU-only machine
    ("gpuGetDeviceCount failed", profiler start/stop lines): noise, not results."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def median_ms(fn: Callable[[], Any], reps: int) -> float:
    """Median wall time of ``fn`` in ms over ``reps`` calls, after two untimed ones (oneDNN's
    primitives, the caches): the layer probes' timer."""
    fn()
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def steps_per_cycle(bench: Bench) -> int:
    """Train steps until every kind of step has run: ``n_critic`` for methods that update
    the generator only every n-th step (StarGAN), else 1."""
    return int(getattr(getattr(bench.method, "config", None), "n_critic", 1) or 1)


def interleaved_ab(
    bench: Bench, variants: dict[str, Callable[[], None]], reps: int, steps: int
) -> dict[str, list[float]]:
    """ms per train step of each variant (a function that switches the code under test to
    it), ``steps`` steps per repetition, the variants interleaved and their order alternating
    per repetition, so that neither always runs first after a switch. One warm-up step each.
    The first variant is left switched on."""
    for switch in variants.values():
        switch()
        bench.train_step()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for rep in range(reps):
        for name in list(variants) if rep % 2 == 0 else list(variants)[::-1]:
            variants[name]()
            start = time.perf_counter()
            for _ in range(steps):
                bench.train_step()
            times[name].append((time.perf_counter() - start) / steps * 1e3)
    next(iter(variants.values()))()
    return times


def print_ab(label: str, times: dict[str, list[float]]) -> float:
    """Print :func:`interleaved_ab`'s medians and return the median of the paired ratios
    second / first variant (above 1: the first is faster)."""
    for name, values in times.items():
        print(f"{label}, {name}: median {statistics.median(values):.1f} ms/step {[round(v) for v in values]}")
    first, second = list(times)[:2]
    ratio = statistics.median([b / a for a, b in zip(times[first], times[second])])
    print(f"{second} / {first}, median of the paired ratios: {ratio:.3f}")
    return ratio


def tensor_peak_bytes(bench: Bench) -> int:
    """Peak bytes of live tensors over train steps on CPU: what the steps start with
    (weights, buffers, gradients, optimizer state) plus the highest point of their own
    allocations as ``torch.profiler`` records them - the CPU counterpart of
    ``torch.cuda.max_memory_allocated``, free of malloc's caching, which ``VmHWM`` includes.

    Profiles ``n_critic`` steps when the method has one (StarGAN: only every n-th step
    updates the generator, and that step has the largest activations), else one."""
    from torch.profiler import ProfilerActivity, profile

    method = bench.method
    state = [t for opt in bench.optimizers.values() for s in opt.state.values() for t in s.values()]
    grads = [p.grad for p in method.parameters() if p.grad is not None]
    resident = _storage_bytes([*method.parameters(), *method.buffers(), *grads, *state])
    steps = steps_per_cycle(bench)
    with quiet_profiler(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        for _ in range(steps):
            bench.train_step()
    live = peak = 0
    for event in sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start):
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return resident + peak
