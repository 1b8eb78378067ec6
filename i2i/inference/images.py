"""The kinds of image :meth:`i2i.Translator.translate` accepts, and back again.

Every kind becomes an ``(N, C, H, W)`` float batch in ``[-1, 1]`` (the methods' range) and the
outputs are returned in the kind that came in:

* float tensors ``(N, C, H, W)``/``(C, H, W)`` in ``[-1, 1]``; ``uint8`` tensors in ``[0, 255]``;
* PIL images, EXIF orientation applied as ``i2i translate`` and training do (an upright photo
  stays upright); 16-bit greyscale (``I;16``) comes back 16-bit;
* NumPy arrays ``(H, W)`` or ``(H, W, C)``: ``uint8`` in ``[0, 255]``, ``uint16`` in
  ``[0, 65535]``, floats in ``[0, 1]`` (the image libraries' conventions); same dtype out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from i2i.data.decode import convert_channels
from i2i.errors import UsageError

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


def is_pil(value: Any) -> bool:
    return isinstance(value, Image.Image)


def to_batch(x: Any) -> tuple[torch.Tensor, tuple[Any, ...]]:
    """Any accepted input -> ``(N, C, H, W)`` float32 in [-1, 1], and how to convert back."""
    if is_pil(x):
        tensor, bits = pil_to_tensor(x, with_bits=True)
        return tensor[None], ("pil", bits)
    if isinstance(x, np.ndarray):
        return _from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise UsageError(
            f"cannot translate a {type(x).__name__}: pass a tensor, a NumPy array, a PIL image or a list of them"
        )
    dims = x.dim()
    if dims not in (3, 4):
        raise UsageError(f"expected a (C, H, W) or (N, C, H, W) tensor, got shape {tuple(x.shape)}")
    batched = x if dims == 4 else x[None]
    if x.dtype == torch.uint8:
        return batched.float() / 127.5 - 1.0, ("uint8", dims)
    if not x.is_floating_point():
        raise UsageError(f"expected a float tensor in [-1, 1] or a uint8 tensor, got {x.dtype}")
    return batched.float(), ("float", dims)


def _from_numpy(x: np.ndarray) -> tuple[torch.Tensor, tuple[Any, ...]]:
    if x.ndim not in (2, 3) or (x.ndim == 3 and x.shape[2] not in (1, 2, 3, 4)):
        raise UsageError(f"expected a NumPy image of shape (H, W) or (H, W, C) with C <= 4, got {x.shape}")
    if x.dtype == np.uint8:
        scale = 255.0
    elif x.dtype == np.uint16:
        scale = 65535.0
    elif np.issubdtype(x.dtype, np.floating):
        scale = 1.0
    else:
        raise UsageError(f"expected a uint8, uint16 or float NumPy image, got dtype {x.dtype}")
    array = x if x.ndim == 3 else x[:, :, None]
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(2, 0, 1) / scale
    if not torch.isfinite(tensor).all():
        raise UsageError("the NumPy image holds NaN or infinite values")
    tensor = _composite_alpha(tensor.clamp(0, 1))
    return (tensor * 2 - 1)[None], ("numpy", x.dtype, x.ndim)


def _composite_alpha(image: torch.Tensor) -> torch.Tensor:
    """Grey+alpha or RGBA in [0, 1] -> grey or RGB composited on white, as training decodes them."""
    if image.shape[0] in (2, 4):
        colour, alpha = image[:-1], image[-1:]
        image = colour * alpha + (1.0 - alpha)
    return image


def from_batch(y: torch.Tensor, kind: tuple[Any, ...]) -> Any:
    """One output batch (``(N, C, H, W)`` in [-1, 1]) in the kind ``to_batch`` recorded."""
    what = kind[0]
    if what == "pil":
        return tensor_to_pil(y[0], bits=kind[1])
    if what == "numpy":
        _, dtype, ndim = kind
        image = ((y[0].float().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()
        if dtype == np.uint8:
            image = np.round(image * 255).astype(np.uint8)
        elif dtype == np.uint16:
            image = np.round(image * 65535).astype(np.uint16)
        else:
            image = image.astype(dtype)
        return image[:, :, 0] if ndim == 2 and image.shape[2] == 1 else image
    dims = kind[1]
    if what == "uint8":
        y = to_uint8(y)
    return y if dims == 4 else y[0]


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> [0, 255] uint8."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def pil_to_tensor(img: Any, *, with_bits: bool = False) -> Any:
    """A PIL image -> ``(C, H, W)`` float in [-1, 1], EXIF orientation applied (L and 16-bit
    greyscale stay 1 channel; other modes become RGB, alpha composited on white).

    With ``with_bits`` also returns the bit depth (16 for ``I;16`` images, whose low 8 bits
    are kept, else 8).
    """

    img = ImageOps.exif_transpose(img) or img
    bits = 8
    if img.mode in _SIXTEEN_BIT_MODES:
        array = np.asarray(img).astype(np.float32)[:, :, None] / 65535.0
        bits = 16
    else:
        if img.mode not in ("L", "RGB"):
            img = convert_channels(img, 1 if img.mode in ("I", "F", "1", "LA") else 3)
        array = np.asarray(img, dtype=np.uint8)
        array = (array[:, :, None] if array.ndim == 2 else array).astype(np.float32) / 255.0
    tensor = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1) * 2 - 1
    return (tensor, bits) if with_bits else tensor


def tensor_to_pil(y: torch.Tensor, bits: int = 8) -> Any:
    """``(C, H, W)`` in [-1, 1] -> a PIL ``L`` or ``RGB`` image (``I;16`` for 1-channel 16 bits)."""

    if bits == 16 and y.shape[0] == 1:
        array = ((y[0].float().clamp(-1, 1) + 1) / 2 * 65535).round().numpy().astype(np.uint16)
        return Image.fromarray(array)  # uint16 -> mode I;16
    array = to_uint8(y).permute(1, 2, 0).numpy()
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array[:, :, :3])


def adapt_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Give a ``(N, C, H, W)`` [-1, 1] batch ``channels`` channels (grey <-> RGB)."""
    if x.shape[1] == channels:
        return x
    if channels == 1:
        weights = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return (x[:, :3] * weights).sum(1, keepdim=True)
    return x[:, :1].expand(-1, channels, -1, -1)


def image_name(x: Any) -> str | None:
    """The file name a PIL image was opened from (for per-image options), else None."""
    name = getattr(x, "filename", None) if is_pil(x) else None
    if not name:
        return None

    return Path(name).name


__all__ = [
    "to_batch",
    "from_batch",
    "to_uint8",
    "pil_to_tensor",
    "tensor_to_pil",
    "adapt_channels",
    "is_pil",
    "image_name",
]
