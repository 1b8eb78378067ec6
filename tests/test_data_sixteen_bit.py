"""16-bit PNG/TIFF and float TIFF images train at full precision: the low 8 bits reach the batch.

Every test compares against the file's own 16-bit values, so dropping the low byte anywhere
(decode, resize, collate, device augmentation) fails it; 8-bit images keep their uint8 path.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.data import DataConfig, build_data
from i2i.io.images import encode_png

sys.path.insert(0, str(Path(__file__).parent))
from train_support import dummy_config, dummy_host


def _grey16(seed: int = 0, shape=(12, 16)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 65536, shape, dtype=np.uint16)


def _save16(path: Path, array: np.ndarray) -> Path:
    """Grey (H, W) via Pillow (``I;16``), RGB (H, W, 3) via i2i's 16-bit PNG encoder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 2:
        Image.fromarray(array).save(path)
    else:
        path.write_bytes(encode_png(torch.from_numpy(array.astype(np.float32) / 65535.0).permute(2, 0, 1), bits=16))
    return path


def _unpaired(root: Path, name: str, a: np.ndarray, b: np.ndarray) -> Path:
    _save16(root / "trainA" / name, a)
    _save16(root / "trainB" / name, b)
    return root


def _batch(root: Path, channels: int, train: bool = False, **kw):
    config = DataConfig(root=str(root), num_workers=0, preprocess="none", flip=False, channels=channels, **kw)
    dm = build_data(config, "unpaired", size_multiple=4)
    raw = next(iter(dm.loader))
    return raw, dm.augment(raw, "cpu", train=train)


def _as16(x: torch.Tensor) -> np.ndarray:
    return ((x.double() + 1.0) / 2.0 * 65535.0).round().numpy().astype(np.int64)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_grey_keeps_every_bit(tmp_path: Path, suffix: str) -> None:
    a = _grey16(0)
    raw, batch = _batch(_unpaired(tmp_path, f"0{suffix}", a, _grey16(1)), channels=1)
    assert raw["a"].dtype == torch.float32  # decoded to float in the worker, not uint8
    np.testing.assert_array_equal(_as16(batch.a[0, 0]), a.astype(np.int64))
    assert (a & 0xFF).std() > 50  # the low bytes really vary, so the equality above tests them


def test_16bit_rgb_png_keeps_every_bit(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    a = rng.integers(0, 65536, (12, 16, 3), dtype=np.uint16)
    _, batch = _batch(_unpaired(tmp_path, "0.png", a, a), channels=3)
    np.testing.assert_array_equal(_as16(batch.a[0].permute(1, 2, 0)), a.astype(np.int64))


def test_float_tiff_keeps_its_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    a = rng.random((12, 16), dtype=np.float32)
    for d in ("trainA", "trainB"):
        (tmp_path / d).mkdir(parents=True)
        Image.fromarray(a, mode="F").save(tmp_path / d / "0.tif")
    _, batch = _batch(tmp_path, channels=1)
    np.testing.assert_allclose(((batch.a[0, 0] + 1) / 2).numpy(), a, atol=1e-6)


def test_keep_16bit_false_is_the_old_8_bit_path(tmp_path: Path) -> None:
    a = _grey16(4)
    raw, batch = _batch(_unpaired(tmp_path, "0.png", a, a), channels=1, keep_16bit=False)
    assert raw["a"].dtype == torch.uint8
    assert np.abs(_as16(batch.a[0, 0]) - a).max() > 0  # the low 8 bits are gone


def test_8bit_images_stay_uint8(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    for d in ("trainA", "trainB"):
        (tmp_path / d).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(tmp_path / d / "0.png")
    raw, batch = _batch(tmp_path, channels=3)
    assert raw["a"].dtype == torch.uint8
    torch.testing.assert_close(batch.a, raw["a"].float() / 255.0 * 2 - 1, rtol=0, atol=0)


def test_resized_16bit_is_not_quantised_to_8_bits(tmp_path: Path) -> None:
    """resize_and_crop on a 16-bit image resizes in float: values fall between 8-bit steps."""
    ramp = (np.linspace(0, 65535, 40 * 40).reshape(40, 40)).astype(np.uint16)
    root = _unpaired(tmp_path, "0.png", ramp, ramp)
    config = DataConfig(
        root=str(root), num_workers=0, preprocess="resize_and_crop", load_size=24, image_size=24, flip=False, channels=1
    )
    dm = build_data(config, "unpaired")
    batch = dm.augment(next(iter(dm.loader)), "cpu", train=False)
    eighths = ((batch.a + 1) / 2 * 255).double()
    assert (eighths - eighths.round()).abs().mean() > 0.1  # an 8-bit path would give ~0


def test_mixed_depths_stack_as_float(tmp_path: Path) -> None:
    _save16(tmp_path / "trainA" / "0.png", _grey16(6))
    (tmp_path / "trainA").mkdir(exist_ok=True)
    Image.fromarray(np.full((12, 16), 128, np.uint8)).save(tmp_path / "trainA" / "1.png")
    _save16(tmp_path / "trainB" / "0.png", _grey16(7))
    config = DataConfig(root=str(tmp_path), num_workers=0, preprocess="none", flip=False, channels=1)
    dm = build_data(config, "unpaired", batch_size=2, shuffle=False)
    raw = next(iter(dm.loader))
    assert raw["a"].dtype == torch.float32
    torch.testing.assert_close(raw["a"][1], torch.full((1, 12, 16), 128 / 255.0))


def test_a_run_trains_on_16bit_data(tmp_path: Path) -> None:
    for split in ("train", "test"):
        for i in range(4):
            a = _grey16(10 + i, (16, 16))
            _save16(tmp_path / "data" / split / "A" / f"{i}.png", a)
            _save16(tmp_path / "data" / split / "B" / f"{i}.png", 65535 - a)
    host = dummy_host()
    from i2i.train.trainer import Trainer

    cfg = dummy_config(host, tmp_path / "data", steps=2, eval_images=2)
    final = Trainer(cfg, out_dir=tmp_path / "run", host=host, progress=False).fit()
    assert all(np.isfinite(v) for v in final.values())
