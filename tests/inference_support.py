"""Checkpoints for the inference, eval and export tests: a real (2-step) trainer run of the dummy
method, and hand-built checkpoints of any registered method (grey, tiny real methods)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from train_support import dummy_config, make_paired

from i2i import api
from i2i.config import run as _config
from i2i.io import checkpoint as ck
from i2i.method import DataInfo


def trained_dummy(tmp: Path, host: Any, steps: int = 2) -> Path:
    """Train the dummy method for ``steps`` steps on a tiny paired folder; returns last.pt."""
    from i2i.train.trainer import Trainer

    root = make_paired(tmp / "data", n_train=4, n_test=4, size=16)
    cfg = dummy_config(host, root, steps=steps)
    Trainer(cfg, out_dir=tmp / "run", host=host, progress=False).fit()
    return tmp / "run" / "last.pt"


def write_checkpoint(
    path: Path,
    name: str,
    host: Any,
    *,
    data_info: DataInfo | None = None,
    overrides: dict[str, Any] | None = None,
    seed: int = 0,
    image_size: int = 32,  # the tiny test networks' crop: the 70x70 PatchGAN needs at least 24 px
) -> Path:
    """An i2i checkpoint of a freshly built ``name`` (method overrides, e.g. the tiny test ones)."""
    spec = host.registry.get("method", name)
    info = data_info if data_info is not None else DataInfo(kind=spec.data_kind)
    flat = {f"method.{k}": v for k, v in {**spec.test_overrides, **(overrides or {})}.items()}
    cfg = api.load_config(
        method=name, overrides={**flat, "data.image_size": image_size, "data.load_size": image_size}, host=host
    )
    torch.manual_seed(seed)
    method = spec.factory(cfg.method, info)
    payload = {
        "format": ck.FORMAT,
        "version": ck.VERSION,
        "method": name,
        "config": _config.to_dict(cfg),
        "data_info": ck.data_info_dict(info),
        "model": method.state_dict(),
        "step": 1,
    }
    return ck.save_checkpoint(path, payload)


def write_demo_size_checkpoint(path: Path, name: str, host: Any) -> Path:
    """A tiny checkpoint of built-in ``name`` at the demo's 64 px (a U-Net of 6 levels for
    pix2pix, three domains for StarGAN), for inference at a realistic depth."""
    spec = host.registry.get("method", name)
    info = DataInfo(kind=spec.data_kind, domains=("a", "b", "c") if spec.data_kind == "labelled" else ())
    overrides: dict[str, object] = {"image_size": 64} if name == "stargan" else {}
    if name == "pix2pix":
        overrides["netG"] = "unet_64"
    return write_checkpoint(path, name, host, data_info=info, overrides=overrides, image_size=64)


def save_rgb(path: Path, height: int, width: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path
