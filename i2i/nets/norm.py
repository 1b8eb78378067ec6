"""Normalisation layers chosen by name, as the reference ``get_norm_layer`` does.

Networks take ``norm="batch" | "instance" | "instance_affine" | "none" | "syncbatch"`` and
ask :func:`get_norm_layer` for a ``num_features -> nn.Module`` builder, so one config string
selects the layer everywhere. ``"none"`` gives an ``nn.Identity`` placeholder so module
indices (and therefore state-dict keys) stay those of the reference code.

Instance norm is our own :class:`InstanceNorm` rather than ``nn.InstanceNorm2d``, for speed and
correctness on the fast CPU path (measured with torch 2.14 on AVX512-BF16):

* ``F.instance_norm`` on a channels_last input returns a contiguous output and - worse - a
  *wrong* input gradient (checked against a float64 reference); ``F.group_norm`` with one
  group per channel computes the same normalisation correctly, keeps channels_last and is
  the fastest choice in fp32;
* in bf16, ``group_norm``'s backward is slow and its channels_last forward is pathologically
  slow on some sizes (10-400x, e.g. 31x31 - the PatchGAN's last map at 256 px), and a
  two-pass elementwise formula spends most of its time converting bf16 <-> fp32; so
  low-precision inputs go through :func:`_instance_norm_per_image`: one image at a time, instance
  norm *is* training-mode batch norm, whose ATen kernels are fused, vectorised over
  channels_last and keep fp32 statistics (3-9x faster forward+backward than the two-pass
  formula, and as accurate against float64).

Its parameters are named ``weight``/``bias`` like ``nn.InstanceNorm2d``'s, so reference
checkpoints load unchanged; it never tracks running statistics (the reference's current
setting; old checkpoints' ``running_*`` keys are dropped by :mod:`i2i.inference.weights_import`).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from i2i.errors import UsageError

NORMS = ("batch", "instance", "instance_affine", "none", "syncbatch")

#: Norms whose own shift makes a conv bias redundant; the reference sets ``bias=False`` before them.
_NORMS_WITH_SHIFT = ("batch", "syncbatch", "instance_affine")

NormBuilder = Callable[[int], nn.Module]


@torch.jit.unused
def _instance_norm_per_image(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Instance norm of bf16/fp16 ``x`` as training-mode batch norm of each image (no running
    stats). ``split`` + ``cat`` keep the backward O(N) (slicing would zero-fill a full gradient
    per image). Autocast is off so it stays in the input dtype. Batch norm is twice
    differentiable, so gradient penalties may run in low precision too.
    """
    with torch.autocast(x.device.type, enabled=False):
        if x.shape[0] == 1:
            return F.batch_norm(x, None, None, training=True, eps=eps)
        return torch.cat([F.batch_norm(xi, None, None, training=True, eps=eps) for xi in x.split(1)])


def instance_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Normalise each (sample, channel) plane of ``x`` to zero mean, unit variance."""
    if x.dtype in (torch.bfloat16, torch.float16) and not torch.jit.is_scripting():
        return _instance_norm_per_image(x, eps)
    return F.group_norm(x, x.shape[1], None, None, eps)


class InstanceNorm(nn.Module):
    """Instance normalisation over (H, W) per sample and channel, optionally affine."""

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = False) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.weight, self.bias
        if weight is None or bias is None:
            return instance_norm(x, self.eps)
        if x.dtype in (torch.bfloat16, torch.float16) and not torch.jit.is_scripting():
            y = instance_norm(x, self.eps)
            return y * weight.to(y.dtype).view(1, -1, 1, 1) + bias.to(y.dtype).view(1, -1, 1, 1)
        return F.group_norm(x, self.num_features, weight, bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}"


def check_norm(norm: str) -> str:
    """Return ``norm`` if it is a known name, else raise a one-line :class:`UsageError`."""
    if norm not in NORMS:
        raise UsageError(f"norm: unknown normalisation {norm!r} (known: {', '.join(NORMS)})")
    return norm


def get_norm_layer(norm: str = "instance") -> NormBuilder:
    """Return a builder ``num_features -> nn.Module`` for the 2-d normalisation named ``norm``.

    ``batch`` is affine BatchNorm2d with running stats; ``instance`` is non-affine
    :class:`InstanceNorm` (the reference default); ``instance_affine`` learns scale and shift
    (StarGAN); ``syncbatch`` is ``nn.SyncBatchNorm`` (plain batch norm in a single process);
    ``none`` is an identity placeholder.
    """
    check_norm(norm)
    if norm == "batch":
        return lambda n: nn.BatchNorm2d(n, affine=True, track_running_stats=True)
    if norm == "syncbatch":
        return lambda n: nn.SyncBatchNorm(n, affine=True, track_running_stats=True)
    if norm == "instance":
        return lambda n: InstanceNorm(n, affine=False)
    if norm == "instance_affine":
        return lambda n: InstanceNorm(n, affine=True)
    return lambda n: nn.Identity()


def conv_bias(norm: str) -> bool:
    """Whether a conv followed by ``norm`` gets a bias: yes unless the norm has its own shift.

    Matches the reference for ``batch`` (no bias) and ``instance`` (bias). For ``none`` the
    reference omits the bias by accident of its type check; we keep it, since without a norm
    the bias is the layer's only shift.
    """
    return check_norm(norm) not in _NORMS_WITH_SHIFT
