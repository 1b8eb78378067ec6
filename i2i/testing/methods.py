"""Method conformance: the checks every method plugin inherits.

A method plugin supplies a tiny config and a dummy batch; this module checks what the trainer,
checkpoints, ``i2i translate`` and multi-process training rely on:

* it builds on the CPU with disjoint, named optimizers (:func:`check_builds`);
* ``train_step`` returns finite, detached scalar losses with the same keys every step
  (:func:`check_train_steps`), and during those steps each ``ctx.step(name)`` changes only the
  parameters of optimizer ``name``, no parameter changes outside an optimizer step, every
  optimizer is stepped, and every parameter of a stepped optimizer has a gradient unless the
  method lists it in ``Method.unused_parameters`` (a parameter without a gradient on one rank
  is what hangs or silently skews multi-process training), and no gradient leaks between
  players: what an optimizer's parameters hold when it steps must come from the backward calls
  since the previous ``ctx.step`` (a G loss that reaches an unfrozen D would otherwise be added
  to D's next update, whichever order the players step in), and no gradient is left on any
  parameter when ``train_step`` returns;
* a few steps on a trivially learnable batch lower a reconstruction-type loss (:func:`check_learns`);
* weights survive a checkpoint written and read by the trainer's own checkpoint code, into a
  fresh instance that then translates identically (:func:`check_checkpoint_round_trip`);
* the same seed gives the same weights and the same first step (:func:`check_seed_determinism`);
* ``translate`` keeps batch and spatial size on odd, non-square sizes (:func:`check_translate_shapes`);
* a step under bf16 autocast gives finite losses (:func:`check_bf16_autocast`).

Use it from pytest by subclassing :class:`MethodConformance` (name the subclass ``Test...``)::

    from i2i.testing import MethodConformance

    class TestCUT(MethodConformance):
        method_name = "cut"
        overrides = {"ngf": 8, "ndf": 8, "n_blocks": 2}   # default: the MethodSpec's test_overrides

or without pytest: ``run_method_checks(MethodCase.from_registry("cut"))``.

The steps run through the trainer's own step context (:class:`i2i.train.context.TrainContext`),
wrapped by :class:`CheckingContext`, so the suite exercises the code path real runs take.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Sequence

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from i2i.api import create_method, get_method, load_config
from i2i.data.batch import Batch
from i2i.io.checkpoint import Checkpoint
from i2i.method import LABELLED, DataInfo, Method
from i2i.plugins.host import PluginHost, get_host
from i2i.testing.context import CPU, CheckingContext, ConformanceError, _short

#: Loss-key fragments that name reconstruction-type terms; GAN terms oscillate by design, these
#: fall steadily on a batch the networks can memorise, so they make a robust "it learns" signal.
LEARNABLE_KEY_HINTS = ("l1", "rec", "cycle", "cyc", "idt", "nce", "recon")

#: Domains of the generic labelled dummy data (one-hot labels).
DUMMY_DOMAINS = ("black_hair", "blond_hair", "brown_hair")


# -- data ---------------------------------------------------------------------------------------
def default_data_info(data_kind: str) -> DataInfo:
    """The generic data a method of ``data_kind`` is tested on: 3-channel images, and for
    labelled data three one-hot domains."""
    if data_kind == LABELLED:
        return DataInfo(kind=LABELLED, domains=DUMMY_DOMAINS)
    return DataInfo(kind=data_kind)


def smooth_images(n: int, channels: int, height: int, width: int, *, seed: int = 0) -> torch.Tensor:
    """Deterministic smooth images in ``[-1, 1]``: upsampled low-resolution noise, so the
    networks see image-like structure rather than white noise."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.randn(n, channels, max(2, height // 8), max(2, width // 8), generator=gen)
    return torch.tanh(F.interpolate(low, size=(height, width), mode="bilinear", align_corners=False))


def dummy_batch(data_info: DataInfo, *, batch_size: int = 2, size: int | tuple[int, int] = 32, seed: int = 0) -> Batch:
    """A batch of ``data_info.kind`` that is trivially learnable: paired targets and unpaired B
    images equal the A images (the identity is a perfect translation), labelled data gets
    one-hot (or multi-hot) labels of ``data_info.domains``."""
    h, w = (size, size) if isinstance(size, int) else size
    a = smooth_images(batch_size, data_info.channels_a, h, w, seed=seed)
    if data_info.kind == LABELLED:
        n_labels = max(1, len(data_info.domains))
        if data_info.multi_label:
            gen = torch.Generator().manual_seed(seed + 1)
            labels = (torch.rand(batch_size, n_labels, generator=gen) > 0.5).float()
        else:
            labels = F.one_hot(torch.arange(batch_size) % n_labels, n_labels).float()
        return Batch(a=a, labels=labels)
    if data_info.channels_b == data_info.channels_a:
        b = a.clone()
    else:
        b = smooth_images(batch_size, data_info.channels_b, h, w, seed=seed + 1)
    return Batch(a=a, b=b)


# -- what the checks need ---------------------------------------------------------------------------
@attrs.define
class MethodCase:
    """How to build a fresh method and a batch for it: everything the checks take.

    ``build(seed)`` seeds torch's RNG and builds the method, so two builds with one seed must
    give identical weights. ``translate_options`` are passed to ``translate_variants`` (whose
    default calls ``translate``). ``learn_key`` names the loss :func:`check_learns` watches (default:
    the first key that looks like a reconstruction term, see :data:`LEARNABLE_KEY_HINTS`).
    """

    name: str
    overrides: Mapping[str, Any]
    data_info: DataInfo
    make_batch: Callable[[], Batch]
    host: PluginHost | None = None
    learn_key: str | None = None
    translate_options: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_registry(
        cls,
        name: str,
        *,
        host: PluginHost | None = None,
        overrides: Mapping[str, Any] | None = None,
        data_info: DataInfo | None = None,
        make_batch: Callable[[], Batch] | None = None,
        learn_key: str | None = None,
        translate_options: Mapping[str, Any] | None = None,
    ) -> MethodCase:
        """A case for registered method ``name``: its spec's ``test_overrides`` and a generic
        dummy batch of its data kind unless given."""
        spec = get_method(name, host=host)
        info = data_info if data_info is not None else default_data_info(spec.data_kind)
        return cls(
            name=name,
            overrides=dict(spec.test_overrides if overrides is None else overrides),
            data_info=info,
            make_batch=make_batch if make_batch is not None else (lambda: dummy_batch(info)),
            host=host,
            learn_key=learn_key,
            translate_options=dict(translate_options or {}),
        )

    def build(self, seed: int = 0) -> Method:
        torch.manual_seed(seed)
        return create_method(self.name, data_info=self.data_info, host=self.host, **self.overrides).to(CPU)


def make_context(method: Method, precision: str = "fp32") -> CheckingContext:
    """Call ``configure_optimizers`` and wrap the optimizers in a :class:`CheckingContext`."""
    optimizers = method.configure_optimizers()
    if not isinstance(optimizers, Mapping) or not optimizers:
        raise ConformanceError(f"configure_optimizers must return a non-empty dict of optimizers, got {optimizers!r}")
    return CheckingContext(method, optimizers, precision)


def run_steps(method: Method, batch: Batch, steps: int, ctx: CheckingContext | None = None) -> list[dict[str, float]]:
    """Run ``steps`` train steps on ``batch`` (under the context's autocast, as the trainer
    does) and return each step's losses as floats, after checking they are finite detached
    scalars."""
    ctx = ctx if ctx is not None else make_context(method)
    method.train()
    history: list[dict[str, float]] = []
    for i in range(steps):
        ctx.begin_step(ctx.steps_run)
        with ctx.autocast():
            out = method.train_step(batch, ctx)
        ctx.finish_step()
        ctx.steps_run += 1
        history.append(_check_losses(out, i))
    return history


def _check_losses(out: Any, step: int) -> dict[str, float]:
    if not isinstance(out, Mapping) or not out:
        raise ConformanceError(
            f"step {step}: train_step must return a non-empty dict of losses, got {type(out).__name__}"
        )
    values: dict[str, float] = {}
    for key, value in out.items():
        if not isinstance(key, str):
            raise ConformanceError(f"step {step}: loss keys must be strings, got {key!r}")
        if not isinstance(value, torch.Tensor) or value.dim() != 0:
            raise ConformanceError(
                f"step {step}: loss {key!r} must be a 0-dim tensor, got {getattr(value, 'shape', type(value))}"
            )
        if value.requires_grad or value.grad_fn is not None:
            raise ConformanceError(f"step {step}: loss {key!r} still holds its graph; return loss.detach()")
        number = float(value)
        if not math.isfinite(number):
            raise ConformanceError(f"step {step}: loss {key!r} is not finite ({number})")
        values[key] = number
    return values


# -- the checks ------------------------------------------------------------------------------------
def check_builds(case: MethodCase) -> Method:
    """Builds on the CPU; optimizers are named, disjoint and hold only the method's parameters;
    ``generator_names`` name sub-modules; ``size_multiple`` is a positive int."""
    method = case.build()
    if not isinstance(method, Method):
        raise ConformanceError(f"{case.name}: the factory must return an i2i.Method, got {type(method).__name__}")
    bad_device = [n for n, t in [*method.named_parameters(), *method.named_buffers()] if t.device != CPU]
    if bad_device:
        raise ConformanceError(f"{case.name}: tensors not on the CPU after .to('cpu'): {_short(bad_device)}")
    optimizers = method.configure_optimizers()
    if not isinstance(optimizers, Mapping) or not optimizers:
        raise ConformanceError(f"{case.name}: configure_optimizers must return a non-empty dict, got {optimizers!r}")
    own = {id(p) for p in method.parameters()}
    seen: dict[int, str] = {}
    for opt_name, opt in optimizers.items():
        if not isinstance(opt, torch.optim.Optimizer):
            raise ConformanceError(
                f"{case.name}: optimizer {opt_name!r} is a {type(opt).__name__}, not a torch optimizer"
            )
        for group in opt.param_groups:
            for p in group["params"]:
                if id(p) not in own:
                    raise ConformanceError(
                        f"{case.name}: optimizer {opt_name!r} holds a parameter that is not a sub-module's; "
                        "it would be missing from state_dict() and checkpoints"
                    )
                if id(p) in seen:
                    raise ConformanceError(
                        f"{case.name}: a parameter is in optimizers {seen[id(p)]!r} and {opt_name!r}"
                    )
                seen[id(p)] = opt_name
    for name in method.generator_names:
        if not isinstance(getattr(method, name, None), nn.Module):
            raise ConformanceError(f"{case.name}: generator_names lists {name!r}, which is not a sub-module")
    if not isinstance(method.size_multiple, int) or method.size_multiple < 1:
        raise ConformanceError(f"{case.name}: size_multiple must be a positive int, got {method.size_multiple!r}")
    return method


def check_train_steps(case: MethodCase, steps: int = 3) -> list[dict[str, float]]:
    """Losses are finite detached scalars with stable keys; optimizer ownership, gradient
    coverage and "no changes outside ctx.step" hold; every optimizer gets stepped."""
    method = case.build()
    ctx = make_context(method)
    history = run_steps(method, case.make_batch(), steps, ctx)
    keys = [tuple(sorted(h)) for h in history]
    if len(set(keys)) != 1:
        raise ConformanceError(f"{case.name}: loss keys change between steps: {keys}")
    ctx.raise_problems(f"{case.name}: train_step misuses the step context")
    never = sorted(set(ctx.optimizers) - set(ctx.stepped))
    if never:
        raise ConformanceError(f"{case.name}: optimizers {never} were never stepped in {steps} train steps")
    return history


def pick_learn_key(keys: Sequence[str], preferred: str | None = None) -> str:
    """The loss :func:`check_learns` watches: ``preferred`` if given, else the first key (sorted)
    that looks like a reconstruction term."""
    if preferred is not None:
        if preferred not in keys:
            raise ConformanceError(f"learn_key {preferred!r} is not a loss key (keys: {sorted(keys)})")
        return preferred
    for key in sorted(keys):
        if any(hint in key.lower() for hint in LEARNABLE_KEY_HINTS):
            return key
    raise ConformanceError(
        f"no reconstruction-type loss among {sorted(keys)}; name the loss that should fall on a "
        "trivially learnable batch with learn_key"
    )


def check_learns(case: MethodCase, steps: int = 12) -> tuple[str, list[float]]:
    """On a batch the networks can memorise, the mean of the last third of ``steps`` values of
    the learn key is below the mean of the first third."""
    method = case.build()
    history = run_steps(method, case.make_batch(), steps)
    key = pick_learn_key(list(history[0]), case.learn_key)
    values = [h[key] for h in history]
    third = max(1, steps // 3)
    first, last = sum(values[:third]) / third, sum(values[-third:]) / third
    if not last < first:
        raise ConformanceError(f"{case.name}: {key!r} did not fall in {steps} steps on a learnable batch: {values}")
    return key, values


def _translate(method: Method, x: torch.Tensor, options: Mapping[str, Any], seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded, no-grad, eval-mode ``translate_variants`` (plain ``translate`` unless the method
    has several outputs per input), so stochastic methods compare exactly."""
    method.eval()
    torch.manual_seed(seed)
    with torch.no_grad():
        out = method.translate_variants(x, **options)
    if not isinstance(out, Mapping) or not out:
        raise ConformanceError(f"translate_variants must return a non-empty dict of tensors, got {type(out).__name__}")
    return dict(out)


def _same(x: Any, y: Any) -> bool:
    """Exact equality of state-dict values: tensors, and nested extra state (an image pool's)."""
    if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
        return (
            isinstance(x, torch.Tensor)
            and isinstance(y, torch.Tensor)
            and x.shape == y.shape
            and x.dtype == y.dtype
            and torch.equal(x, y)
        )
    if isinstance(x, Mapping) and isinstance(y, Mapping):
        return set(x) == set(y) and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(_same(u, v) for u, v in zip(x, y))
    return type(x) is type(y) and x == y


def _state_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Keys whose values differ (or that only one side has)."""
    if set(a) != set(b):
        return sorted(set(a) ^ set(b))
    return [key for key in a if not _same(a[key], b[key])]


def check_checkpoint_round_trip(case: MethodCase, steps: int = 1) -> None:
    """After ``steps`` train steps, the method's state goes through an i2i checkpoint file
    (written atomically and read back with ``weights_only=True`` by the trainer's code) into a
    fresh instance rebuilt from the stored config; its state dict and translations match."""

    method = case.build(seed=0)
    batch = case.make_batch()
    run_steps(method, batch, steps)
    overrides: dict[str, Any] = {f"method.{k}": v for k, v in case.overrides.items()}
    height, width = batch.a.shape[-2:]
    if height == width:  # the stored config describes the data trained on (a method may check they agree)
        overrides |= {"data.image_size": int(height), "data.load_size": int(height)}
    run_config = load_config(method=case.name, overrides=overrides, host=case.host)
    with tempfile.TemporaryDirectory(prefix="i2i-conformance-") as tmp:
        path = Checkpoint.of(method, run_config, case.data_info, step=steps).write(Path(tmp) / "last.pt")
        restored_ckpt = Checkpoint.read(path)  # torch.load(weights_only=True) + format checks
    torch.manual_seed(1)  # the fresh instance starts from other weights
    restored, _ = restored_ckpt.build_method(case.host or get_host(), prefer_ema=False)
    bad = _state_equal(method.state_dict(), restored.state_dict())
    if bad:
        raise ConformanceError(f"{case.name}: state differs after a checkpoint round trip: {_short(bad)}")
    before = _translate(method, batch.a, case.translate_options)
    after = _translate(restored, batch.a, case.translate_options)
    if not _same(before, after):
        raise ConformanceError(f"{case.name}: translations differ after a checkpoint round trip")


def check_seed_determinism(case: MethodCase) -> None:
    """Two builds with one seed have identical weights and take an identical first step."""
    first, second = case.build(seed=0), case.build(seed=0)
    bad = _state_equal(first.state_dict(), second.state_dict())
    if bad:
        raise ConformanceError(f"{case.name}: two builds with seed 0 differ in {_short(bad)}")
    batch = case.make_batch()
    torch.manual_seed(123)
    losses_1 = run_steps(first, batch, 1)
    torch.manual_seed(123)
    losses_2 = run_steps(second, batch, 1)
    if losses_1 != losses_2:
        raise ConformanceError(f"{case.name}: one seed, different first-step losses: {losses_1} vs {losses_2}")
    bad = _state_equal(first.state_dict(), second.state_dict())
    if bad:
        raise ConformanceError(f"{case.name}: one seed, different weights after one step: {_short(bad)}")


def odd_sizes(size_multiple: int) -> list[tuple[int, int]]:
    """Non-square sizes that are multiples of ``size_multiple`` but not powers of two."""
    m = size_multiple
    return [(3 * m, 5 * m), (5 * m, 3 * m)] if m >= 16 else [(6 * m, 10 * m), (5 * m, 7 * m)]


def check_translate_shapes(case: MethodCase, batch_size: int = 2) -> None:
    """``translate`` (every output of ``translate_variants``) keeps batch and spatial size, gives the target domain's channels and
    finite values in ``[-1, 1]``, on odd non-square sizes."""
    method = case.build()
    channels_out = case.data_info.channels_a if case.data_info.kind == LABELLED else case.data_info.channels_b
    for h, w in odd_sizes(method.size_multiple):
        x = smooth_images(batch_size, case.data_info.channels_a, h, w, seed=3)
        for key, y in _translate(method, x, case.translate_options).items():
            what = f"{case.name}: translate{tuple(x.shape)}" + (f" variant {key!r}" if key else "")
            if tuple(y.shape) != (batch_size, channels_out, h, w):
                raise ConformanceError(f"{what} gave {tuple(y.shape)}, expected {(batch_size, channels_out, h, w)}")
            if not torch.isfinite(y).all() or y.abs().max() > 1.0 + 1e-3:
                raise ConformanceError(f"{what} must return finite values in [-1, 1]")


def check_bf16_autocast(case: MethodCase, steps: int = 2) -> list[dict[str, float]]:
    """Train steps under bf16 autocast (the fast CPU/GPU path) give finite losses, and the
    context's checks hold there too."""
    method = case.build()
    ctx = make_context(method, precision="bf16")
    history = run_steps(method, case.make_batch(), steps, ctx)
    ctx.raise_problems(f"{case.name}: under bf16 autocast")
    return history


#: Every check, in the order :func:`run_method_checks` runs them.
CHECKS: dict[str, Callable[[MethodCase], Any]] = {
    "builds": check_builds,
    "train_steps": check_train_steps,
    "learns": check_learns,
    "checkpoint_round_trip": check_checkpoint_round_trip,
    "seed_determinism": check_seed_determinism,
    "translate_shapes": check_translate_shapes,
    "bf16_autocast": check_bf16_autocast,
}


def run_method_checks(case: MethodCase, only: Sequence[str] | None = None) -> None:
    """Run every check (or those named in ``only``) on ``case``; raises :class:`ConformanceError`."""
    for name, check in CHECKS.items():
        if only is None or name in only:
            check(case)


# -- pytest base class ---------------------------------------------------------------------------
class MethodConformance:
    """Inherit the method checks in pytest: subclass as ``class TestMine(MethodConformance)``.

    Set ``method_name``; optionally ``overrides`` (default: the MethodSpec's
    ``test_overrides``), ``data_info`` (default: 3-channel images of the method's data kind),
    ``learn_key``, ``translate_options``, and override :meth:`make_batch` (default: :func:`dummy_batch`) and
    :meth:`make_host` (default: the process-wide host, i.e. installed plugins).
    """

    method_name: ClassVar[str] = ""
    overrides: ClassVar[Mapping[str, Any] | None] = None
    data_info: ClassVar[DataInfo | None] = None
    learn_key: ClassVar[str | None] = None
    translate_options: ClassVar[Mapping[str, Any] | None] = None

    def make_host(self) -> PluginHost:
        return get_host()

    def make_batch(self) -> Batch:
        return dummy_batch(self._data_info())

    def _data_info(self) -> DataInfo:
        if self.data_info is not None:
            return self.data_info
        return default_data_info(get_method(self.method_name, host=self.make_host()).data_kind)

    def case(self) -> MethodCase:
        if not self.method_name:
            raise ConformanceError(f"{type(self).__name__}: set method_name")
        return MethodCase.from_registry(
            self.method_name,
            host=self.make_host(),
            overrides=self.overrides,
            data_info=self._data_info(),
            make_batch=self.make_batch,
            learn_key=self.learn_key,
            translate_options=self.translate_options,
        )

    def test_builds(self) -> None:
        check_builds(self.case())

    def test_train_steps(self) -> None:
        check_train_steps(self.case())

    def test_learns(self) -> None:
        check_learns(self.case())

    def test_checkpoint_round_trip(self) -> None:
        check_checkpoint_round_trip(self.case())

    def test_seed_determinism(self) -> None:
        check_seed_determinism(self.case())

    def test_translate_shapes(self) -> None:
        check_translate_shapes(self.case())

    def test_bf16_autocast(self) -> None:
        check_bf16_autocast(self.case())


__all__ = [
    "CHECKS",
    "CheckingContext",
    "ConformanceError",
    "MethodCase",
    "MethodConformance",
    "check_bf16_autocast",
    "check_builds",
    "check_checkpoint_round_trip",
    "check_learns",
    "check_seed_determinism",
    "check_train_steps",
    "check_translate_shapes",
    "default_data_info",
    "dummy_batch",
    "make_context",
    "odd_sizes",
    "pick_learn_key",
    "run_method_checks",
    "run_steps",
    "smooth_images",
]
