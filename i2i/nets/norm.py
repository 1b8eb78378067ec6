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
* in bf16, ``group_norm``'s backward is 3-4x slower than the equivalent elementwise formula
  and its channels_last forward is pathologically slow on some sizes, so low-precision
  inputs go through :class:`_InstanceNormLowp` (fp32 statistics, bf16 elementwise work,
  analytic backward).

Its parameters are named ``weight``/``bias`` like ``nn.InstanceNorm2d``'s, so reference
checkpoints load unchanged; it never tracks running statistics (the reference's current
setting; old checkpoints' ``running_*`` keys are dropped by :mod:`i2i.weights_import`).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from i2i.errors import UsageError

NORMS = ("batch", "instance", "instance_affine", "none", "syncbatch")

#: Norms whose own shift makes a conv bias redundant; the reference sets ``bias=False`` before them.
_NORMS_WITH_SHIFT = ("batch", "syncbatch", "instance_affine")

NormBuilder = Callable[[int], nn.Module]


class _InstanceNormLowp(torch.autograd.Function):
    """Instance norm for bf16/fp16 inputs: statistics accumulated in fp32, elementwise work in
    the input dtype, analytic backward.

    Two passes (``mean``, then the variance of ``d = x - mean``) of plain reductions, which stay
    fast on channels_last for every size, unlike ``native_group_norm`` (10-400x slower on some
    sizes, e.g. 31x31 - the PatchGAN's last feature map at 256 px). The backward recomputes
    ``y`` (saving it would break under a following in-place ReLU) and applies
    ``dx = rstd * (g - mean(g) - y * mean(g * y))`` - the standard result for the biased
    variance, 3-4x faster in bf16 than ``native_group_norm_backward``. First-order only: the
    WGAN-GP penalty runs in fp32, which takes the differentiable ``group_norm`` path.
    """

    @staticmethod
    def _normalise(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
        acc = torch.promote_types(x.dtype, torch.float32)
        d = x - x.mean(dim=(2, 3), keepdim=True, dtype=acc).to(x.dtype)
        var = (d * d).mean(dim=(2, 3), keepdim=True, dtype=acc)
        rstd = torch.rsqrt(var + eps).to(x.dtype)
        return d * rstd, rstd

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, eps: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.eps = eps
        return _InstanceNormLowp._normalise(x, eps)[0]

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        y, rstd = _InstanceNormLowp._normalise(x, ctx.eps)
        acc = torch.promote_types(g.dtype, torch.float32)
        g_mean = g.mean(dim=(2, 3), keepdim=True, dtype=acc).to(g.dtype)
        gy_mean = (g * y).mean(dim=(2, 3), keepdim=True, dtype=acc).to(g.dtype)
        return (g - g_mean - y * gy_mean) * rstd, None


@torch.jit.unused
def _instance_norm_lowp(x: torch.Tensor, eps: float) -> torch.Tensor:
    return _InstanceNormLowp.apply(x, eps)


def _instance_norm_one_image(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Instance norm of a batch of one, as training-mode batch norm without running stats.

    With one image the two are the same normalisation (statistics per channel over H, W), and
    ATen's batch norm has fused bf16 kernels vectorised over channels_last with fp32
    statistics: 3-9x faster forward+backward than :class:`_InstanceNormLowp` at CycleGAN's
    and pix2pix's batch-1 sizes (measured on AVX512-BF16; there the two-pass formula took
    over half of a bf16 CycleGAN step), and as accurate against float64. Autocast is off so
    it stays in the input dtype.
    """
    with torch.autocast(x.device.type, enabled=False):
        return F.batch_norm(x, None, None, training=True, eps=eps)


def instance_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Normalise each (sample, channel) plane of ``x`` to zero mean, unit variance."""
    if x.dtype in (torch.bfloat16, torch.float16) and not torch.jit.is_scripting():
        if x.shape[0] == 1:
            return _instance_norm_one_image(x, eps)
        return _instance_norm_lowp(x, eps)
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
