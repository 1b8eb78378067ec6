"""Reaching the generator's size multiple keeps every pixel at its own scale: training crops
(a window of real pixels), samples and evaluation reflect-pad (every pixel kept)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.data import DataConfig, build_data
from i2i.data.augment import fit_window, multiple_window, pad_to_multiple


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _paired(root: Path, height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    _save(root / "train" / "A" / "0.png", a)
    _save(root / "train" / "B" / "0.png", 255 - a)
    return a


def _unit(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array).permute(2, 0, 1).float().div(255.0).mul(2).sub(1)


@pytest.mark.parametrize("preprocess", ["none", "scale_width"])
def test_unet_training_crops_a_window_of_real_pixels_for_a_pair(tmp_path: Path, preprocess: str) -> None:
    """A 40x60 photo and a U-Net of multiple 32: a 32x32 window (no 64x64 stretch), A and B aligned."""
    a = _paired(tmp_path, 40, 60)
    config = DataConfig(
        root=str(tmp_path), num_workers=0, preprocess=preprocess, load_size=60, image_size=32, flip=False
    )
    dm = build_data(config, "paired", size_multiple=32)
    torch.manual_seed(0)
    batch = dm.augment(next(iter(dm.loader)), "cpu", train=True)
    assert batch.a.shape[-2:] == (32, 32)
    whole = _unit(a)
    windows = [
        (t, left)
        for t in range(9)
        for left in range(29)
        if torch.allclose(whole[:, t : t + 32, left : left + 32], batch.a[0])
    ]
    assert len(windows) == 1  # pixel-identical to one window of the image: nothing resampled
    torch.testing.assert_close(batch.b, -batch.a)  # B cut at the same window


def test_unet_evaluation_pads_and_keeps_every_pixel(tmp_path: Path) -> None:
    a = _paired(tmp_path, 40, 60)
    config = DataConfig(root=str(tmp_path), num_workers=0, preprocess="none", flip=False)
    dm = build_data(config, "paired", size_multiple=32)
    batch = dm.augment(next(iter(dm.loader)), "cpu", train=False)
    assert batch.a.shape[-2:] == (64, 64)
    torch.testing.assert_close(batch.a[0, :, :40, :60], _unit(a))  # the image, at its own scale
    torch.testing.assert_close(batch.a[0, :, 40:48, :60], _unit(a).flip(-2)[:, 1:9])  # reflected below


def test_images_already_a_multiple_draw_no_randomness() -> None:
    torch.manual_seed(5)
    before = torch.get_rng_state()
    assert multiple_window(64, 128, 32) == (0, 0, 64, 128)
    assert torch.equal(torch.get_rng_state(), before)


def test_sides_shorter_than_the_multiple_are_padded() -> None:
    x = torch.rand(1, 3, 20, 70)
    torch.manual_seed(0)
    out = fit_window(x, multiple_window(20, 70, 32), 32)
    assert out.shape[-2:] == (32, 64)
    assert pad_to_multiple(torch.rand(1, 1, 3, 5), 32).shape[-2:] == (32, 32)  # replicate beyond reflection
