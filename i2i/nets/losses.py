"""GAN objectives and reconstruction terms: a functional core and thin modules.

:func:`gan_loss` is the one place that knows each objective; :class:`GANLoss` wraps it for
methods that prefer a module; :func:`gradient_penalty` is WGAN-GP's penalty. All take
discriminator *logits* (no sigmoid in the nets) and compute in fp32, so they are safe to call
inside a bf16 autocast region. A prediction may be a tensor or a list of tensors (a
multi-scale discriminator); the loss is then the mean over the list.

Objectives (``mode``):

* ``vanilla`` - the original GAN: binary cross-entropy on logits.
* ``lsgan`` - least squares (Mao et al.), the CycleGAN default.
* ``wgangp`` - Wasserstein critic loss (pair it with :func:`gradient_penalty`).
* ``hinge`` - the discriminator minimises ``relu(1 - D(real)) + relu(1 + D(fake))``;
  the generator (``for_discriminator=False``) minimises ``-D(fake)``.
"""

from __future__ import annotations

from typing import Callable, Sequence, cast

import torch
import torch.nn.functional as F
from torch import nn

from i2i.errors import UsageError

GAN_MODES = ("vanilla", "lsgan", "wgangp", "hinge")

Prediction = torch.Tensor | Sequence[torch.Tensor]


def _check_mode(mode: str) -> str:
    if mode not in GAN_MODES:
        raise UsageError(f"gan_mode: unknown GAN objective {mode!r} (known: {', '.join(GAN_MODES)})")
    return mode


def _single(
    pred: torch.Tensor, real: bool, mode: str, for_d: bool, real_label: float, fake_label: float
) -> torch.Tensor:
    pred = pred.float()
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(pred, torch.full_like(pred, real_label if real else fake_label))
    if mode == "lsgan":
        return F.mse_loss(pred, torch.full_like(pred, real_label if real else fake_label))
    if mode == "wgangp":
        return -pred.mean() if real else pred.mean()
    # hinge
    if for_d:
        return F.relu(1.0 - pred).mean() if real else F.relu(1.0 + pred).mean()
    return -pred.mean() if real else pred.mean()


def gan_loss(
    prediction: Prediction,
    target_is_real: bool,
    mode: str,
    for_discriminator: bool = True,
    *,
    real_label: float = 1.0,
    fake_label: float = 0.0,
) -> torch.Tensor:
    """The ``mode`` GAN loss of discriminator logits ``prediction`` against real/fake target.

    ``for_discriminator`` only matters for ``hinge``. ``real_label``/``fake_label`` set the
    targets of ``vanilla`` and ``lsgan`` (one-sided label smoothing: ``real_label=0.9``).
    Returns an fp32 scalar.
    """
    _check_mode(mode)
    if isinstance(prediction, torch.Tensor):
        return _single(prediction, target_is_real, mode, for_discriminator, real_label, fake_label)
    if len(prediction) == 0:
        raise ValueError("gan_loss: empty list of predictions")
    losses = [_single(p, target_is_real, mode, for_discriminator, real_label, fake_label) for p in prediction]
    return torch.stack(losses).mean()


class GANLoss(nn.Module):
    """Module form of :func:`gan_loss` with a fixed ``mode`` and target labels."""

    def __init__(self, mode: str = "lsgan", target_real_label: float = 1.0, target_fake_label: float = 0.0) -> None:
        super().__init__()
        self.mode = _check_mode(mode)
        self.real_label, self.fake_label = target_real_label, target_fake_label

    def forward(self, prediction: Prediction, target_is_real: bool, for_discriminator: bool = True) -> torch.Tensor:
        return gan_loss(
            prediction,
            target_is_real,
            self.mode,
            for_discriminator,
            real_label=self.real_label,
            fake_label=self.fake_label,
        )

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


def gradient_penalty(
    D: Callable[[torch.Tensor], object],
    real: torch.Tensor,
    fake: torch.Tensor,
    lambda_gp: float = 10.0,
    constant: float = 1.0,
) -> torch.Tensor:
    """WGAN-GP: ``lambda_gp * E[(||grad_x D(x)|| - constant)^2]`` at random interpolates ``x``.

    Always computed in fp32 with autocast disabled: the second-order graph is numerically
    fragile in bf16. If ``D`` returns a tuple (StarGAN's ``(src, cls)``) the first element is
    the critic; if it returns a list (multi-scale) all outputs count. The result keeps the
    graph (``create_graph=True``) so it can be added to the discriminator loss.
    """
    device_type = real.device.type
    with torch.autocast(device_type=device_type, enabled=False):
        real32, fake32 = real.detach().float(), fake.detach().float()
        alpha = torch.rand(real32.shape[0], *([1] * (real32.dim() - 1)), device=real32.device)
        x = (alpha * real32 + (1.0 - alpha) * fake32).requires_grad_(True)
        out = D(x)
        if isinstance(out, tuple):
            out = out[0]
        outputs = cast("list[torch.Tensor]", list(out) if isinstance(out, list) else [out])
        outputs = [o.float() for o in outputs]
        grads = torch.autograd.grad(
            outputs=outputs,
            inputs=x,
            grad_outputs=[torch.ones_like(o) for o in outputs],
            create_graph=True,
        )[0]
        norms = (grads.flatten(1) + 1e-16).norm(2, dim=1)
        return lambda_gp * ((norms - constant) ** 2).mean()


class GradientPenalty(nn.Module):
    """Module form of :func:`gradient_penalty`: ``forward(D, real, fake)``."""

    def __init__(self, lambda_gp: float = 10.0, constant: float = 1.0) -> None:
        super().__init__()
        self.lambda_gp, self.constant = lambda_gp, constant

    def forward(self, D: Callable[[torch.Tensor], object], real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return gradient_penalty(D, real, fake, self.lambda_gp, self.constant)


class WeightedL1(nn.Module):
    """``weight * mean|output - target|`` in fp32: the pix2pix L1, cycle and identity terms.

    Registered three times (``l1``, ``cycle``, ``identity``) so configs name the role; the
    method decides the weight (pix2pix: 100, cycle: 10, identity: 0.5 * 10).
    """

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.weight * F.l1_loss(output.float(), target.float())

    def extra_repr(self) -> str:
        return f"weight={self.weight}"
