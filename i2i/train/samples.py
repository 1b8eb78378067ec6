"""Sample grids: one row per held-out image, one column per named output (input | output | target).

Written as uint8 PNGs with pillow; the method runs in eval mode under ``torch.no_grad`` (with
the EMA generators when the run keeps an EMA) and the global RNG is left untouched, so taking
samples never changes the training run.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import torch
from PIL import Image
from torchvision.utils import make_grid

from i2i.atomic import atomic_file


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """``[-1, 1]`` float ``(N, C, H, W)`` -> uint8 ``(N, 3, H, W)`` on the CPU (grey/extra channels made RGB)."""
    x = x.detach().float().cpu()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] == 2:
        x = torch.cat([x, x[:, :1]], 1)
    elif x.shape[1] > 3:
        x = x[:, :3]
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[None]:
    was = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was)


def sample_rows(method: Any, batch: Any, autocast: Any, ema: Any = None) -> dict[str, torch.Tensor]:
    """``method.sample(batch)`` as uint8 CPU tensors, without disturbing training state."""
    swap = ema.swapped() if ema is not None else contextlib.nullcontext()
    with torch.random.fork_rng(devices=_rng_devices(batch.a.device)), eval_mode(method), torch.no_grad(), swap, enter(autocast):
        rows = method.sample(batch)
        return {name: to_uint8(x) for name, x in rows.items()}


def enter(autocast: Any) -> contextlib.AbstractContextManager[Any]:
    """Accept a context manager or a factory of one (``precision.autocast``)."""
    if autocast is None:
        return contextlib.nullcontext()
    return autocast if hasattr(autocast, "__enter__") else autocast()


def _rng_devices(device: torch.device) -> list[int]:
    return [device.index or 0] if device.type == "cuda" else []


def grid(rows: dict[str, torch.Tensor]) -> torch.Tensor:
    """uint8 ``(3, H, W)``: image i's outputs side by side in row i."""
    names = list(rows)
    n = min(int(rows[k].shape[0]) for k in names)
    h = max(int(rows[k].shape[2]) for k in names)
    w = max(int(rows[k].shape[3]) for k in names)
    tiles = []
    for i in range(n):
        for k in names:
            tile = rows[k][i]
            if tile.shape[1:] != (h, w):
                tile = torch.nn.functional.interpolate(tile[None].float(), size=(h, w), mode="nearest")[0].to(torch.uint8)
            tiles.append(tile)
    return make_grid(torch.stack(tiles), nrow=len(names), padding=2, pad_value=255)


def write_png(image: torch.Tensor, path: Path) -> None:
    """Write a uint8 ``(3, H, W)`` tensor atomically (the report may be read meanwhile)."""
    with atomic_file(path) as fh:
        Image.fromarray(image.permute(1, 2, 0).contiguous().numpy()).save(fh, format="PNG")


def row_grids(rows: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each named row as one uint8 CHW image (for the ``i2i_sample_images`` hook)."""
    return {name: make_grid(x, nrow=int(x.shape[0]), padding=2, pad_value=255) for name, x in rows.items()}
