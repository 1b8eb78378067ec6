"""Reading user images for inference and writing PNGs that never leave a torn file behind.

Training decodes through :func:`i2i.data.decode.open_image` (8 bits, EXIF, every Pillow mode);
inference reuses it and adds one thing training does not need: a 16-bit path, so ``i2i
translate --keep-16bit`` can hand a 16-bit scan back at 16 bits. Pillow has no 16-bit RGB
mode, so 16-bit PNGs are decoded by torchvision and written by the tiny encoder below.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import torch

from i2i.data.decode import BadImageError, open_image
from i2i.io.atomic import atomic_write_bytes

#: Pillow's default decompression-bomb limit; inference uses the same guard as training.
DEFAULT_MAX_PIXELS = 89_478_485


def png_bit_depth(path: str | Path) -> int | None:
    """Bit depth from a PNG header (None for anything that is not a PNG)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(26)
    except OSError:
        return None
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return head[24]


def read_image(
    path: str | Path, channels: int, *, keep_16bit: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[torch.Tensor, int]:
    """Decode ``path`` to a float ``(channels, H, W)`` tensor in ``[0, 1]`` and its bit depth.

    The bit depth is 16 only when ``keep_16bit`` and the file really holds 16-bit samples
    (a 16-bit PNG or a Pillow ``I;16`` image); otherwise the image goes through the training
    decoder and is 8 bits. Raises :class:`~i2i.data.decode.BadImageError` for unreadable files.
    """
    if keep_16bit:
        sixteen = _read_sixteen_bit(path, channels, max_pixels)
        if sixteen is not None:
            return sixteen, 16
    img = open_image(path, channels, max_pixels)
    array = np.asarray(img, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 255.0, 8


def _read_sixteen_bit(path: str | Path, channels: int, max_pixels: int) -> torch.Tensor | None:
    from PIL import Image

    if png_bit_depth(path) == 16:  # Pillow would truncate 16-bit RGB to 8 bits; torchvision keeps 16
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torchvision 0.29 points to torchcodec
            import torchvision.io as tvio

        try:
            data = tvio.decode_png(
                tvio.read_file(str(path)), mode=tvio.ImageReadMode.UNCHANGED, apply_exif_orientation=True
            )
        except RuntimeError as exc:
            raise BadImageError(f"cannot decode 16-bit PNG: {exc}") from None
        if data.shape[1] * data.shape[2] > max_pixels:
            raise BadImageError(f"{data.shape[2]}x{data.shape[1]} pixels exceeds the limit of {max_pixels}")
        return _fit_channels(data.to(torch.float32) / 65535.0, channels)
    try:
        with Image.open(path) as img:
            if img.mode not in ("I;16", "I;16L", "I;16B", "I;16N"):
                return None
            if img.size[0] * img.size[1] > max_pixels:
                raise BadImageError(f"{img.size[0]}x{img.size[1]} pixels exceeds the limit of {max_pixels}")
            array = np.asarray(img, dtype=np.float32) / 65535.0
    except (OSError, ValueError, SyntaxError) as exc:
        raise BadImageError(f"{type(exc).__name__}: {exc}") from None
    return _fit_channels(torch.from_numpy(array)[None], channels)


def _fit_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """1/2/3/4 channels in [0, 1] -> ``channels``; alpha is composited onto white as training does."""
    if image.shape[0] in (2, 4):
        colour, alpha = image[:-1], image[-1:]
        image = colour * alpha + (1.0 - alpha)
    if image.shape[0] == channels:
        return image
    if channels == 1:  # ITU-R 601 luma, what Pillow's convert("L") uses
        weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
        return (image * weights).sum(0, keepdim=True)
    return image.expand(channels, -1, -1).clone()


# -- writing -----------------------------------------------------------------------------------
def encode_png(image: torch.Tensor, bits: int = 8) -> bytes:
    """PNG bytes of a float ``(C, H, W)`` image in ``[0, 1]``, C = 1 or 3, 8 or 16 bits."""
    if image.dim() != 3 or image.shape[0] not in (1, 3, 4):
        raise ValueError(f"expected a (1|3|4, H, W) image, got shape {tuple(image.shape)}")
    image = image.detach().float().cpu().clamp(0, 1)
    if bits == 8:
        import io

        from PIL import Image

        array = (image * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        buffer = io.BytesIO()
        Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(buffer, format="PNG", compress_level=6)
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
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def write_png(path: str | Path, image: torch.Tensor, bits: int = 8) -> Path:
    """Encode a ``[0, 1]`` ``(C, H, W)`` image and write it atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, encode_png(image, bits))


__all__ = ["BadImageError", "read_image", "write_png", "encode_png", "atomic_write_bytes", "png_bit_depth"]
