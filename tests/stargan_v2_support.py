"""Shared by the StarGAN v2 CLI and torchrun tests: three shaded domains and a tiny CPU run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

DOMAINS = ("cat", "dog", "wild")

#: tiny networks and a plain fp32 CPU run with an EMA; each test adds its sizes and length
TINY_RUN = {
    "method.dim_in": 8,
    "method.max_conv_dim": 16,
    "method.hidden_dim": 16,
    "method.style_dim": 8,
    "method.latent_dim": 4,
    "method.ds_iter": 4,
    "data.num_workers": 0,
    "data.flip": "false",
    "train.device": "cpu",
    "train.precision": "fp32",
    "train.ema": 0.9,
    "train.log_every": 1,
    "train.sample_every": 100,
    "train.checkpoint_every": 100,
}


def shaded_image(path: Path, seed: int, shade: float, size: int = 32) -> None:
    """Noise around a brightness ``shade``: each domain its own shade, so domains differ."""
    rng = np.random.default_rng(seed)
    base = np.clip(rng.random((size, size, 3)) * 0.4 + shade, 0, 1)
    Image.fromarray((base * 255).astype(np.uint8)).save(path)


def make_domains(root: Path, per_domain: int) -> Path:
    """``root/{train,test}/<domain>/N.png`` for every domain of :data:`DOMAINS`."""
    for split in ("train", "test"):
        for k, domain in enumerate(DOMAINS):
            (root / split / domain).mkdir(parents=True)
            for j in range(per_domain):
                shaded_image(root / split / domain / f"{j}.png", seed=10 * k + j, shade=0.25 * k)
    return root
