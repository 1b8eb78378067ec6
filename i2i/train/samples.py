"""Sample grids: one row per held-out image, one column per named output (input | output | target).

The images are the first distinct ones of the test split (of the training split when there
is none), each shown whole at its own aspect ratio: decoded without the training crop,
scaled so its shorter side is the scale the network trained at (``data.load_size`` for the
resizing modes, ``data.image_size`` otherwise or for generators with a size multiple above 16;
the longer side is capped at twice that),
reflect-padded to the generator's size multiple and the padding cropped off the outputs,
as ``i2i translate`` does. No image appears in two rows (an unpaired test split shorter on
one side would otherwise repeat its images). A method whose ``sample`` cannot take such an
image falls back to square centre crops.

Written as uint8 PNGs with pillow; the method runs in eval mode under ``torch.no_grad`` (with
the EMA generators when the run keeps an EMA) and the global RNG is left untouched, so taking
samples never changes the training run.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import attrs
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.utils import make_grid

from i2i.data.batch import Batch
from i2i.data.pipeline import build_data
from i2i.errors import DataError
from i2i.inference import prepare_size
from i2i.io.atomic import atomic_file

#: A sample image's longer side is at most this many times its shorter side (centre-cropped).
MAX_ASPECT = 2.0
_RESIZING_MODES = ("resize_and_crop", "scale_width", "scale_width_and_crop")


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
    with (
        torch.random.fork_rng(devices=_rng_devices(batch.a.device)),
        eval_mode(method),
        torch.no_grad(),
        swap,
        enter(autocast),
    ):
        rows = method.sample(batch)
        return {name: to_uint8(x) for name, x in rows.items()}


def enter(autocast: Any) -> contextlib.AbstractContextManager[Any]:
    """Accept a context manager or a factory of one (``precision.autocast``)."""
    if autocast is None:
        return contextlib.nullcontext()
    return autocast if hasattr(autocast, "__enter__") else autocast()


def _rng_devices(device: torch.device) -> list[int]:
    return [device.index or 0] if device.type == "cuda" else []


# -- the held-out images ---------------------------------------------------------------------------
@attrs.define
class SampleImage:
    """One held-out image (batch of one, ``[-1, 1]``, on the device, padded to the multiple) and
    the functions mapping outputs of A's (and B's) padded size back to the image's own size."""

    batch: Any
    undo_a: Callable[[torch.Tensor], torch.Tensor]
    undo_b: Callable[[torch.Tensor], torch.Tensor] | None = None

    def undo(self, x: torch.Tensor) -> torch.Tensor:
        b = self.batch.b
        if self.undo_b is not None and b is not None and x.shape[-2:] == b.shape[-2:] != self.batch.a.shape[-2:]:
            return self.undo_b(x)
        return self.undo_a(x)


@attrs.define
class SampleSet:
    """The fixed images of the sample grids; ``split`` is the split they came from."""

    images: list[SampleImage]
    split: str
    square: bool = False

    def rows(self, method: Any, autocast: Any, ema: Any = None) -> list[dict[str, torch.Tensor]]:
        """Per image, ``{column: uint8 (3, H, W)}`` at the image's own size."""
        out = []
        for image in self.images:
            named = sample_rows(method, image.batch, autocast, ema)
            out.append(
                {name: image.undo(x.float()).round().clamp(0, 255).to(torch.uint8)[0] for name, x in named.items()}
            )
        return out


def display_scale(data_config: Any) -> int:
    """The shorter side a sample image is shown at: the scale the network trained at."""
    if data_config.preprocess in _RESIZING_MODES:
        return max(int(data_config.load_size), int(data_config.image_size))
    return int(data_config.image_size)


def fit_display(x: torch.Tensor, short: int, *, square: bool = False) -> torch.Tensor:
    """Float ``(N, C, H, W)`` resized so its shorter side is ``short``, the longer side
    centre-cropped to ``MAX_ASPECT`` times that (or to a square)."""
    h, w = x.shape[-2:]
    scale = short / min(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=scale < 1).clamp(0, 1)
    limit = short if square else int(short * MAX_ASPECT)
    th, tw = min(nh, limit), min(nw, limit)
    top, left = (nh - th) // 2, (nw - tw) // 2
    return x[..., top : top + th, left : left + tw]


def collect_samples(
    data_config: Any,
    data_kind: str,
    count: int,
    device: torch.device,
    size_multiple: int,
    *,
    seed: int = 0,
    square: bool = False,
    host: Any = None,
) -> SampleSet:
    """The first ``count`` distinct images of the test split (else the training split)."""
    from i2i.data.augment import to_unit  # uint8 or full-depth float batches alike

    whole = attrs.evolve(data_config, preprocess="none", num_workers=0)
    module, split = None, "test"
    for split in ("test", "train"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the training run has already said what it found
                module = build_data(
                    whole,
                    data_kind,
                    split=split,
                    batch_size=1,
                    seed=seed,
                    size_multiple=size_multiple,
                    shuffle=False,
                    drop_last=False,
                    host=host,
                )
            break
        except DataError:
            if split == "train":
                raise
    assert module is not None
    short = display_scale(data_config)
    if size_multiple > 16:  # a deep U-Net: the crop size is a multiple, a load_size would double the padded work
        short = int(data_config.image_size)
    seen_a: set[str] = set()
    seen_b: set[str] = set()
    images: list[SampleImage] = []
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for tried, raw in enumerate(module.loader):
            if len(images) >= count or tried >= 8 * count:
                break
            name_a = (raw.get("names_a") or [""])[0]
            name_b = (raw.get("names_b") or [""])[0]
            if (name_a and name_a in seen_a) or (name_b and name_b in seen_b):
                continue  # an image already in another row
            seen_a.add(name_a)
            seen_b.add(name_b)
            a = fit_display(to_unit(raw["a"]), short, square=square)
            padded_a, undo_a = prepare_size(a * 2 - 1, size_multiple)
            padded_b, undo_b = None, None
            if raw.get("b") is not None:
                b = fit_display(to_unit(raw["b"]), short, square=square)
                padded_b, undo_b = prepare_size(b * 2 - 1, size_multiple)
            batch = Batch(a=padded_a, b=padded_b, labels=raw.get("labels"), names_a=[name_a], names_b=[name_b])
            images.append(SampleImage(batch=batch.to(device), undo_a=undo_a, undo_b=undo_b))
    return SampleSet(images=images, split=split, square=square)


# -- grids -----------------------------------------------------------------------------------------
def fit_tile(tile: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A uint8 ``(3, h, w)`` tile scaled to fit ``height x width`` keeping its aspect, padded white."""
    h, w = tile.shape[-2:]
    if (h, w) == (height, width):
        return tile
    scale = min(height / h, width / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    scaled = F.interpolate(tile[None].float(), size=(nh, nw), mode="nearest")[0].to(torch.uint8)
    out = torch.full((tile.shape[0], height, width), 255, dtype=torch.uint8)
    top, left = (height - nh) // 2, (width - nw) // 2
    out[:, top : top + nh, left : left + nw] = scaled
    return out


def grid(rows: dict[str, torch.Tensor] | Sequence[dict[str, torch.Tensor]], padding: int = 2) -> torch.Tensor:
    """uint8 ``(3, H, W)``: image i's outputs side by side in row i.

    ``rows`` is a list with one ``{column: (3, h, w)}`` per image (each row at its own size,
    narrower rows padded white on the right), or one ``{column: (N, 3, h, w)}`` batch.
    """
    if isinstance(rows, dict):
        n = min(int(v.shape[0]) for v in rows.values())
        rows = [{k: v[i] for k, v in rows.items()} for i in range(n)]
    strips = []
    for row in rows:
        h = max(int(t.shape[1]) for t in row.values())
        w = max(int(t.shape[2]) for t in row.values())
        strips.append(_strip([fit_tile(t, h, w) for t in row.values()], padding))
    width = max(int(s.shape[2]) for s in strips)
    out = torch.full(
        (3, sum(int(s.shape[1]) for s in strips) - padding * (len(strips) - 1), width), 255, dtype=torch.uint8
    )
    top = 0
    for strip in strips:
        out[:, top : top + strip.shape[1], : strip.shape[2]] = strip
        top += int(strip.shape[1]) - padding
    return out


def _strip(tiles: Sequence[torch.Tensor], padding: int) -> torch.Tensor:
    """Same-size uint8 tiles side by side with a white border ``padding`` wide around each."""
    h, w = int(tiles[0].shape[1]), int(tiles[0].shape[2])
    out = torch.full((3, h + 2 * padding, len(tiles) * (w + padding) + padding), 255, dtype=torch.uint8)
    for i, tile in enumerate(tiles):
        left = padding + i * (w + padding)
        out[:, padding : padding + h, left : left + w] = tile
    return out


def write_png(image: torch.Tensor, path: Path) -> None:
    """Write a uint8 ``(3, H, W)`` tensor atomically (the report may be read meanwhile)."""
    with atomic_file(path) as fh:
        Image.fromarray(image.permute(1, 2, 0).contiguous().numpy()).save(fh, format="PNG")


def row_grids(rows: dict[str, torch.Tensor] | Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Each named column as one uint8 CHW image, its images side by side (for the
    ``i2i_sample_images`` hook); images of different sizes are fitted to the largest."""
    if isinstance(rows, dict):
        return {name: make_grid(x, nrow=int(x.shape[0]), padding=2, pad_value=255) for name, x in rows.items()}
    out = {}
    for name in rows[0] if rows else ():
        tiles = [row[name] for row in rows if name in row]
        h, w = max(int(t.shape[1]) for t in tiles), max(int(t.shape[2]) for t in tiles)
        out[name] = _strip([fit_tile(t, h, w) for t in tiles], 2)
    return out
