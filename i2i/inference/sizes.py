"""Bringing any image to a size the network accepts, and the output back to the image's size.

Networks need sides that are multiples of ``method.size_multiple`` and, because of their
reflection pads and strided convolutions, often a few pixels more than the multiple: a 1x1 or
a 3x2000 image can fail deep inside the network. Such an image is run again padded up to
:data:`MIN_SIDE` pixels a side (the padding cropped off the output; images the network takes
as they are keep exactly the outputs they had). A working size beyond
:data:`MAX_WORK_PIXELS` is refused before anything is allocated.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from i2i.errors import UsageError

#: How inputs are brought to a size the network accepts.
FIT_MODES = ("pad", "resize")
#: The side a tiny image the network fails on is padded to (then cropped back).
MIN_SIDE = 16
#: The most pixels one image may have at the network (Pillow's decompression-bomb limit, the
#: same bound image decoding has); each costs the network tens of floats per channel.
MAX_WORK_PIXELS = 89_478_485


def working_size(height: int, width: int, multiple: int, size: int | None = None, min_side: int = 1) -> tuple[int, int]:
    """The size the network runs at: the input's (shorter side scaled to ``size`` when given),
    at least ``min_side``, rounded up to a multiple of ``multiple``."""
    if size is not None:
        height, width = scaled_size(height, width, size)
    return _round_up(max(height, min_side), multiple), _round_up(max(width, min_side), multiple)


def scaled_size(height: int, width: int, size: int) -> tuple[int, int]:
    scale = size / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _round_up(value: int, multiple: int) -> int:
    return max(multiple, math.ceil(value / multiple) * multiple)


def check_size_flag(size: int | None, multiple: int = 1) -> None:
    """Refuse a ``--size`` whose smallest possible working image (a square) is already too big."""
    if size is None:
        return
    side = _round_up(size, multiple)
    if side * side > MAX_WORK_PIXELS:
        raise UsageError(
            f"--size {size}: the network would run at {side}x{side} px or more "
            f"({side * side / 1e6:.0f} M pixels per image, the limit is {MAX_WORK_PIXELS / 1e6:.0f} M); use a smaller --size"
        )


def check_work_size(batch: int, height: int, width: int, multiple: int, size: int | None) -> None:
    """Refuse an image whose working size is beyond :data:`MAX_WORK_PIXELS` (before allocating)."""
    check_size_flag(size, multiple)
    h, w = working_size(height, width, multiple, size)
    if h * w > MAX_WORK_PIXELS:
        hint = "use a smaller --size" if size is not None else "pass --size N to run it at a smaller scale"
        raise UsageError(
            f"a {width}x{height} image runs at {w}x{h} px ({h * w / 1e6:.0f} M pixels, "
            f"the limit is {MAX_WORK_PIXELS / 1e6:.0f} M); {hint}"
        )


def prepare_size(
    x: torch.Tensor, multiple: int, *, size: int | None = None, fit: str = "pad", min_side: int = 1
) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """Bring ``x`` to a size the network accepts and return it with the function that maps
    an output back to ``x``'s size.

    ``fit="pad"`` (default) keeps every pixel at its scale: the image is (optionally resized so
    its shorter side is ``size`` and) reflect-padded at the bottom/right, and the padding is
    cropped off the output. Reflection avoids the dark border a zero pad would teach the
    network to draw; a pad wider than the image falls back to edge replication.
    ``fit="resize"`` resizes to the target size instead of padding. ``min_side`` pads a tiny
    image further (then crops it back), for networks that cannot run at its size.
    """
    height, width = x.shape[-2:]
    target_h, target_w = working_size(height, width, multiple, size, min_side)
    scaled_h, scaled_w = scaled_size(height, width, size) if size is not None else (height, width)
    if fit == "resize":
        scaled_h, scaled_w = _round_up(scaled_h, multiple), _round_up(scaled_w, multiple)
    work = resize(x, scaled_h, scaled_w) if (scaled_h, scaled_w) != (height, width) else x
    pad_h, pad_w = target_h - scaled_h, target_w - scaled_w
    if pad_h or pad_w:
        mode = "reflect" if pad_h < scaled_h and pad_w < scaled_w else "replicate"
        work = F.pad(work, (0, pad_w, 0, pad_h), mode=mode)

    def undo(out: torch.Tensor) -> torch.Tensor:
        # an output may be at a different scale than its input (a super-resolution generator)
        ratio_h, ratio_w = out.shape[-2] / target_h, out.shape[-1] / target_w
        out = out[..., : max(1, round(scaled_h * ratio_h)), : max(1, round(scaled_w * ratio_w))]
        return resize(out, height, width) if out.shape[-2:] != (height, width) else out

    return work, undo


def resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    shrinking = height < x.shape[-2] or width < x.shape[-1]
    out = F.interpolate(x.float(), size=(height, width), mode="bicubic", align_corners=False, antialias=shrinking)
    return out.to(x.dtype)


__all__ = [
    "FIT_MODES",
    "MIN_SIDE",
    "MAX_WORK_PIXELS",
    "working_size",
    "prepare_size",
    "resize",
    "check_work_size",
    "check_size_flag",
    "scaled_size",
]
