"""Decoding: every Pillow mode to 1/3/4 channels, EXIF orientation, 16-bit, bad files, bombs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from i2i.data.decode import BadImageError, open_image
from i2i.data.prepare import prepare, target_size

BIG = 10**9


def gradient(width: int = 12, height: int = 8) -> np.ndarray:
    """An RGB image whose pixels differ, so orientation and channel order are observable."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 20, y * 30, np.full_like(x, 200)], axis=-1).astype(np.uint8)


@pytest.mark.parametrize(
    "mode",
    ["RGB", "L", "LA", "RGBA", "P", "CMYK", "1", "I", "F"],
)
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_every_mode_converts_to_the_requested_channels(tmp_path: Path, mode: str, channels: int) -> None:
    img = Image.fromarray(gradient()).convert(mode)
    path = tmp_path / ("x.tif" if mode in ("CMYK", "I", "F") else "x.png")
    img.save(path)
    out = open_image(path, channels, BIG)
    assert out.mode == {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    assert out.size == (12, 8)
    tensor = prepare(out, mode="none", load_size=8, image_size=8)
    assert tensor.shape == (channels, 8, 12) and tensor.dtype.is_floating_point is False


def test_rgb_values_survive(tmp_path: Path) -> None:
    Image.fromarray(gradient()).save(tmp_path / "x.png")
    out = np.asarray(open_image(tmp_path / "x.png", 3, BIG))
    np.testing.assert_array_equal(out, gradient())


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    array = np.array([[0, 257 * 100, 65535]], dtype=np.uint16).repeat(4, axis=0)
    Image.fromarray(array).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode in ("I;16", "I")
    out = np.asarray(open_image(tmp_path / "deep.png", 1, BIG))
    assert out[0].tolist() == [0, 100, 255]


def test_sixteen_bit_tiff(tmp_path: Path) -> None:
    array = np.array([[0, 257 * 10, 65535]], dtype=np.uint16).repeat(2, axis=0)
    Image.fromarray(array).save(tmp_path / "deep.tif")
    out = np.asarray(open_image(tmp_path / "deep.tif", 3, BIG))
    assert out.shape == (2, 3, 3)
    assert out[0, :, 0].tolist() == [0, 10, 255]


def test_transparency_is_composited_on_white(tmp_path: Path) -> None:
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    assert np.asarray(open_image(tmp_path / "clear.png", 3, BIG)).min() == 255
    assert np.asarray(open_image(tmp_path / "clear.png", 4, BIG))[..., 3].max() == 0


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.fromarray(gradient(12, 8))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "rotated.jpg", exif=exif, quality=100)
    out = open_image(tmp_path / "rotated.jpg", 3, BIG)
    assert out.size == (8, 12)


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40],
    ids=["empty", "text", "bad-png"],
)
def test_bad_files_raise_bad_image(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "bad.png").write_bytes(content)
    with pytest.raises(BadImageError):
        open_image(tmp_path / "bad.png", 3, BIG)


def test_truncated_jpeg_is_bad(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadImageError):
        open_image(tmp_path / "cut.jpg", 3, BIG)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    Image.new("L", (100, 100)).save(tmp_path / "big.png")
    with pytest.raises(BadImageError, match="max_image_pixels"):
        open_image(tmp_path / "big.png", 3, max_pixels=50 * 50)
    assert open_image(tmp_path / "big.png", 3, max_pixels=100 * 100).size == (100, 100)


def test_worker_resize_keeps_aspect_where_the_reference_does() -> None:
    assert target_size(400, 200, mode="resize_and_crop", load_size=286, image_size=256) == (286, 286)
    assert target_size(400, 200, mode="scale_width", load_size=300, image_size=64) == (300, 150)
    assert target_size(400, 200, mode="scale_width_and_crop", load_size=300, image_size=256) == (300, 256)
    assert target_size(400, 200, mode="crop", load_size=286, image_size=100) == (400, 200)
    assert target_size(40, 20, mode="crop", load_size=286, image_size=100) == (200, 100)
    assert target_size(40, 20, mode="none", load_size=286, image_size=100) == (40, 20)


def test_jpeg_draft_decodes_big_photos_at_a_reduced_scale(tmp_path: Path) -> None:
    Image.fromarray(np.tile(gradient(), (50, 40, 1))).save(tmp_path / "big.jpg")  # 480x400
    full = open_image(tmp_path / "big.jpg", 3, BIG)
    small = open_image(tmp_path / "big.jpg", 3, BIG, draft=lambda w, h: (100, 100))
    assert full.size == (480, 400) and small.size == (120, 100)
    assert open_image(tmp_path / "big.jpg", 3, BIG, draft=lambda w, h: (300, 300)).size == (480, 400)
