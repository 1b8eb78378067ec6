"""The step context of the method conformance suite: the trainer's own, checking its use.

:class:`CheckingContext` is what :mod:`i2i.testing.methods` runs every train step through.
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping, Sequence

import torch
from torch import nn

from i2i.method import Method
from i2i.train.context import TrainContext
from i2i.train.precision import Precision

CPU = torch.device("cpu")


class ConformanceError(AssertionError):
    """A method broke the contract; the message says which check and how."""


def _named_params(method: nn.Module) -> dict[str, nn.Parameter]:
    return dict(method.named_parameters(remove_duplicate=True))


def _snapshot(params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in params.items()}


def _changed(before: Mapping[str, torch.Tensor], params: Mapping[str, torch.Tensor]) -> list[str]:
    return [n for n, p in params.items() if not torch.equal(before[n], p.detach())]


def _short(names: Sequence[str], limit: int = 5) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


class CheckingContext(TrainContext):
    """The trainer's single-process step context, checking how the method uses it.

    It is :class:`i2i.train.context.TrainContext` (precision, clipping, skipping non-finite
    updates; ``ctx.step`` is the global step and ``ctx.step(name)`` an update) on the CPU, and
    records, as :attr:`problems`, every violation it sees:

    * ``ctx.step(name)`` for an optimizer whose parameters lack gradients (not in
      ``unused_parameters``): a multi-process run averages gradients per optimizer, so every
      rank must produce them;
    * parameters outside optimizer ``name`` changed by ``ctx.step(name)``;
    * parameters changed outside any ``ctx.step`` (manual edits the trainer cannot see);
    * ``ctx.step(name)`` in a train step that never called ``ctx.backward`` (``loss.backward()``
      skips fp16 loss scaling and leaves autocast's stale weight copies in place);
    * a gradient leak between players: when ``ctx.step(name)`` runs, the gradients of its
      parameters must be what the ``ctx.backward`` calls since the previous ``ctx.step`` put
      there. Anything else was left by a loss meant for another optimizer (G's loss flowing
      into a D that was not frozen): in G-then-D order it is added to D's update in the same
      train step, in D-then-G order to D's update in the next one. Gradients still held when
      ``train_step`` returns are reported too. Changing parameters right after an update
      (WGAN weight clipping, a projection) belongs in the optimizer's own
      ``register_step_post_hook``, which runs inside ``ctx.step`` and is therefore allowed.
    """

    def __init__(
        self, method: Method, optimizers: Mapping[str, torch.optim.Optimizer], precision: str = "fp32"
    ) -> None:
        super().__init__(dict(optimizers), Precision.create(precision, CPU), device=CPU)
        self.method = method
        self.params = _named_params(method)
        name_of = {id(p): n for n, p in self.params.items()}
        self.owned: dict[str, set[str]] = {}
        for opt_name, opt in self.optimizers.items():
            self.owned[opt_name] = {name_of[id(p)] for g in opt.param_groups for p in g["params"] if id(p) in name_of}
        self.stepped: Counter[str] = Counter()
        self.steps_run = 0  # train steps run through this context (the global step of the next)
        self.problems: list[str] = []
        self._last = _snapshot(self.params)
        self._backward_calls = 0  # ctx.backward calls in the current train step
        # gradient bookkeeping for the leak check: what backward calls since the last ctx.step
        # added to each parameter, and what the current run of consecutive steps may consume
        self._pending: dict[str, torch.Tensor] = {}
        self._window: dict[str, torch.Tensor] = {}

    def _unused(self, name: str) -> bool:
        return any(
            name == u or name.startswith(u if u.endswith(".") else u + ".") for u in self.method.unused_parameters
        )

    def backward(self, loss: torch.Tensor) -> None:
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            self.problems.append(f"ctx.backward expects a scalar tensor, got {getattr(loss, 'shape', type(loss))}")
        self._backward_calls += 1
        before = self._grads()
        super().backward(loss)
        for name, grad in self._grads().items():
            delta = grad if name not in before else grad - before[name]
            self._pending[name] = self._pending[name] + delta if name in self._pending else delta

    def _grads(self) -> dict[str, torch.Tensor]:
        return {n: p.grad.detach().clone() for n, p in self.params.items() if p.grad is not None}

    def _check_leak(self, name: str) -> None:
        """Gradients of ``name``'s parameters that no backward since the last step produced."""
        if self._pending:  # the first ctx.step after backward calls opens a new window
            self._window, self._pending = self._pending, {}
        leaked = []
        for param_name in sorted(self.owned[name]):
            grad = self.params[param_name].grad
            if grad is None:
                continue
            own = self._window.get(param_name)
            rest = grad if own is None else grad - own
            scale = max(float(grad.abs().max()), float(own.abs().max()) if own is not None else 0.0, 1e-12)
            if float(rest.abs().max()) > 1e-4 * scale:
                leaked.append(param_name)
        if leaked:
            self.problems.append(
                f"ctx.step({name!r}): gradient leak between players: {_short(leaked)} hold gradients from a loss "
                "backpropagated before an earlier ctx.step (a loss meant for another optimizer reached these "
                "parameters); freeze the other networks with i2i.set_requires_grad(net, False) while their "
                "loss is backpropagated, or detach their inputs"
            )

    def step_optimizer(self, name: str) -> None:
        if name not in self.optimizers:
            raise ConformanceError(f"ctx.step({name!r}): configure_optimizers returned only {sorted(self.optimizers)}")
        outside = _changed(self._last, self.params)
        if outside:
            self.problems.append(f"parameters changed outside any ctx.step: {_short(outside)}")
        if not self._backward_calls:
            self.problems.append(
                f"ctx.step({name!r}) with no ctx.backward before it in the train step: call ctx.backward(loss), "
                "not loss.backward() (fp16 loss scaling and autocast's weight cache depend on it)"
            )
        no_grad = sorted(n for n in self.owned[name] if self.params[n].grad is None and not self._unused(n))
        if no_grad:
            self.problems.append(
                f"ctx.step({name!r}): no gradient for {_short(no_grad)}; every parameter of a stepped "
                "optimizer needs one (multi-process training averages them), or list it in Method.unused_parameters"
            )
        self._check_leak(name)
        before = _snapshot(self.params)
        super().step_optimizer(name)
        foreign = sorted(set(_changed(before, self.params)) - self.owned[name])
        if foreign:
            self.problems.append(f"ctx.step({name!r}) changed parameters of other optimizers: {_short(foreign)}")
        self.stepped[name] += 1
        self._last = _snapshot(self.params)

    def zero_grad(self, name: str) -> None:
        super().zero_grad(name)
        for param_name in self.owned.get(name, ()):  # dropped gradients are no longer anyone's
            self._pending.pop(param_name, None)
            self._window.pop(param_name, None)

    # -- used by the checks ---------------------------------------------------------------------
    def finish_step(self) -> None:
        """After ``train_step``: nothing may have changed since the last optimizer step."""
        self.end_step()
        self._backward_calls = 0
        left = sorted(n for n, p in self.params.items() if p.grad is not None and bool(p.grad.abs().max() > 0))
        if left:
            self.problems.append(
                f"gradients left on {_short(left)} when train_step returned: they would be added to the next update "
                "of their optimizer (a loss meant for another network reached them; freeze it with "
                "i2i.set_requires_grad while that loss is backpropagated)"
            )
            for n in left:
                self.params[n].grad = None
        self._pending, self._window = {}, {}
        outside = _changed(self._last, self.params)
        if outside:
            self.problems.append(f"parameters changed outside any ctx.step: {_short(outside)}")
            self._last = _snapshot(self.params)

    def raise_problems(self, what: str) -> None:
        if self.problems:
            unique = list(dict.fromkeys(self.problems))
            raise ConformanceError(f"{what}:\n  " + "\n  ".join(unique))
