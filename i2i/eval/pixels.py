"""Per-image paired metrics: PSNR, SSIM and L1 (MAE), all on images mapped to ``[0, 1]``.

Definitions (stated so numbers can be compared with other papers):

* **PSNR** (dB): ``10 log10(1 / MSE)`` per image over all pixels and channels, then averaged
  over images (kornia's ``psnr`` applied image by image, ``max_val = 1``).
* **SSIM**: kornia's Gaussian-window SSIM, window 11, sigma 1.5, ``K1 = 0.01, K2 = 0.03``,
  ``max_val = 1``, no stabilising epsilon; computed per channel on the RGB (or grey) image
  and averaged over channels and pixels, then over images. ``padding="valid"`` (Wang et al.'s
  reference; scikit-image's ``gaussian_weights=True`` setting) when both sides are at least
  11 pixels, else reflect padding.
* **L1** (MAE): mean absolute difference in ``[0, 1]`` units.
"""

from __future__ import annotations

import kornia
import torch

SSIM_WINDOW = 11


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], float32 (metrics are never computed in reduced precision)."""
    return ((x.detach().float().clamp(-1, 1) + 1) / 2).contiguous()


def psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR of ``[0, 1]`` images ``(N, C, H, W)``; identical images give +inf capped at 100 dB."""
    values = [kornia.metrics.psnr(p[None], t[None], max_val=1.0) for p, t in zip(pred, target)]
    return torch.stack(values).clamp(max=100.0)


def ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (see the module docstring for the exact variant)."""
    valid = min(pred.shape[-2:]) >= SSIM_WINDOW
    ssim_map = kornia.metrics.ssim(
        pred, target, SSIM_WINDOW, max_val=1.0, eps=0.0, padding="valid" if valid else "same"
    )
    return ssim_map.mean(dim=(1, 2, 3))


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image mean absolute error."""
    return (pred - target).abs().mean(dim=(1, 2, 3))


#: name -> (per-image function, higher is better)
PAIRED_METRICS = {"psnr": (psnr, True), "ssim": (ssim, True), "l1": (l1, False)}


def mean_like(images: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The pixelwise mean of ``images`` at the size and channels of ``like``, repeated like it
    (the ``mean_image`` baseline)."""
    from i2i.inference import adapt_channels  # lazy: the metrics alone need no inference layer

    mean = images.mean(0, keepdim=True)
    if mean.shape[-2:] != like.shape[-2:]:
        mean = torch.nn.functional.interpolate(mean, size=like.shape[-2:], mode="bilinear")
    return adapt_channels(mean, like.shape[1]).expand(like.shape[0], -1, -1, -1).clone()
