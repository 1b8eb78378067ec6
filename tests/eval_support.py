"""Tiny image folders whose domains differ in structure (stripe orientation), not colour, so a
domain classifier on rank-normalised inputs can tell them apart in a few steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

PATTERNS = ("horizontal", "vertical", "checker")


def pattern(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random-colour stripe or checker image, uint8 (size, size, 3)."""
    period = int(rng.integers(2, 5))
    ramp = (np.arange(size) // period) % 2
    if kind == "horizontal":
        mask = np.repeat(ramp[:, None], size, 1)
    elif kind == "vertical":
        mask = np.repeat(ramp[None, :], size, 0)
    else:
        mask = (ramp[:, None] + ramp[None, :]) % 2
    lo, hi = rng.integers(0, 120, 3), rng.integers(136, 256, 3)
    image = np.where(mask[..., None] == 1, hi, lo) + rng.integers(-10, 11, (size, size, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def make_unpaired(root: Path, n_train: int = 12, n_test: int = 6, size: int = 16, seed: int = 0) -> Path:
    """``trainA/ trainB/ testA/ testB/``: A horizontal, B vertical stripes; matching stems, so the
    folder also reads as paired data (B is A's image turned by 90 degrees: aligned ground truth)."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        (root / f"{split}A").mkdir(parents=True, exist_ok=True)
        (root / f"{split}B").mkdir(parents=True, exist_ok=True)
        for i in range(n):
            a = pattern("horizontal", size, rng)
            Image.fromarray(a).save(root / f"{split}A" / f"{i:03d}.png")
            Image.fromarray(np.ascontiguousarray(a.transpose(1, 0, 2))).save(root / f"{split}B" / f"{i:03d}.png")
    return root


def make_domains(
    root: Path, domains: tuple[str, ...] = PATTERNS, n_train: int = 8, n_test: int = 4, size: int = 16, seed: int = 0
) -> Path:
    """``train/<domain>/`` and ``test/<domain>/``, one stripe pattern per domain."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        for domain in domains:
            (root / split / domain).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(pattern(domain, size, rng)).save(root / split / domain / f"{i:03d}.png")
    return root
