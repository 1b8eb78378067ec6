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
def _instance_norm_per_image(
    x: torch.Tensor, eps: float, weight: torch.Tensor | None, bias: torch.Tensor | None
) -> torch.Tensor:
    """Instance norm of bf16/fp16 ``x`` as training-mode batch norm of each image (no running
    stats), the scale and shift fused into the batch norm's own affine step, so they cost no
    extra pass over the activations (and are applied before the one rounding to bf16).
    ``split`` + ``cat`` keep the backward O(N) (slicing would zero-fill a full gradient per
    image). Autocast is off so it stays in the input dtype. Batch norm is twice
    differentiable, so gradient penalties may run in low precision too.
    """
    n, c = x.shape[0], x.shape[1]
    if any(p is not None and p.dtype != x.dtype for p in (weight, bias)):
        # batch norm takes its scale and shift both in the input's dtype or both in fp32
        weight, bias = (None if p is None else p.float() for p in (weight, bias))
    weights, biases = _per_image(weight, n, c), _per_image(bias, n, c)
    with torch.autocast(x.device.type, enabled=False):
        if n == 1:
            return F.batch_norm(x, None, None, weights[0], biases[0], training=True, eps=eps)
        images = zip(x.split(1), weights, biases)
        return torch.cat([F.batch_norm(xi, None, None, w, b, training=True, eps=eps) for xi, w, b in images])


def _low_precision(x: torch.Tensor) -> bool:
    """bf16/fp16 outside TorchScript: the inputs :func:`_instance_norm_per_image` handles."""
    return x.dtype in (torch.bfloat16, torch.float16) and not torch.jit.is_scripting()


def _per_image(param: torch.Tensor | None, n: int, c: int) -> list[torch.Tensor | None]:
    """``n`` per-channel vectors of a scale or shift given per channel ``(C,)`` or per sample
    (anything that reshapes to ``(N, C)`` or ``(1, C)``, e.g. ``(N, C, 1, 1)``)."""
    if param is None:
        return [None] * n
    if param.dim() == 1:
        return [param] * n
    return list(param.reshape(-1, c).expand(n, c).unbind(0))


def _as_scale(param: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A per-channel ``(C,)`` or per-sample scale/shift shaped to broadcast against ``x``."""
    return param.reshape(-1, x.shape[1], 1, 1)


def instance_norm(
    x: torch.Tensor, eps: float = 1e-5, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """Normalise each (sample, channel) plane of ``x`` to zero mean, unit variance, then scale
    by ``weight`` and shift by ``bias`` when given.

    ``weight`` and ``bias`` are per channel ``(C,)`` (an affine instance norm) or per sample
    ``(N, C)`` / ``(N, C, 1, 1)``: the scale and shift a conditional or adaptive instance norm
    (AdaIN) computes from a code or style. In fp32 this is ``group_norm(x) * weight + bias``, op
    for op what such a layer writes by hand; in bf16/fp16 the scale and shift are fused into
    the normalisation (see :func:`_instance_norm_per_image`), 1.1-1.8x faster forward and
    backward than three passes, and closer to float64.
    """
    if _low_precision(x):
        return _instance_norm_per_image(x, eps, weight, bias)
    y = F.group_norm(x, x.shape[1], None, None, eps)
    if weight is not None:
        y = y * _as_scale(weight, x)
    if bias is not None:
        y = y + _as_scale(bias, x)
    return y


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
        if weight is not None and bias is not None and not _low_precision(x):
            return F.group_norm(x, self.num_features, weight, bias, self.eps)  # fp32: torch's fused affine
        return instance_norm(x, self.eps, weight, bias)

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
