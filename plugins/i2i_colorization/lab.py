"""Lab conversion with kornia, normalised as the reference ``colorization_dataset`` does.

``L / 50 - 1`` maps lightness [0, 100] to [-1, 1]; ``ab / 110`` maps the colour channels to
about [-1, 1]. The conversions run on the device, in float32 whatever the caller's autocast
(kornia's gamma curves and matrix products lose visible precision in bf16).

kornia is imported on first use: every i2i command loads every plugin, and ``import kornia``
(~0.2 s) would otherwise be part of the start-up of ``i2i translate`` for any method.
"""

from __future__ import annotations

import torch

L_SCALE = 50.0
AB_SCALE = 110.0


def _unit_rgb(images: torch.Tensor) -> torch.Tensor:
    """``(N, 1|3|4, H, W)`` in [-1, 1] -> RGB in [0, 1]; grey images become three equal channels."""
    unit = ((images.float() + 1.0) / 2.0).clamp(0.0, 1.0)
    if unit.shape[1] == 1:
        return unit.expand(-1, 3, -1, -1)
    if unit.shape[1] < 3:
        raise ValueError(f"expected grey (1 channel) or colour (3 or 4 channels) images, got {unit.shape[1]} channels")
    return unit[:, :3]


def rgb_to_lab(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Images in [-1, 1] (grey or colour) -> normalised ``L`` (N, 1, H, W) and ``ab`` (N, 2, H, W)."""
    import kornia

    with torch.autocast(images.device.type, enabled=False):
        lab = kornia.color.rgb_to_lab(_unit_rgb(images))
    return lab[:, :1] / L_SCALE - 1.0, lab[:, 1:] / AB_SCALE


def lab_to_rgb(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Normalised ``L`` and ``ab`` -> RGB in [-1, 1] (out-of-gamut colours clipped)."""
    import kornia

    with torch.autocast(lightness.device.type, enabled=False):
        lab = torch.cat([(lightness.float() + 1.0) * L_SCALE, ab.float() * AB_SCALE], dim=1)
        rgb = kornia.color.lab_to_rgb(lab, clip=True)
    return rgb * 2.0 - 1.0
