"""Decoding one image file into a PIL image with the channels asked for.

Runs in DataLoader workers. Everything here is deterministic (no randomness), so a
resumed run decodes exactly what the interrupted one would have. The size is checked
from the header *before* any pixel is read, so a decompression bomb is refused cheaply.

Images with more than 8 bits per sample - 16-bit PNG (grey or RGB), Pillow's 16-bit modes
(``I;16*``: 16-bit grey PNG/TIFF), 32-bit integer (``I``) and float (``F``) TIFFs - decode
with ``keep_depth=True`` (training's default, ``data.keep_16bit``) to a :class:`DeepImage`:
float32 bands in ``[0, 1]`` that resize and crop like a Pillow image, so the low 8 bits of a
medical or remote-sensing scan reach the network. Pillow has no 16-bit RGB mode (it would
truncate such a file to 8 bits), so 16-bit PNGs decode through torchvision and multi-sample
TIFFs deeper than 8 bits (16-bit RGB/RGBA, float RGB) through tifffile (:mod:`i2i.data.tiff`,
which refuses a compression it cannot decode rather than losing bits). 8-bit files take the
Pillow path unchanged, whatever ``keep_depth`` says.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps

# A truncated file must fail loudly so we can skip it, not decode as half grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False

DraftFn = Callable[[int, int], tuple[int, int]]
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_CHANNEL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


class BadImageError(Exception):
    """The file cannot be used as an image; the message says why (internal, never user-facing)."""


def open_image(
    path: str | Path, channels: int, max_pixels: int, draft: DraftFn | None = None, keep_depth: bool = False
) -> Image.Image | DeepImage:
    """Decode ``path`` to a PIL image with ``channels`` (1, 3 or 4), EXIF orientation applied.

    ``keep_depth``: a file with more than 8 bits per sample comes back as a :class:`DeepImage`
    (full precision) instead of being scaled to 8 bits.

    ``draft(width, height)`` may return the size the image will be resized to next: a JPEG is
    then decoded at a reduced scale no smaller than that (Pillow's ``draft``, DCT scaling),
    several times faster for big photos, and still deterministic.
    Raises :class:`BadImageError` for unreadable, truncated, non-image or too-large files.
    """
    if keep_depth:
        from i2i.data.tiff import is_tiff, read_deep_tiff  # lazy: tiff imports this module

        samples = read_deep_tiff(path, max_pixels) if is_tiff(path) else None  # None: Pillow reads it right
        if samples is not None:
            return convert_channels(DeepImage.from_array(samples), channels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if max_pixels > (Image.MAX_IMAGE_PIXELS or 0):
                Image.MAX_IMAGE_PIXELS = max_pixels  # the user explicitly allowed larger images
            img: Image.Image  # ImageFile as opened, a plain Image after exif_transpose
            with Image.open(path) as img:
                width, height = img.size  # header only: no pixels decoded yet
                if width * height > max_pixels:
                    raise BadImageError(
                        f"{width}x{height} = {width * height} pixels exceeds data.max_image_pixels = {max_pixels}"
                    )
                if keep_depth and (img.format == "PNG" and png_bit_depth(path) == 16):
                    return convert_channels(_decode_png16(path), channels)
                if draft is not None and img.format == "JPEG":
                    side = max(draft(width, height))  # square request: safe under an EXIF rotation
                    img.draft(img.mode, (side, side))
                img.load()
                img = ImageOps.exif_transpose(img) or img
                if keep_depth and img.mode in _DEEP_MODES:
                    deep = _deep_from_pillow(img)
                    if deep is not None:
                        return convert_channels(deep, channels)
                return convert_channels(img, channels)
    except BadImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise BadImageError(f"decompression bomb refused ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError, KeyError, MemoryError) as exc:
        # Pillow reports unreadable data with any of these (UnidentifiedImageError is an OSError).
        raise BadImageError(f"{type(exc).__name__}: {exc}") from None


def convert_channels(img: Image.Image | DeepImage, channels: int) -> Image.Image | DeepImage:
    """Convert any Pillow mode (L, LA, RGB, RGBA, P, CMYK, I;16, I, F, 1, ...) to 1/3/4 channels.

    16-bit and float data are scaled to 8 bits (not clipped), and transparency is composited
    onto white for 1 and 3 channels: a transparent logo should not turn black. A
    :class:`DeepImage` keeps its precision and gets the same channel rules.
    """
    if channels not in _CHANNEL_MODES:
        raise ValueError(f"channels must be 1, 3 or 4, got {channels}")
    if isinstance(img, DeepImage):
        return img.with_channels(channels)
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


_DEEP_MODES = (*_SIXTEEN_BIT_MODES, "I", "F")
#: ITU-R 601 luma, the weights of Pillow's ``convert("L")``.
_LUMA = (0.299, 0.587, 0.114)


class DeepImage:
    """An image with more than 8 bits per sample: float32 bands in ``[0, 1]`` (Pillow ``F``
    images), with the ``size`` / ``crop`` / ``resize`` a Pillow image has, so the datasets'
    paired crops and resizes treat both alike. ``array()`` is ``(H, W, C)`` float32."""

    mode = "deep"

    def __init__(self, bands: list[Image.Image]) -> None:
        self.bands = bands

    @classmethod
    def from_array(cls, array: np.ndarray) -> DeepImage:
        """``(H, W)`` or ``(H, W, C)`` float data in ``[0, 1]``."""
        array = np.asarray(array, dtype=np.float32)
        array = array[:, :, None] if array.ndim == 2 else array
        return cls([Image.fromarray(np.ascontiguousarray(array[:, :, c]), mode="F") for c in range(array.shape[2])])

    @property
    def size(self) -> tuple[int, int]:
        return self.bands[0].size

    def crop(self, box: tuple[int, int, int, int]) -> DeepImage:
        return DeepImage([b.crop(box) for b in self.bands])

    def resize(self, size: tuple[int, int], resample: int = Image.Resampling.BICUBIC) -> DeepImage:
        return DeepImage([b.resize(size, resample) for b in self.bands])

    def array(self) -> np.ndarray:
        """``(H, W, C)`` float32, clipped to ``[0, 1]`` (bicubic overshoots at edges, as in 8 bits)."""
        return np.clip(np.stack([np.asarray(b, dtype=np.float32) for b in self.bands], axis=-1), 0.0, 1.0)

    def with_channels(self, channels: int) -> DeepImage:
        """The channel rules of :func:`convert_channels`: alpha over white, luma, grey to colour."""
        bands = self.bands
        if len(bands) in (2, 4) and channels != 4:  # composite the alpha onto white
            data = self.array()
            colour_px, alpha_px = data[:, :, :-1], data[:, :, -1:]
            return DeepImage.from_array(colour_px * alpha_px + (1.0 - alpha_px)).with_channels(channels)
        if len(bands) == channels:
            return self
        if channels == 1:
            data = self.array()[:, :, :3]
            return DeepImage.from_array(data @ np.asarray(_LUMA, dtype=np.float32))
        colour = bands[:1] * 3 if len(bands) in (1, 2) else bands[:3]
        if channels == 3:
            return DeepImage(list(colour))
        alpha = bands[-1] if len(bands) in (2, 4) else Image.new("F", self.size, 1.0)
        return DeepImage([*colour, alpha])


def png_bit_depth(path: str | Path) -> int | None:
    """Bit depth from a PNG header (None for anything that is not a readable PNG)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(26)
    except OSError:
        return None
    return head[24] if len(head) >= 26 and head[:8] == b"\x89PNG\r\n\x1a\n" else None


def _decode_png16(path: str | Path) -> DeepImage:
    """A 16-bit PNG at full precision (torchvision keeps the 16 bits Pillow drops for RGB)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torchvision 0.29 points to torchcodec
        import torchvision.io as tvio  # here, under the filter: its import warns about torchcodec

        try:
            data = tvio.decode_png(
                tvio.read_file(str(path)), mode=tvio.ImageReadMode.UNCHANGED, apply_exif_orientation=True
            )
        except RuntimeError as exc:
            raise BadImageError(f"cannot decode 16-bit PNG: {exc}") from None
    return DeepImage.from_array(data.permute(1, 2, 0).to(dtype=torch.float32).numpy() / 65535.0)


def _deep_from_pillow(img: Image.Image) -> DeepImage | None:
    """16-bit grey, 32-bit integer and float Pillow images at full precision (None: 8-bit content)."""
    array = np.asarray(img, dtype=np.float32)
    if img.mode in _SIXTEEN_BIT_MODES:
        return DeepImage.from_array(array / 65535.0)
    if img.mode == "F":
        return DeepImage.from_array(float_to_unit(array))
    peak = float(array.max(initial=0))
    return DeepImage.from_array(array / 65535.0) if peak > 255 else None  # 8-bit values in an I image


def float_to_unit(array: np.ndarray) -> np.ndarray:
    """Float samples to ``[0, 1]``: NaN/inf made finite (:func:`_finite`), then ``[0, 1]`` data
    as is, otherwise the scales of the 8-bit path (0..255, else 0..65535), clipped."""
    array = _finite(array)
    peak = float(array.max(initial=0))
    return np.clip(array if peak <= 1.0 else array / (255.0 if peak <= 255 else 65535.0), 0.0, 1.0)


def _finite(array: np.ndarray) -> np.ndarray:
    """A float image's values with NaN as 0 and infinities as the finite extremes; an image
    with no finite value at all is refused (skipped, and the skip warning names the file)."""
    finite = np.isfinite(array)
    if array.size and not finite.any():
        raise BadImageError("no finite pixel values (all NaN or inf)")
    if finite.all():
        return array
    return np.nan_to_num(array, nan=0.0, posinf=float(array[finite].max()), neginf=float(array[finite].min()))


def _to_eight_bit(img: Image.Image) -> Image.Image:
    """Scale 16-bit, 32-bit integer and float images into 8-bit ``L`` (Pillow would clip)."""
    if img.mode in _SIXTEEN_BIT_MODES:
        array = np.asarray(img, dtype=np.float32) / 257.0
    elif img.mode == "I":
        array = np.asarray(img, dtype=np.float32)
        array = array / 257.0 if array.max(initial=0) > 255 else array
    elif img.mode == "F":
        array = _finite(np.asarray(img, dtype=np.float32))
        array = array * 255.0 if array.max(initial=0) <= 1.0 else array
    elif img.mode == "1":
        return img.convert("L")
    else:
        return img
    return Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8))
