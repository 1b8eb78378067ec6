"""Decoding one image file into a PIL image with the channels asked for.

Runs in DataLoader workers. Everything here is deterministic (no randomness), so a
resumed run decodes exactly what the interrupted one would have. The size is checked
from the header *before* any pixel is read, so a decompression bomb is refused cheaply.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageFile, ImageOps

# A truncated file must fail loudly so we can skip it, not decode as half grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False

DraftFn = Callable[[int, int], tuple[int, int]]
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_CHANNEL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


class BadImageError(Exception):
    """The file cannot be used as an image; the message says why (internal, never user-facing)."""


def open_image(path: str | Path, channels: int, max_pixels: int, draft: DraftFn | None = None) -> Image.Image:
    """Decode ``path`` to a PIL image with ``channels`` (1, 3 or 4), EXIF orientation applied.

    ``draft(width, height)`` may return the size the image will be resized to next: a JPEG is
    then decoded at a reduced scale no smaller than that (Pillow's ``draft``, DCT scaling),
    several times faster for big photos, and still deterministic.
    Raises :class:`BadImageError` for unreadable, truncated, non-image or too-large files.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if max_pixels > (Image.MAX_IMAGE_PIXELS or 0):
                Image.MAX_IMAGE_PIXELS = max_pixels  # the user explicitly allowed larger images
            with Image.open(path) as img:
                width, height = img.size  # header only: no pixels decoded yet
                if width * height > max_pixels:
                    raise BadImageError(
                        f"{width}x{height} = {width * height} pixels exceeds data.max_image_pixels = {max_pixels}"
                    )
                if draft is not None and img.format == "JPEG":
                    side = max(draft(width, height))  # square request: safe under an EXIF rotation
                    img.draft(img.mode, (side, side))
                img.load()
                img = ImageOps.exif_transpose(img) or img
                return convert_channels(img, channels)
    except BadImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise BadImageError(f"decompression bomb refused ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError, KeyError, MemoryError) as exc:
        # Pillow reports unreadable data with any of these (UnidentifiedImageError is an OSError).
        raise BadImageError(f"{type(exc).__name__}: {exc}") from None


def convert_channels(img: Image.Image, channels: int) -> Image.Image:
    """Convert any Pillow mode (L, LA, RGB, RGBA, P, CMYK, I;16, I, F, 1, ...) to 1/3/4 channels.

    16-bit and float data are scaled to 8 bits (not clipped), and transparency is composited
    onto white for 1 and 3 channels: a transparent logo should not turn black.
    """
    if channels not in _CHANNEL_MODES:
        raise ValueError(f"channels must be 1, 3 or 4, got {channels}")
    img = _to_eight_bit(img)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("RGB")
    target = _CHANNEL_MODES[channels]
    if channels != 4 and img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img if img.mode == target else img.convert(target)


def _to_eight_bit(img: Image.Image) -> Image.Image:
    """Scale 16-bit, 32-bit integer and float images into 8-bit ``L`` (Pillow would clip)."""
    if img.mode in _SIXTEEN_BIT_MODES:
        array = np.asarray(img, dtype=np.float32) / 257.0
    elif img.mode == "I":
        array = np.asarray(img, dtype=np.float32)
        array = array / 257.0 if array.max(initial=0) > 255 else array
    elif img.mode == "F":
        array = np.asarray(img, dtype=np.float32)
        if array.size and not np.isfinite(array).any():  # skipped, and the skip warning names the file
            raise BadImageError("no finite pixel values (all NaN or inf)")
        array = array * 255.0 if array.max(initial=0) <= 1.0 else array
    elif img.mode == "1":
        return img.convert("L")
    else:
        return img
    return Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8))
