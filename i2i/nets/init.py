"""Weight initialisation as the reference CycleGAN/pix2pix ``init_weights`` does it.

GANs in this family are sensitive to initial scale: the reference draws conv/linear weights
from N(0, 0.02) and batch-norm scales from N(1, 0.02). Every i2i network calls
:func:`init_weights` at construction unless built with ``init_type=None`` (StarGAN keeps
PyTorch's default initialisation, as its reference does).
"""

from __future__ import annotations

from torch import nn
from torch.nn import init
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd

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
