"""Inference from a checkpoint: ``i2i.load_checkpoint(path).translate(images)``.

A checkpoint describes itself (method, config, channels, domains), so loading needs no
architecture arguments. :class:`Translator` wraps the rebuilt method with what every caller
would otherwise redo: device and precision, any image size (networks need sizes that are
multiples of ``method.size_multiple``; inputs are reflect-padded, or resized with ``size=``,
and outputs come back at the input's own size), option checking against the method's
``translate_options()``, and conversion between the kinds of image users hold::

    >>> t = i2i.load_checkpoint("runs/cyclegan/last.pt")
    >>> t.translate(Image.open("horse.jpg"), direction="a2b")          # PIL in, PIL out
    >>> t.translate(torch.rand(4, 3, 100, 150) * 2 - 1)                 # [-1, 1] float in and out
    >>> t.translate_variants(img, target="all")                         # {"Male": img, ...}
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from i2i.errors import UsageError

#: How inputs are brought to a size the network accepts.
FIT_MODES = ("pad", "resize")
#: Option values naming the backward direction (reads the input with domain B's channels).
BACKWARD = ("b2a", "BtoA", "B2A", "btoa")


def resolve_device(name: str) -> torch.device:
    """``auto`` (the first GPU when there is one, else the CPU), ``cpu``, ``cuda``, ``cuda:N``, ``mps``."""
    if name == "auto":
        return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"--device: unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device: {name!r} requested but CUDA is not available")
    return device


_PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` is bf16 on a GPU that supports it and fp32 elsewhere; fp16 needs CUDA."""
    if name == "auto":
        return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if name not in _PRECISIONS:
        raise UsageError(f"--precision: unknown precision {name!r} (choose from auto, fp32, bf16, fp16)")
    if name == "fp16" and device.type != "cuda":
        raise UsageError(f"--precision: fp16 needs a CUDA device (this is {device.type}); use bf16 or fp32")
    return name


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu", precision: str = "fp32", *,
                    prefer_ema: bool = True, host: Any = None) -> "Translator":  # fmt: skip
    """Rebuild the method stored in an i2i checkpoint (a file, or a run folder: its newest
    valid checkpoint) and return a :class:`Translator` on ``device``.

    Raises :class:`~i2i.errors.CheckpointError` (one line) for a missing, corrupt or foreign
    file, e.g. a plain ``state_dict`` saved by another tool.
    """
    from i2i.train.checkpoint import method_from_checkpoint, read_checkpoint

    ckpt = read_checkpoint(path)
    method, config = method_from_checkpoint(ckpt, host, prefer_ema=prefer_ema)
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    return Translator(method, config, device=dev, precision=precision, step=int(ckpt.get("step", 0)), source=str(path))


class Translator:
    """A method in eval mode on a device, translating images of any size and kind.

    Accepted inputs of :meth:`translate` (and returned in the same kind):

    * a float tensor ``(N, C, H, W)`` or ``(C, H, W)`` in ``[-1, 1]`` (the methods' range);
    * a ``uint8`` tensor of the same shapes in ``[0, 255]``;
    * a PIL image, or a list of PIL images (sizes may differ; each keeps its own).

    ``size``: ``None`` runs at the input's own resolution (padded up to a multiple of
    ``method.size_multiple``); an int resizes the shorter side to ``size`` first (aspect ratio
    kept), which is how to run a network at the scale it was trained at. Outputs are always
    returned at the input's original size. ``fit="resize"`` resizes to the next multiple
    instead of padding.
    """

    def __init__(self, method: Any, config: Any = None, *, device: torch.device | str = "cpu", precision: str = "fp32",
                 step: int = 0, source: str = "") -> None:  # fmt: skip
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.method = method.to(self.device).eval()
        self.config = config
        self.step = step
        self.source = source

    # -- what the method offers -----------------------------------------------------------------
    @property
    def data_info(self) -> Any:
        return self.method.data_info

    @property
    def method_name(self) -> str:
        return getattr(self.config, "method_name", type(self.method).__name__)

    def options(self) -> Mapping[str, str]:
        """The method's translate options (name -> help)."""
        return dict(self.method.translate_options())

    def check_options(self, options: Mapping[str, Any]) -> None:
        """An option the method does not take is a one-line error listing the ones it does."""
        known = self.options()
        unknown = [k for k, v in options.items() if k not in known and v is not None]
        if unknown:
            offered = ", ".join(sorted(known)) or "none"
            raise UsageError(
                f"method {self.method_name!r} has no option {unknown[0]!r} (its translate options: {offered})"
            )

    def input_channels(self, **options: Any) -> int:
        """Channels of the images fed in: domain B's for a backward (``direction="b2a"``) translation."""
        info = self.data_info
        return info.channels_b if options.get("direction") in BACKWARD else info.channels_a

    # -- public translation -----------------------------------------------------------------------
    def translate(self, x: Any, *, size: int | None = None, fit: str = "pad", **options: Any) -> Any:
        """Translate ``x`` (see the class docstring for the accepted kinds); same kind out."""
        variants = self.translate_variants(x, size=size, fit=fit, _single=True, **options)
        return next(iter(variants.values()))

    def translate_variants(self, x: Any, *, size: int | None = None, fit: str = "pad", _single: bool = False,
                           **options: Any) -> dict[str, Any]:  # fmt: skip
        """All named outputs of the method (StarGAN ``target="all"``: one per domain; Augmented
        CycleGAN ``samples=K``: K samples), each of the same kind as ``x``."""
        options = {k: v for k, v in options.items() if v is not None}
        self.check_options(options)
        if fit not in FIT_MODES:
            raise UsageError(f"fit: expected one of {', '.join(FIT_MODES)}, got {fit!r}")
        if isinstance(x, (list, tuple)):
            outs = [self.translate_variants(item, size=size, fit=fit, _single=_single, **options) for item in x]
            return {key: [o[key] for o in outs] for key in (outs[0] if outs else {})}
        tensor, kind = _to_tensor(x)
        outputs = self.run(tensor, size=size, fit=fit, single=_single, **options)
        return {key: _from_tensor(value, kind) for key, value in outputs.items()}

    # -- the tensor path ---------------------------------------------------------------------------
    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        dtype = _PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    @torch.inference_mode()
    def run(self, x: torch.Tensor, *, size: int | None = None, fit: str = "pad", single: bool = False,
            **options: Any) -> dict[str, torch.Tensor]:  # fmt: skip
        """``(N, C, H, W)`` in ``[-1, 1]`` -> named ``(N, C', H, W)`` float32 CPU tensors in ``[-1, 1]``."""
        if x.dim() != 4:
            raise UsageError(f"expected images of shape (N, C, H, W), got {tuple(x.shape)}")
        height, width = x.shape[-2:]
        multiple = int(getattr(self.method, "size_multiple", 1) or 1)
        channels = self.input_channels(**options)
        if x.shape[1] != channels and {x.shape[1], channels} <= {1, 3}:
            x = adapt_channels(x, channels)  # a colour photo into a grey model, or the reverse
        work, undo = prepare_size(x.to(self.device, torch.float32), multiple, size=size, fit=fit)
        options = {k: _fit_option(v, work, self.device) for k, v in options.items()}
        with self.autocast():
            if single:
                outputs = {"": self.method.translate(work, **options)}
            else:
                outputs = self.method.translate_variants(work, **options)
        return {key: undo(out.float()).clamp(-1, 1).cpu() for key, out in outputs.items()}


# -- sizes ----------------------------------------------------------------------------------------
def working_size(height: int, width: int, multiple: int, size: int | None = None) -> tuple[int, int]:
    """The size the network runs at: the input's (shorter side scaled to ``size`` when given),
    rounded up to a multiple of ``multiple``."""
    if size is not None:
        scale = size / min(height, width)
        height, width = max(1, round(height * scale)), max(1, round(width * scale))
    return _round_up(height, multiple), _round_up(width, multiple)


def _round_up(value: int, multiple: int) -> int:
    return max(multiple, math.ceil(value / multiple) * multiple)


def prepare_size(x: torch.Tensor, multiple: int, *, size: int | None = None, fit: str = "pad") -> tuple[torch.Tensor, Any]:
    """Bring ``x`` to a size the network accepts and return it with the function that maps
    an output back to ``x``'s size.

    ``fit="pad"`` (default) keeps every pixel at its scale: the image is (optionally resized so
    its shorter side is ``size`` and) reflect-padded at the bottom/right, and the padding is
    cropped off the output. Reflection avoids the dark border a zero pad would teach the
    network to draw; a pad wider than the image falls back to edge replication.
    ``fit="resize"`` resizes to the target size instead of padding.
    """
    height, width = x.shape[-2:]
    target_h, target_w = working_size(height, width, multiple, size)
    if fit == "resize":
        scaled_h, scaled_w = target_h, target_w
    elif size is not None:
        scale = size / min(height, width)
        scaled_h, scaled_w = max(1, round(height * scale)), max(1, round(width * scale))
    else:
        scaled_h, scaled_w = height, width
    work = _resize(x, scaled_h, scaled_w) if (scaled_h, scaled_w) != (height, width) else x
    pad_h, pad_w = target_h - scaled_h, target_w - scaled_w
    if pad_h or pad_w:
        mode = "reflect" if pad_h < scaled_h and pad_w < scaled_w else "replicate"
        work = F.pad(work, (0, pad_w, 0, pad_h), mode=mode)

    def undo(out: torch.Tensor) -> torch.Tensor:
        # an output may be at a different scale than its input (a super-resolution generator)
        ratio_h, ratio_w = out.shape[-2] / target_h, out.shape[-1] / target_w
        out = out[..., : round(scaled_h * ratio_h), : round(scaled_w * ratio_w)]
        return _resize(out, height, width) if out.shape[-2:] != (height, width) else out

    return work, undo


def _resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    shrinking = height < x.shape[-2] or width < x.shape[-1]
    out = F.interpolate(x.float(), size=(height, width), mode="bicubic", align_corners=False, antialias=shrinking)
    return out.to(x.dtype)


def _fit_option(value: Any, work: torch.Tensor, device: torch.device) -> Any:
    """Image-valued options (Augmented CycleGAN's ``reference``: a PIL image or a float
    ``(N|1, C, H, W)``/``(C, H, W)`` tensor in [-1, 1]) follow the input: same device, working
    size and batch size. Other tensors (labels, codes) only move to the device."""
    image_like = _is_pil(value) or (isinstance(value, torch.Tensor) and value.dim() in (3, 4) and value.is_floating_point())
    if not image_like:
        return value.to(device) if isinstance(value, torch.Tensor) else value  # names, numbers, labels, codes
    tensor, _ = _to_tensor(value)
    tensor = tensor.to(device, torch.float32)
    if tensor.shape[-2:] != work.shape[-2:]:
        tensor = _resize(tensor, *work.shape[-2:])
    if tensor.shape[0] == 1 and work.shape[0] > 1:
        tensor = tensor.expand(work.shape[0], -1, -1, -1)
    return tensor


# -- kinds of image ---------------------------------------------------------------------------------
def _is_pil(value: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, Image.Image)


def _to_tensor(x: Any) -> tuple[torch.Tensor, tuple[str, int]]:
    """Any accepted input -> ``(N, C, H, W)`` float in [-1, 1], and how to convert back."""
    if _is_pil(x):
        return pil_to_tensor(x)[None], ("pil", 4)
    if not isinstance(x, torch.Tensor):
        raise UsageError(f"cannot translate a {type(x).__name__}: pass a tensor, a PIL image or a list of PIL images")
    dims = x.dim()
    if dims not in (3, 4):
        raise UsageError(f"expected a (C, H, W) or (N, C, H, W) tensor, got shape {tuple(x.shape)}")
    batched = x if dims == 4 else x[None]
    if x.dtype == torch.uint8:
        return batched.float() / 127.5 - 1.0, ("uint8", dims)
    if not x.is_floating_point():
        raise UsageError(f"expected a float tensor in [-1, 1] or a uint8 tensor, got {x.dtype}")
    return batched, ("float", dims)


def _from_tensor(y: torch.Tensor, kind: tuple[str, int]) -> Any:
    what, dims = kind
    if what == "pil":
        return tensor_to_pil(y[0])
    if what == "uint8":
        y = to_uint8(y)
    return y if dims == 4 else y[0]


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> [0, 255] uint8."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def pil_to_tensor(img: Any) -> torch.Tensor:
    """A PIL image -> ``(C, H, W)`` float in [-1, 1] (L stays 1 channel; other modes become RGB)."""
    import numpy as np

    if img.mode not in ("L", "RGB"):
        from i2i.data.decode import convert_channels

        img = convert_channels(img, 1 if img.mode in ("I;16", "I;16L", "I;16B", "I", "F", "1", "LA") else 3)
    array = np.asarray(img, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 127.5 - 1.0


def tensor_to_pil(y: torch.Tensor) -> Any:
    """``(C, H, W)`` in [-1, 1] -> a PIL ``L`` or ``RGB`` image."""
    from PIL import Image

    array = to_uint8(y).permute(1, 2, 0).numpy()
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array[:, :, :3])


def adapt_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Give a ``(N, C, H, W)`` [-1, 1] batch ``channels`` channels (grey <-> RGB)."""
    if x.shape[1] == channels:
        return x
    if channels == 1:
        weights = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return (x[:, :3] * weights).sum(1, keepdim=True)
    return x[:, :1].expand(-1, channels, -1, -1)


__all__ = ["load_checkpoint", "Translator", "prepare_size", "working_size", "resolve_device", "resolve_precision",
           "pil_to_tensor", "tensor_to_pil", "to_uint8", "adapt_channels", "FIT_MODES"]  # fmt: skip
