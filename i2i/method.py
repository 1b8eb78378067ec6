"""The contract between a method and the trainer.

A method owns its networks and its ``train_step``; the trainer owns everything else
(devices, precision, gradient scaling, distribution, schedules, checkpoints, logging)
and reaches the method only through :class:`Method`. The method reaches the machinery
only through the :class:`StepContext` it is handed each step (Lightning's manual
optimisation, mmagic's ``train_step``).

A complete step of a two-player GAN::

    def train_step(self, batch, ctx):
        fake = self.G(batch.a)
        set_requires_grad(self.D, False)
        loss_g = self.gan_loss(self.D(fake), True) + 100 * F.l1_loss(fake, batch.b)
        ctx.backward(loss_g)
        ctx.step("G")
        set_requires_grad(self.D, True)
        loss_d = 0.5 * (self.gan_loss(self.D(batch.b), True) + self.gan_loss(self.D(fake.detach()), False))
        ctx.backward(loss_d)
        ctx.step("D")
        return {"G/gan+l1": loss_g.detach(), "D/loss": loss_d.detach()}
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar, Iterable, Mapping, Protocol, runtime_checkable

import attrs
import torch
from torch import nn

from i2i.config.validation import str_tuple
from i2i.data.batch import Batch
from i2i.eval.capabilities import EvalCapabilities
from i2i.inference.spec import ExportInput, TranslateOption, image_input

PAIRED = "paired"
UNPAIRED = "unpaired"
LABELLED = "labelled"
DATA_KINDS = (PAIRED, UNPAIRED, LABELLED)


@attrs.frozen
class LabelSource:
    """The labels of one data source of a multi-source run: its name, label names and kind."""

    name: str
    domains: tuple[str, ...] = attrs.field(converter=str_tuple)
    multi_label: bool = False


def _label_sources(value: Any) -> tuple[LabelSource, ...]:
    return tuple(v if isinstance(v, LabelSource) else LabelSource(**v) for v in value)


@attrs.frozen
class DataInfo:
    """What a method needs to know about its data to build its networks.

    Stored in checkpoints beside the config, so a checkpoint rebuilds its method with no
    data at hand. ``domains`` names the labels of labelled data (attribute names for a
    CelebA-style list with ``multi_label=True``; folder names for one-hot domains).

    ``sources`` is set when several labelled data sources are trained together
    (``data.sources``): ``domains`` is then every source's labels in order, and each label
    vector is ``[c_1, ..., c_K, mask]`` - every source's part (zeros where unknown) followed
    by a one-hot ``mask`` of length K saying which part is known (StarGAN's mask vector).
    """

    kind: str = UNPAIRED
    channels_a: int = 3
    channels_b: int = 3
    domains: tuple[str, ...] = attrs.field(default=(), converter=str_tuple)
    multi_label: bool = False
    sources: tuple[LabelSource, ...] = attrs.field(default=(), converter=_label_sources)


@runtime_checkable
class StepContext(Protocol):
    """What a method's ``train_step`` may ask of the trainer.

    ``train_step`` already runs under the run's autocast; ``backward`` applies gradient
    scaling; ``step(name)`` unscales, averages gradients across ranks, clips, skips the
    update if gradients are non-finite, steps optimizer ``name`` and zeroes its gradients.
    ``global_step`` is the optimisation step, 0-based, counted by the trainer (the old
    spelling, ``ctx.step`` used as an int, still works with a DeprecationWarning).
    """

    device: torch.device
    global_step: int
    world_size: int
    rank: int

    def backward(self, loss: torch.Tensor) -> None: ...

    def step(self, name: str) -> None: ...

    def zero_grad(self, name: str) -> None: ...

    def autocast(self, enabled: bool = True) -> contextlib.AbstractContextManager[Any]: ...


def set_requires_grad(modules: nn.Module | Iterable[nn.Module], flag: bool) -> None:
    """Freeze or unfreeze whole networks (the reference code's ``set_requires_grad``)."""
    if isinstance(modules, nn.Module):
        modules = [modules]
    for module in modules:
        for p in module.parameters():
            p.requires_grad_(flag)


class Method(nn.Module):
    """Base class of training methods. Subclasses set ``data_kind`` and implement the hooks.

    Networks are ordinary sub-modules, so ``state_dict()`` holds all weights; state that is
    not a parameter but must survive resume (an image history pool, a step counter) is a
    buffer or a sub-module's ``get_extra_state`` and so travels in the same state dict.
    """

    #: ``"paired"``, ``"unpaired"`` or ``"labelled"``.
    data_kind: ClassVar[str] = UNPAIRED
    #: Names of the generator sub-modules: the trainer keeps their EMA, ``i2i export`` exports them.
    generator_names: ClassVar[tuple[str, ...]] = ("G",)
    #: Names of parameters (prefixes) that may legitimately get no gradient in a step.
    unused_parameters: ClassVar[tuple[str, ...]] = ()
    #: What ``i2i eval`` may measure: directions, K samples per input, target labels, own metrics.
    eval_capabilities: ClassVar[EvalCapabilities] = EvalCapabilities()

    def __init__(self, config: Any, data_info: DataInfo) -> None:
        super().__init__()
        self.config = config
        self.data_info = data_info

    # -- training -------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Named optimizers, e.g. ``{"G": Adam(G params), "D": Adam(D params)}``."""
        raise NotImplementedError

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, torch.Tensor]:
        """One optimisation step; returns detached scalar losses with stable keys."""
        raise NotImplementedError

    # -- inference ------------------------------------------------------------------------
    #: Spatial sizes the generators accept must be multiples of this.
    size_multiple: int = 4

    def translate(self, x: torch.Tensor, **options: Any) -> torch.Tensor:
        """Translate ``x`` ``(N, C, H, W)`` in ``[-1, 1]`` to ``(N, C', H, W)`` in ``[-1, 1]``."""
        raise NotImplementedError

    def translate_variants(self, x: torch.Tensor, **options: Any) -> dict[str, torch.Tensor]:
        """Named outputs per input; methods with several outputs per input (StarGAN
        ``target="all"``, Augmented CycleGAN ``samples=K``) override this. The key is
        appended to the file stem (``""`` means the plain stem)."""
        return {"": self.translate(x, **options)}

    #: The keywords ``translate``/``translate_variants`` take, as typed records: ``i2i translate``
    #: builds its flags and help from them and :class:`i2i.Translator` checks values against
    #: them (see :class:`i2i.TranslateOption`). ``translate(x)`` with none must still work.
    translate_options: ClassVar[tuple[TranslateOption, ...]] = ()

    def input_channels(self, **options: Any) -> int:
        """Channels of the images ``translate(x, **options)`` takes: domain A's, unless an
        option (a backward direction) makes the method read another domain."""
        return int(self.data_info.channels_a)

    def baselines(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Trivial predictions for inputs ``x`` that the method's output should beat.

        The held-out summary at the end of a run scores each like the output (paired data:
        ``psnr_<name>`` beside ``psnr``), next to the generic identity and mean-colour
        baselines. A colouriser returns e.g. ``{"grey": L only, "mean_ab": L + the training
        set's mean colour}``; same shape as ``translate(x)``, in ``[-1, 1]``. Default: none.
        """
        return {}

    def sample(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Named image rows for the report's sample grids (input | output | target ...)."""
        out = {"input": batch.a, "output": self.translate(batch.a)}
        if batch.b is not None and self.data_kind == PAIRED:
            out["target"] = batch.b
        return out

    def generators(self) -> dict[str, nn.Module]:
        return {name: getattr(self, name) for name in self.generator_names}

    def export_inputs(self, x: torch.Tensor) -> Mapping[str, tuple[nn.Module, tuple[ExportInput | torch.Tensor, ...]]]:
        """Modules for ``i2i export`` and their named example inputs (``x``: an ``(N, C_a, H, W)``
        image batch at a size the network accepts). The default exports each generator with one
        image input; a method whose generator takes more (a label, a latent code) names them::

            return {"G": (self.G, (i2i.image_input(x), i2i.ExportInput("label", c, {0: "batch"})))}
        """
        return {name: (g, (image_input(x),)) for name, g in self.generators().items()}
