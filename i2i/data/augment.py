"""Batched augmentation on the training device with kornia.

The random part of a preprocess mode (the crop), the flip and the optional colour jitter,
rotation and affine warp run here on whole batches, on the GPU when there is one. Paired
data goes through one ``AugmentationSequential(..., data_keys=["input", "input"])`` so A
and B get identical geometry; unpaired A and B get independent draws
(``data.independent_unpaired``). All randomness comes from torch's global RNG, which the
trainer saves and restores, so a resumed run augments exactly as the original would.
Colour jitter applies to RGB images only; a pair gets one draw for A and B, unpaired
images independent ones.

Reaching the generator's size multiple (256 for ``unet_256``) never changes the aspect ratio
or the pixel scale (the reference resizes, ``__make_power_2``, which distorts a 400x600 photo
into 512x512 for a U-Net). Training *crops* each side down to the largest multiple that fits,
at a random offset (the global RNG, drawn only when a side is not a multiple already): every
pixel the losses see is real, and over the epochs every part of the image is seen; a side
shorter than one multiple is reflect-padded instead. Samples and evaluation (``train=False``)
*reflect-pad* at the bottom/right, as ``i2i translate --fit pad`` does, so every pixel of the
held-out image is translated at its own scale; evaluation takes the images unpadded
(``pad=False``) and pads them with the crop-back of :func:`i2i.inference.prepare_size`, so the
padded border is never scored. A pair gets one window for A and B.
"""

from __future__ import annotations

import kornia.augmentation as K
import torch
import torch.nn.functional as F

from i2i.data.collate import center_crop
from i2i.data.config import DataConfig
from i2i.method import PAIRED, UNPAIRED

_CROP_MODES = ("resize_and_crop", "crop", "scale_width_and_crop")


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[0, 255]`` -> float ``[0, 1]`` (kornia's convention); full-depth batches (16-bit
    images, decoded to float ``[0, 1]`` in the workers) are already there."""
    if images.is_floating_point():
        return images.float()
    return images.float().div_(255.0)


def pad_to(images: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Reflect-pad the bottom/right of ``(N, C, H, W)`` up to ``height x width`` (edge
    replication where a pad is as wide as the image, which reflection cannot fill)."""
    h, w = images.shape[-2:]
    pad_h, pad_w = max(0, height - h), max(0, width - w)
    if not pad_h and not pad_w:
        return images
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(images, (0, pad_w, 0, pad_h), mode=mode)


def pad_to_multiple(images: torch.Tensor, multiple: int) -> torch.Tensor:
    """Samples/evaluation: pad up to the next multiple; no pixel lost, none resampled."""
    h, w = images.shape[-2:]
    return pad_to(images, -(-h // multiple) * multiple, -(-w // multiple) * multiple)


def multiple_window(height: int, width: int, multiple: int) -> tuple[int, int, int, int]:
    """Training: ``(top, left, h, w)`` of the largest multiple-sized window, at a random offset.

    Draws from the global RNG only for a side that is longer than its window, so images that
    already fit consume no randomness. A side shorter than ``multiple`` keeps its length
    (and is padded by :func:`fit_window`).
    """
    th, tw = max(height // multiple, 1) * multiple, max(width // multiple, 1) * multiple
    top = int(torch.randint(0, height - th + 1, ())) if height > th else 0
    left = int(torch.randint(0, width - tw + 1, ())) if width > tw else 0
    return top, left, min(th, height), min(tw, width)


def fit_window(images: torch.Tensor, window: tuple[int, int, int, int], multiple: int) -> torch.Tensor:
    """Cut ``window`` out of ``images`` and pad what is still short of the multiple."""
    top, left, h, w = window
    images = images[..., top : top + h, left : left + w]
    return pad_to(images, max(h, multiple), max(w, multiple))


class DeviceAugment:
    """Turns CPU uint8 image stacks into augmented float ``[-1, 1]`` stacks on the device."""

    def __init__(self, config: DataConfig, data_kind: str, size_multiple: int = 4) -> None:
        self.config, self.data_kind, self.size_multiple = config, data_kind, max(1, size_multiple)
        self.crop = config.preprocess in _CROP_MODES
        ops = self._geometric_ops()
        self._geometry = K.AugmentationSequential(*ops) if ops else None
        together = data_kind == PAIRED or (data_kind == UNPAIRED and not config.independent_unpaired)
        self._pair = (
            K.AugmentationSequential(*self._geometric_ops(), data_keys=["input", "input"]) if together and ops else None
        )
        self._jitter = self._pair_jitter = None
        if config.color_jitter > 0:
            j = config.color_jitter
            self._jitter = K.ColorJitter(brightness=j, contrast=j, saturation=j, hue=min(j, 0.5) / 5, p=1.0)
            if together:  # a pair keeps its colour relation: one draw for A and B
                self._pair_jitter = K.AugmentationSequential(self._jitter, data_keys=["input", "input"])

    def _geometric_ops(self) -> list[K.AugmentationBase2D]:
        c = self.config
        ops: list[K.AugmentationBase2D] = []
        if self.crop:
            ops.append(K.RandomCrop((c.image_size, c.image_size), pad_if_needed=True, padding_mode="reflect"))
        if c.flip:
            ops.append(K.RandomHorizontalFlip(p=0.5))
        if c.rotation > 0:
            ops.append(
                K.RandomAffine(degrees=c.rotation, p=0.5, padding_mode="reflection")
            )  # a rotation that reflects, not zero-pads
        if c.affine:
            ops.append(
                K.RandomAffine(degrees=0.0, translate=(0.1, 0.1), scale=(0.9, 1.1), p=0.5, padding_mode="reflection")
            )
        return ops

    def __call__(
        self, a: torch.Tensor, b: torch.Tensor | None = None, *, train: bool = True, pad: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``train=False, pad=False``: the deterministic eval images at their own size, for a
        caller that pads them itself and crops the outputs back (``i2i.inference.prepare_size``,
        as evaluation does so that no metric scores the padded border)."""
        a = to_unit(a)
        b = None if b is None else to_unit(b)
        m = self.size_multiple
        if train:
            a, b = self._train(a, b)
            window = multiple_window(a.shape[-2], a.shape[-1], m)
            if b is not None:  # a pair (same size, one geometry) shares the window
                same = self.data_kind == PAIRED and b.shape[-2:] == a.shape[-2:]
                b = fit_window(b, window if same else multiple_window(b.shape[-2], b.shape[-1], m), m)
            a = fit_window(a, window, m)
        else:
            a, b = self._eval(a), None if b is None else self._eval(b)
            if pad:
                a, b = pad_to_multiple(a, m), None if b is None else pad_to_multiple(b, m)
        a = a.mul(2.0).sub_(1.0)
        b = None if b is None else b.mul(2.0).sub_(1.0)
        return a, b

    def _train(self, a: torch.Tensor, b: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if b is not None and self._pair is not None and a.shape[-2:] == b.shape[-2:]:
            a, b = self._pair(a, b)
        else:
            if self._geometry is not None:
                a = self._geometry(a)
                b = None if b is None else self._geometry(b)  # an independent draw
        if self._pair_jitter is not None and b is not None and a.shape[1] == b.shape[1] == 3 and a.shape == b.shape:
            a, b = self._pair_jitter(a, b)
        elif self._jitter is not None:
            a = self._jitter(a) if a.shape[1] == 3 else a
            b = self._jitter(b) if b is not None and b.shape[1] == 3 else b
        return a, b

    def _eval(self, images: torch.Tensor) -> torch.Tensor:
        """Deterministic: a centre crop where training would crop randomly, never a flip."""
        if not self.crop:
            return images
        size = self.config.image_size
        h, w = images.shape[-2:]
        if h < size or w < size:
            scale = size / min(h, w)
            images = F.interpolate(
                images,
                size=(max(size, round(h * scale)), max(size, round(w * scale))),
                mode="bicubic",
                align_corners=False,
            ).clamp_(0.0, 1.0)
        return center_crop(images, size, size)
