"""Reading user images for inference and writing PNGs that never leave a torn file behind.

Inference decodes through the training decoder, :func:`i2i.data.decode.open_image` (EXIF,
every Pillow mode, full depth for 16-bit PNG/TIFF and float TIFF), and adds what training does
not need: the input's bit depth, so ``i2i translate`` hands a 16-bit scan back at 16 bits.
Pillow cannot write 16-bit RGB, so 16-bit PNGs are written by the tiny encoder below.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from i2i.data.decode import BadImageError, DeepImage, open_image, png_bit_depth
from i2i.io.atomic import atomic_write_bytes

#: Pillow's default decompression-bomb limit; inference uses the same guard as training.
DEFAULT_MAX_PIXELS = 89_478_485

#: zlib level of the PNGs written here (translate's outputs). PNG is lossless, so the level
#: moves no pixel, only time and size: a 256x256 output encodes in ~5 ms at level 2 against
#: ~15-19 ms at Pillow's default 6, for files 3-16% larger (the shipped photos at 256 px);
#: levels 1-3 are zlib's fast family, and 2 was as fast as 1 with smaller files
#: (``benchmarks/translate_speed.py --png-levels``). ``i2i translate`` writes one file per image
#: on the cores the network runs on, so the fast level is the better trade.
PNG_COMPRESS_LEVEL = 2


def read_image(
    path: str | Path, channels: int, *, keep_16bit: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[torch.Tensor, int]:
    """Decode ``path`` to a float ``(channels, H, W)`` tensor in ``[0, 1]`` and its bit depth.

    With ``keep_16bit``, a file with more than 8 bits per sample (16-bit PNG, 16-bit grey or
    RGB(A) TIFF, 32-bit integer or float TIFF) is decoded at full precision by the training
    decoder (:func:`~i2i.data.decode.open_image` with ``keep_depth``) and its depth is 16, the
    depth its output is written at; anything else (and every file without ``keep_16bit``) is 8
    bits. Raises :class:`~i2i.data.decode.BadImageError` for unreadable files.
    """
    img = open_image(path, channels, max_pixels, keep_depth=keep_16bit)
    if isinstance(img, DeepImage):
        return torch.from_numpy(img.array()).permute(2, 0, 1).contiguous(), 16
    array = np.asarray(img, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 255.0, 8


# -- writing -----------------------------------------------------------------------------------
def encode_png(image: torch.Tensor, bits: int = 8) -> bytes:
    """PNG bytes of a float ``(C, H, W)`` image in ``[0, 1]``, C = 1 or 3, 8 or 16 bits."""
    if image.dim() != 3 or image.shape[0] not in (1, 3, 4):
        raise ValueError(f"expected a (1|3|4, H, W) image, got shape {tuple(image.shape)}")
    image = image.detach().float().cpu().clamp(0, 1)
    if bits == 8:
        array = (image * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        buffer = io.BytesIO()
        Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(
            buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL
        )
        return buffer.getvalue()
    if bits != 16:
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    return _encode_png16((image * 65535).round().to(torch.int32).numpy().astype(">u2"))


def _encode_png16(array: np.ndarray) -> bytes:
    """A minimal 16-bit PNG encoder (Pillow cannot write 16-bit RGB): filter 0 rows, one IDAT."""
    channels, height, width = array.shape
    colour_type = {1: 0, 3: 2, 4: 6}[channels]
    rows = np.ascontiguousarray(array.transpose(1, 2, 0)).reshape(height, width * channels)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, PNG_COMPRESS_LEVEL))
        + chunk(b"IEND", b"")
    )


def write_png(path: str | Path, image: torch.Tensor, bits: int = 8) -> Path:
    """Encode a ``[0, 1]`` ``(C, H, W)`` image and write it atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, encode_png(image, bits))


__all__ = ["BadImageError", "read_image", "write_png", "encode_png", "atomic_write_bytes", "png_bit_depth"]
