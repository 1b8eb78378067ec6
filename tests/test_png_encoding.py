"""``i2i.io.images.encode_png``: lossless at every depth and channel count, at the fast zlib level."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.io.images import PNG_COMPRESS_LEVEL, encode_png, read_image


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_8bit_png_holds_the_rounded_pixels_exactly(channels: int) -> None:
    image = torch.rand(channels, 23, 31, generator=torch.Generator().manual_seed(channels))
    decoded = np.asarray(Image.open(io.BytesIO(encode_png(image))))
    expected = (image * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.array_equal(decoded.reshape(expected.shape), expected)


@pytest.mark.parametrize("channels", [1, 3])
def test_16bit_png_holds_the_rounded_pixels_exactly(tmp_path, channels: int) -> None:
    image = torch.rand(channels, 17, 9, generator=torch.Generator().manual_seed(10 + channels))
    path = tmp_path / "deep.png"
    path.write_bytes(encode_png(image, bits=16))
    got, bits = read_image(path, channels, keep_16bit=True)
    assert bits == 16
    assert torch.equal((got * 65535).round(), (image * 65535).round())


def test_16bit_png_stream_is_compressed_at_the_documented_level() -> None:
    """The hand-written 16-bit encoder's IDAT is zlib at ``PNG_COMPRESS_LEVEL`` (the header's
    FLEVEL bits say which family of levels wrote it: 1 for levels 2-5, 2 for Pillow's default 6)."""
    data = encode_png(torch.rand(3, 32, 32), bits=16)
    start = data.index(b"IDAT") + 4
    flevel = data[start + 1] >> 6
    assert PNG_COMPRESS_LEVEL == 2 and flevel == 1
    length = int.from_bytes(data[start - 8 : start - 4], "big")
    assert len(zlib.decompress(data[start : start + length])) == 32 * (1 + 32 * 3 * 2)
