"""Multi-sample TIFFs deeper than 8 bits (16-bit RGB, RGBA, grey+alpha; float RGB) at full depth.

Pillow has no 16-bit RGB mode: it opens a 16-bit RGB(A) TIFF as 8-bit RGB(A), silently
dropping the low byte of every sample, and cannot open a float RGB or a 16-bit grey+alpha
TIFF at all. Those files are decoded here with ``tifffile`` (pure Python and numpy); every
other TIFF (8-bit, and the single-sample 16-bit/float ones Pillow reads at full precision)
stays on Pillow's path.

Without the optional ``imagecodecs`` package, tifffile decodes uncompressed, deflate (zlib and
Adobe deflate), PackBits and LZMA data; LZW, JPEG, JPEG 2000, WebP, Zstandard and the rest
need ``imagecodecs``. Such a file is refused with one line that names the compression and the
ways out (install imagecodecs, re-save, or read it at 8 bits), never decoded at 8 bits behind
the user's back. Installing imagecodecs makes them decode here with no change to i2i.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from i2i.data.decode import BadImageError, float_to_unit

_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders
_MINISBLACK, _RGB = 1, 2
_ALPHA = {1: "associated", 2: "unassociated"}  # TIFF ExtraSamples values
_HINT = (
    "install the optional imagecodecs package (pip install imagecodecs), re-save the file uncompressed or with "
    "deflate, or read it at 8 bits (data.keep_16bit = false; i2i translate --8bit)"
)


def is_tiff(path: str | Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in _MAGIC
    except OSError:
        return False


def read_deep_tiff(path: str | Path, max_pixels: int) -> np.ndarray | None:
    """``(H, W, C)`` float32 in ``[0, 1]`` (C = 2, 3 or 4) of a multi-sample TIFF with more than
    8 bits per sample, Orientation tag applied; None for a TIFF Pillow decodes correctly.

    Raises :class:`~i2i.data.decode.BadImageError` for a compression tifffile cannot decode
    here, a colour model other than grey/RGB, too many pixels, or damaged data.
    """

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            if page.samplesperpixel < 2 or page.bitspersample <= 8:
                return None
            width, height = int(page.imagewidth), int(page.imagelength)
            if width * height > max_pixels:
                raise BadImageError(
                    f"{width}x{height} = {width * height} pixels exceeds data.max_image_pixels = {max_pixels}"
                )
            kind = f"{page.bitspersample}-bit {page.samplesperpixel}-sample TIFF"
            if page.photometric not in (_MINISBLACK, _RGB):
                raise BadImageError(
                    f"{kind} with photometric {_name(page.photometric)}: only grey and RGB (with alpha) are read at "
                    "full depth; convert it to RGB"
                )
            try:
                tifffile.TIFF.DECOMPRESSORS[page.compression]
            except KeyError:
                raise BadImageError(f"{kind} compressed with {_name(page.compression)}: {_HINT}") from None
            data = page.asarray()
            axes = page.axes
            extras = tuple(int(e) for e in page.extrasamples)
            orientation = int(page.tags.valueof(274, 1) or 1)
            photometric = int(page.photometric)
            bits = int(page.bitspersample)
    except BadImageError:
        raise
    except (tifffile.TiffFileError, OSError, ValueError, KeyError, IndexError, MemoryError) as exc:
        raise BadImageError(f"cannot decode TIFF: {type(exc).__name__}: {exc}") from None
    if "S" in axes:  # planar ("separate") files come as (S, H, W)
        data = np.moveaxis(data, axes.index("S"), -1)
    data = data.reshape(height, width, -1)
    return _orient(_with_alpha(_to_unit(data, bits), photometric, extras), orientation)


def _name(value: object) -> str:
    return str(getattr(value, "name", value))


def _to_unit(data: np.ndarray, bits: int) -> np.ndarray:
    """Integer samples by the range of their declared bit depth (a 12-bit scan by 4095; signed
    samples from the most negative value); float samples by the rules of Pillow's float images (:func:`float_to_unit`)."""
    if data.dtype.kind == "f":
        return float_to_unit(data.astype(np.float32))
    scale = float(2**bits - 1)
    array = data.astype(np.float64)
    if data.dtype.kind == "i":
        array += 2 ** (bits - 1)
    return (array / scale).astype(np.float32)


def _with_alpha(data: np.ndarray, photometric: int, extras: tuple[int, ...]) -> np.ndarray:
    """Colour samples (3 for RGB, 1 for grey) and the first extra sample if it is alpha;
    associated (premultiplied) alpha is divided out, so compositing later is the usual one."""
    colours = 3 if photometric == _RGB else 1
    if data.shape[-1] < colours:
        raise BadImageError(f"a {'RGB' if colours == 3 else 'grey'} TIFF with {data.shape[-1]} samples per pixel")
    colour = data[:, :, :colours]
    if data.shape[-1] == colours or not extras or extras[0] not in _ALPHA:
        return colour
    alpha = data[:, :, colours : colours + 1]
    if _ALPHA[extras[0]] == "associated":
        colour = np.where(alpha > 0, colour / np.maximum(alpha, 1e-12), 0.0).clip(0.0, 1.0).astype(np.float32)
    return np.concatenate([colour, alpha], axis=-1)


def _orient(data: np.ndarray, orientation: int) -> np.ndarray:
    """Apply the TIFF Orientation tag (EXIF numbering), as Pillow's ``exif_transpose`` does."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(data) if op else data)


__all__ = ["is_tiff", "read_deep_tiff"]
