"""Weight initialisation as the reference CycleGAN/pix2pix ``init_weights`` does it.

GANs in this family are sensitive to initial scale: the reference draws conv/linear weights
from N(0, 0.02) and batch-norm scales from N(1, 0.02). Every i2i network calls
:func:`init_weights` at construction unless built with ``init_type=None`` (StarGAN keeps
PyTorch's default initialisation, as its reference does).
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import nn
from torch.nn import init
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.overrides import TorchFunctionMode

from i2i.errors import UsageError

INIT_TYPES = ("normal", "xavier", "kaiming", "orthogonal")


def init_weights(net: nn.Module, init_type: str = "normal", init_gain: float = 0.02) -> nn.Module:
    """Initialise ``net`` in place and return it.

    Conv and linear weights: ``normal`` N(0, gain), ``xavier`` (normal, gain), ``kaiming``
    (normal, fan_in, a=0; gain unused as in the reference) or ``orthogonal`` (gain); their
    biases are zeroed. Affine batch norms (incl. SyncBatchNorm) get scale N(1, gain) and zero
    shift. Other layers keep their defaults.
    """
    if init_type not in INIT_TYPES:
        raise UsageError(f"init_type: unknown initialisation {init_type!r} (known: {', '.join(INIT_TYPES)})")

    def init_module(m: nn.Module) -> None:
        if isinstance(m, (_ConvNd, nn.Linear)):
            if init_type == "normal":
                init.normal_(m.weight, 0.0, init_gain)
            elif init_type == "xavier":
                init.xavier_normal_(m.weight, gain=init_gain)
            elif init_type == "kaiming":
                init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            else:
                init.orthogonal_(m.weight, gain=init_gain)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, _BatchNorm) and m.affine:
            init.normal_(m.weight, 1.0, init_gain)
            init.zeros_(m.bias)

    net.apply(init_module)
    return net


def maybe_init(net: nn.Module, init_type: str | None, init_gain: float) -> None:
    """Apply :func:`init_weights` unless ``init_type`` is None (keep PyTorch's default init)."""
    if init_type is not None:
        init_weights(net, init_type, init_gain)


#: ``torch.nn.init``'s random initialisers and the tensor methods behind them: what costs time
#: (a conv's default init, then :func:`init_weights` again) when a checkpoint overwrites it.
_INITIALISERS = frozenset(
    [getattr(init, name) for name in ("uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_")]
    + [getattr(init, name) for name in ("kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_")]
    + [torch.Tensor.normal_, torch.Tensor.uniform_]
)


class DeferredParameterInit(TorchFunctionMode):
    """While active, random initialisers applied to an ``nn.Parameter`` are skipped.

    Rebuilding a method from a checkpoint initialises every weight twice (the layer's default,
    then :func:`init_weights`) only for ``load_state_dict`` to overwrite it: ~0.5 s of
    CycleGAN's start-up in ``i2i translate``. After the load, :meth:`all_overwritten` says
    whether every parameter that skipped an initialiser (and is still alive) has been written
    since; when one was not, the caller builds again without deferring. Tensors that are not
    parameters (``weight.data``, buffers) are initialised as usual.
    """

    def __init__(self) -> None:
        super().__init__()
        self._skipped: dict[int, weakref.ref[nn.Parameter]] = {}
        self._versions: list[tuple[weakref.ref[nn.Parameter], int]] = []

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        target = args[0] if args else kwargs.get("tensor")
        if func in _INITIALISERS and isinstance(target, nn.Parameter):
            self._skipped.setdefault(id(target), weakref.ref(target))
            return target
        return func(*args, **kwargs)

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        alive = [(ref, param._version) for ref in self._skipped.values() if (param := ref()) is not None]
        self._versions, self._skipped = alive, {}

    def all_overwritten(self) -> bool:
        """Whether every live parameter that skipped an initialiser was written after the block."""
        for ref, version in self._versions:
            param = ref()
            if param is not None and param._version == version:
                return False
        return True
