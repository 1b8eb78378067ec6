"""What a method's outputs are, declared by the method, so ``i2i eval`` knows what to measure.

The evaluator never guesses from option names: a method sets the class attribute
``eval_capabilities`` to an :class:`EvalCapabilities` record and every metric that applies to
what it declares runs (the defaults describe a one-direction, one-output method, which gets
the metrics of its data kind). For example CycleGAN declares two directions::

    class CycleGAN(i2i.Method):
        eval_capabilities = i2i.EvalCapabilities(directions=i2i.EvalCapabilities.two_directions("direction"))

and a multimodal method the option giving K samples per input (``samples="samples"``), a
labelled one the option taking a target label (``target="target"``). A method may also add
metrics of its own (:class:`EvalMetric`), computed from an :class:`EvalContext` - how the
Augmented CycleGAN plugin reports its paper's reconstruction and noise-sensitivity measures.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol, Sequence

import attrs
import torch

from i2i.config.validation import any_tuple


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value or {})


@attrs.frozen
class Direction:
    """One translation direction of an unpaired method.

    ``name`` suffixes its metrics (``swd_a2b``); ``source`` is the domain fed in (``"a"`` or
    ``"b"``; the output is the other one); ``options`` are the translate options that select it
    (``{"direction": "b2a"}``; empty: plain ``translate(x)``).
    """

    name: str
    source: str
    options: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen)

    def __attrs_post_init__(self) -> None:
        if self.source not in ("a", "b"):
            raise ValueError(f"Direction {self.name!r}: source must be 'a' or 'b', got {self.source!r}")

    @property
    def target(self) -> str:
        return "b" if self.source == "a" else "a"


class EvalContext(Protocol):
    """The read-only view of an evaluation that an :class:`EvalMetric` computes from.

    Images are ``(N, C, H, W)`` float CPU tensors in ``[-1, 1]`` at the run's evaluation size,
    *not* padded to the network's size multiple: :meth:`translate` pads and crops its outputs
    back, and a metric that runs the networks itself does the same with :func:`i2i.prepare_size`
    (``work, undo = i2i.prepare_size(x, method.size_multiple)``; score ``undo(net(work))``), so
    no metric scores the reflect-padded border.
    """

    @property
    def method(self) -> Any:
        """The method, in eval mode on :attr:`device`."""

    @property
    def device(self) -> torch.device: ...

    @property
    def seed(self) -> int: ...

    @property
    def samples(self) -> int:
        """K, the samples per input the user asked for (``--samples``)."""

    @property
    def capabilities(self) -> EvalCapabilities: ...

    def test(self) -> Any:
        """Held-out images: ``.a``, ``.b`` (or None), ``.labels`` (or None); each image once."""

    def train(self) -> Any:
        """Training images of the same shape (read once, on first use)."""

    def aligned_test(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Aligned ``(a, b)`` held-out pairs when the data folder also reads as paired data."""

    def translate(self, x: torch.Tensor, *, single: bool = True, **options: Any) -> dict[str, torch.Tensor]:
        """Batched translation at the checkpoint's precision; ``single`` -> ``{"": outputs}``."""

    def log(self, message: str) -> None: ...

    def note(self, message: str) -> None:
        """A note printed under the table (why something was skipped, how to read a number)."""


@attrs.frozen
class EvalMetric:
    """A metric a method adds to ``i2i eval``: ``compute(ctx)`` returns ``{row: {column: value}}``
    (rows such as ``name_a2b``; columns ``model``, ``identity``, ``mean_image``, ``real`` or
    others of its own). ``name`` is what ``--metrics`` selects; ``description`` is printed under
    the table for each row whose name starts with it. A metric that does not apply to the
    data returns ``{}`` and explains why with ``ctx.note``.

    ``at_end``: the end-of-run evaluation (``train.eval_at_end``) computes it too, beside the
    core measures, so a run's final table shows what the method is about (keep such a metric
    to a few seconds on the run's test images)."""

    name: str
    description: str
    compute: Callable[[EvalContext], Mapping[str, Mapping[str, float]]]
    at_end: bool = False


@attrs.frozen
class EvalCapabilities:
    """What a method's outputs are, for evaluation (class attribute ``Method.eval_capabilities``).

    * ``directions``: the unpaired directions it translates, each with the options that select
      it; two directions make the ``cycle`` metric run (each output translated back).
    * ``samples``: the option of ``translate_variants`` that gives K samples per input (with
      ``seed``, the option seeding them): ``diversity``, ``best_of_k`` and ``mean_of_k`` run.
    * ``target``: labelled methods - the option taking a target label; ``all_targets`` is its
      value giving one output per label (keyed by label name). Required to evaluate labelled data.
    * ``source_labels``: the option taking the inputs' own ``(N, D)`` labels (multi-label
      methods that toggle attributes relative to the input).
    * ``set_labels(method)``: for multi-label ``all_targets``, the labels that are *set* rather
      than toggled (e.g. exclusive hair colours), read from the built method.
    * ``qualified_target``: methods trained on several labelled sources (``DataInfo.sources``,
      ``data.sources``) - how ``all_targets`` keys, and the target option names, a label whose
      name two sources share: a format string with ``{source}`` and ``{label}`` (e.g.
      ``"{source}:{label}"``); unique names key their outputs plainly. ``i2i eval`` then
      reports each source's accuracy with that source's own domain classifier.
    * ``keeps_target_domain``: the method is trained to leave target-domain images unchanged
      (``G(b) = b``, an identity term): the ``idempotence`` metric runs.
    * ``metrics``: the method's own :class:`EvalMetric` records.
    """

    directions: tuple[Direction, ...] = (Direction("a2b", "a"),)
    samples: str | None = None
    seed: str | None = None
    target: str | None = None
    all_targets: Any = "all"
    source_labels: str | None = None
    set_labels: Callable[[Any], Sequence[str]] | None = None
    qualified_target: str | None = None
    keeps_target_domain: bool = False
    metrics: tuple[EvalMetric, ...] = attrs.field(default=(), converter=any_tuple)

    @staticmethod
    def two_directions(option: str, a2b: Any = "a2b", b2a: Any = "b2a") -> tuple[Direction, Direction]:
        """``a2b`` and ``b2a``, selected by the translate option ``option``."""
        return (Direction("a2b", "a", {option: a2b}), Direction("b2a", "b", {option: b2a}))

    def metric_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.metrics)


__all__ = ["Direction", "EvalCapabilities", "EvalContext", "EvalMetric"]
