"""Shared helpers for the trainer tests: a tiny paired image folder and a dummy run config."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from i2i import api
from i2i.plugins.host import PluginHost

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def make_paired(root: Path, n_train: int = 8, n_test: int = 4, size: int = 16, seed: int = 0) -> Path:
    """``root/{train,test}/{A,B}/NNN.png``: B is A's colour-inverted, slightly blurred version."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        for d in "AB":
            (root / split / d).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            a = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            a[size // 4 : size // 2] = rng.integers(0, 256, 3, dtype=np.uint8)
            b = 255 - a
            Image.fromarray(a).save(root / split / "A" / f"{i:03d}.png")
            Image.fromarray(b).save(root / split / "B" / f"{i:03d}.png")
    return root


def dummy_host() -> PluginHost:
    sys.path.insert(0, str(TESTS))
    import dummy_plugin

    return PluginHost(autoload=False, plugins=[("dummy", dummy_plugin)])


def dummy_config(host: PluginHost, root: Path, **train: Any) -> Any:
    """A tiny fp32 CPU run of the dummy method: no random augmentation, no workers."""
    overrides = {
        "data.root": str(root),
        "data.image_size": 16,
        "data.load_size": 16,
        "data.flip": False,
        "data.num_workers": 0,
        "train.batch_size": 2,
        "train.device": "cpu",
        "train.precision": "fp32",
        "train.log_every": 2,
        "train.sample_every": 1000,
        "train.checkpoint_every": 1000,
        "train.steps": 8,
    }
    overrides.update({f"train.{k}": v for k, v in train.items()})
    return api.load_config(method="dummy", overrides=overrides, host=host)


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        I2I_PLUGINS="dummy_plugin",
        I2I_DISABLE_PLUGIN_AUTOLOAD="1",
        PYTHONPATH=os.pathsep.join([str(TESTS), str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        OMP_NUM_THREADS="1",
    )
    return env
