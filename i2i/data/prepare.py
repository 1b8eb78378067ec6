"""The deterministic, per-image part of a preprocess mode, done in the DataLoader workers.

The random part (crops, flips, jitter) runs batched on the training device in
:mod:`i2i.data.augment`. What must happen per image is only the resize that the reference
does before its random crop - ``resize_and_crop`` resizes to ``load_size`` square,
``scale_width*`` scales the width to ``load_size`` - so that images of different sizes end
up the same size and a batch stacks. Non-square images stay non-square unless the mode
itself squares them.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from i2i.data.config import PREPROCESS_MODES  # noqa: F401  (the modes data.preprocess accepts)
from i2i.data.decode import DeepImage


def target_size(width: int, height: int, *, mode: str, load_size: int, image_size: int) -> tuple[int, int]:
    """The ``(width, height)`` an image of this size is resized to in the worker."""
    if mode == "resize_and_crop":
        return load_size, load_size
    if mode in ("scale_width", "scale_width_and_crop"):
        # The reference __scale_width: width -> load_size, keep aspect, never shorter than the crop.
        return load_size, max(round(load_size * height / width), image_size)
    if mode == "crop":
        # A crop needs at least image_size on both sides: scale small images up, keeping aspect.
        short = min(width, height)
        if short < image_size:
            scale = image_size / short
            return max(image_size, round(width * scale)), max(image_size, round(height * scale))
    return width, height


def prepare(
    img: Image.Image | DeepImage, *, mode: str, load_size: int, image_size: int, size: tuple[int, int] | None = None
) -> torch.Tensor:
    """Resize ``img`` for ``mode`` (or to ``size`` if given) and return a uint8 ``(C, H, W)`` tensor
    (float32 in ``[0, 1]`` for a :class:`~i2i.data.decode.DeepImage`: a 16-bit image keeps its bits)."""
    if size is None:
        size = target_size(*img.size, mode=mode, load_size=load_size, image_size=image_size)
    if img.size != size:
        img = img.resize(size, Image.Resampling.BICUBIC)
    return to_tensor(img)


def to_tensor(img: Image.Image | DeepImage) -> torch.Tensor:
    """uint8 ``(C, H, W)`` tensor of a PIL image in L, RGB or RGBA mode; float32 for a DeepImage."""
    if isinstance(img, DeepImage):
        return torch.from_numpy(img.array()).permute(2, 0, 1).contiguous()
    array = np.array(img, dtype=np.uint8, copy=True)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()
