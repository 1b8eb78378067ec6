"""Inference from a checkpoint: ``i2i.load_checkpoint(path).translate(images)``.

A checkpoint describes itself (method, config, channels, domains), so loading needs no
architecture arguments. :class:`Translator` wraps the rebuilt method with what every caller
would otherwise redo: device and precision (the resolver training uses), any image size
(networks need sizes that are multiples of ``method.size_multiple``; inputs are reflect-padded,
or resized with ``size=``, and outputs come back at the input's own size), option checking
against the method's declared :attr:`~i2i.Method.translate_options`, and conversion between
the kinds of image users hold (:mod:`i2i.inference.images`)::

    >>> t = i2i.load_checkpoint("runs/cyclegan/last.pt", precision="auto")
    >>> t.translate(Image.open("horse.jpg"), direction="a2b")          # PIL in, PIL out
    >>> t.translate(np.asarray(photo))                                  # NumPy (H, W, 3) uint8 in and out
    >>> t.translate(torch.rand(4, 3, 100, 150) * 2 - 1)                 # [-1, 1] float in and out
    >>> t.translate_variants(img, target="all")                         # {"Male": img, ...}
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from i2i.allocator import keep_freed_memory
from i2i.data.decode import BadImageError
from i2i.errors import UsageError
from i2i.inference.images import (
    adapt_channels,
    from_batch,
    image_name,
    is_pil,
    pil_to_tensor,
    tensor_to_pil,
    to_batch,
    to_uint8,
)
from i2i.inference.sizes import FIT_MODES, MIN_SIDE, check_work_size, prepare_size, resize, working_size
from i2i.inference.spec import TranslateOption, check_options, declared_options
from i2i.io.checkpoint import Checkpoint
from i2i.train.precision import (
    DTYPES,
    resolve_device as _resolve_device,
    resolve_precision as _resolve_precision,
    use_fast_kernels,
)
from i2i.weight_copies import hold_for_inference


def resolve_device(name: str | torch.device) -> torch.device:
    """``auto`` (the first GPU when there is one, else the CPU), ``cpu``, ``cuda[:N]``, ``mps``,
    ``xla`` ... where this torch has the backend; a clear ``--device`` error elsewhere."""
    return name if isinstance(name, torch.device) else _resolve_device(name, what="--device")


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` is bf16 where the hardware has it (the same rule as training), else fp32."""
    return _resolve_precision(name, device, what="--precision")


def load_checkpoint(
    path: str | Path,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    *,
    prefer_ema: bool = True,
    host: Any = None,
    weight_copies: bool = True,
) -> Translator:
    """Rebuild the method stored in an i2i checkpoint (a file, or a run folder: its newest
    valid checkpoint) and return a :class:`Translator` on ``device``.

    ``precision="auto"`` is what ``i2i translate`` uses (bf16 where the hardware has it); the
    library default stays fp32 so results are exactly the network's. Raises
    :class:`~i2i.errors.CheckpointError` (one line) for a missing, corrupt or foreign file,
    e.g. a plain ``state_dict`` saved by another tool. ``weight_copies``: see :class:`Translator`.
    """

    dev = resolve_device(device)
    resolve_precision(precision, dev)  # a bad flag fails before the checkpoint is read
    ckpt = Checkpoint.read(path, mmap=True)  # the weights are copied into the method
    method, config = ckpt.build_method(host, prefer_ema=prefer_ema)
    step = ckpt.step
    # unmapped before the translator makes its bf16 copies: the file's pages, the fp32 weights
    # and the copies held at once were the peak (pix2pix: 1064 MiB, against fp32's 957)
    del ckpt
    return Translator(
        method, config, device=dev, precision=precision, step=step, source=str(path), weight_copies=weight_copies
    )


class Translator:
    """A method in eval mode on a device, translating images of any size and kind.

    :meth:`translate` accepts float ``[-1, 1]`` and ``uint8`` tensors ``(N, C, H, W)`` or
    ``(C, H, W)``, PIL images (EXIF orientation applied), NumPy arrays ``(H, W[, C])`` (uint8,
    uint16, float in [0, 1]) and lists of those (sizes may differ); the output has the input's
    kind and size. ``size``: ``None`` runs at the input's own resolution (padded up to a
    multiple of ``method.size_multiple``); an int resizes the shorter side to ``size`` first
    (aspect ratio kept), how to run a network at the scale it was trained at. ``fit="resize"``
    resizes to the next multiple instead of padding.

    Options are the method's declared :class:`~i2i.TranslateOption` records (by name or
    alias); values are checked as ``i2i translate`` checks its flags, and a file-taking option
    given a path loads it (once; cached).

    In bf16 or fp16 the convolution and linear weights get low-precision copies made once
    (``weight_copies``, :func:`i2i.weight_copies.hold_for_inference`): the outputs are the same
    bit for bit, no weight is cast per batch, and they cost 2 bytes a weight; ``False`` leaves
    the casting to autocast.
    """

    def __init__(
        self,
        method: Any,
        config: Any = None,
        *,
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        step: int = 0,
        source: str = "",
        weight_copies: bool = True,
    ) -> None:
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.method = method.to(self.device).eval()
        if self.device.type == "cpu":  # every image allocates and frees the same feature maps
            keep_freed_memory()
        low = self.precision != "fp32"
        # in low precision the convolutions run on bf16/fp16 copies of their weights, made once (not
        # cast by autocast for every batch; same outputs) and channels_last (oneDNN's and cuDNN's
        # fast layout) straight from the fp32 weights; anything else 4-D is made channels_last
        dtype = DTYPES[self.precision] if weight_copies else None
        self._weight_copies = hold_for_inference(self.method, dtype, self.device, torch.channels_last)
        if low:
            _channels_last_except(self.method, self._weight_copies)
        # use_fast_kernels itself never reroutes convolutions in fp32
        use_fast_kernels(
            self.method,
            self.device,
            self.precision,
            channels_last=False,
            small_map_gemm=True,
            narrow_conv=True,
        )
        self.config = config
        self.step = step
        self.source = source
        self._loaded: dict[tuple[str, str], Any] = {}

    # -- what the method offers -----------------------------------------------------------------
    @property
    def data_info(self) -> Any:
        return self.method.data_info

    @property
    def method_name(self) -> str:
        return getattr(self.config, "method_name", type(self.method).__name__)

    @property
    def declared_options(self) -> tuple[TranslateOption, ...]:
        return declared_options(self.method)

    def options(self) -> dict[str, TranslateOption]:
        """The method's translate options, name -> record."""
        return {option.name: option for option in self.declared_options}

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``options`` against the declared records: ``{name: converted value}``; an
        unknown one is a one-line error listing the method's options, and a value this
        checkpoint cannot take (an option's ``check``: a label it was not trained on) another."""
        checked = check_options(self.declared_options, options, self.method_name)
        table = self.options()
        for name, value in checked.items():
            check = table[name].check
            if check is not None:
                check(value, self.method, {k: v for k, v in checked.items() if k != name})
        return checked

    def method_options(
        self, options: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, tuple[TranslateOption, Any]]]:
        """Checked options as the method's keywords, file options loaded: ``(fixed, per_image)``,
        ``per_image`` holding ``keyword -> (option, {file name: value})``."""
        checked = self.check_options(options)
        table = self.options()
        plain = {name: value for name, value in checked.items() if not table[name].is_file}
        fixed: dict[str, Any] = {table[name].keyword: value for name, value in plain.items()}
        per_image: dict[str, tuple[TranslateOption, Any]] = {}
        for name, value in checked.items():
            option = table[name]
            if not option.is_file:
                continue
            if option.keyword in fixed or option.keyword in per_image:
                raise UsageError(f"{option.flag} and another option both set {option.keyword!r}: give one of them")
            loaded = self._load(option, value, fixed)
            if option.per_image and isinstance(value, (str, Path)):
                per_image[option.keyword] = (option, loaded)
            else:
                fixed[option.keyword] = loaded
        return fixed, per_image

    def _load(self, option: TranslateOption, value: Any, others: Mapping[str, Any]) -> Any:
        if not isinstance(value, (str, Path)) or option.load is None:
            return value
        path = Path(value).expanduser()
        key = (option.name, f"{path.resolve()}|{sorted((k, repr(v)) for k, v in others.items())}")
        if key not in self._loaded:
            if not path.is_file():
                raise UsageError(f"{option.flag} {value}: no such file")
            try:
                self._loaded[key] = option.load(path, self.method, dict(others))
            except UsageError as exc:
                raise UsageError(f"{option.flag} {value}: {exc}") from None
            except (OSError, ValueError, BadImageError) as exc:
                raise UsageError(f"{option.flag} {value}: cannot read it ({exc})") from None
        return self._loaded[key]

    def input_channels(self, **options: Any) -> int:
        """Channels of the images fed in with ``options`` (the method decides: a backward
        direction reads domain B's)."""
        fixed, _ = self.method_options(options)
        return self._channels(fixed)

    def _channels(self, fixed: Mapping[str, Any]) -> int:
        channels = getattr(self.method, "input_channels", None)
        return int(channels(**fixed)) if callable(channels) else int(self.data_info.channels_a)

    # -- public translation -----------------------------------------------------------------------
    def translate(self, x: Any, *, size: int | None = None, fit: str = "pad", **options: Any) -> Any:
        """Translate ``x`` (see the class docstring for the accepted kinds); same kind out."""
        variants = self.translate_variants(x, size=size, fit=fit, _single=True, **options)
        return next(iter(variants.values()))

    def translate_variants(
        self, x: Any, *, size: int | None = None, fit: str = "pad", _single: bool = False, **options: Any
    ) -> dict[str, Any]:
        """All named outputs of the method (StarGAN ``target="all"``: one per domain; Augmented
        CycleGAN ``samples=K``: K samples), each of the same kind as ``x``."""
        if fit not in FIT_MODES:
            raise UsageError(f"fit: expected one of {', '.join(FIT_MODES)}, got {fit!r}")
        if isinstance(x, (list, tuple)):
            outs = [self.translate_variants(item, size=size, fit=fit, _single=_single, **options) for item in x]
            return {key: [o[key] for o in outs] for key in (outs[0] if outs else {})}
        name = image_name(x)
        tensor, kind = to_batch(x)
        outputs = self.run(tensor, size=size, fit=fit, single=_single, names=[name] if name else None, **options)
        return {key: from_batch(value, kind) for key, value in outputs.items()}

    # -- the tensor path ---------------------------------------------------------------------------
    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        dtype = DTYPES[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    @torch.inference_mode()
    def run(
        self,
        x: torch.Tensor,
        *,
        size: int | None = None,
        fit: str = "pad",
        single: bool = False,
        names: Sequence[str] | None = None,
        **options: Any,
    ) -> dict[str, torch.Tensor]:
        """``(N, C, H, W)`` in ``[-1, 1]`` -> named ``(N, C', H, W)`` float32 CPU tensors in ``[-1, 1]``.

        ``names``: the inputs' file names, for per-image options (a label file's rows).
        """
        if x.dim() != 4:
            raise UsageError(f"expected images of shape (N, C, H, W), got {tuple(x.shape)}")
        fixed, per_image = self.method_options(options)
        for keyword, (option, table) in per_image.items():
            fixed[keyword] = _per_image_values(option, table, names, x.shape[0])
        multiple = int(getattr(self.method, "size_multiple", 1) or 1)
        height, width = int(x.shape[-2]), int(x.shape[-1])
        check_work_size(x.shape[0], height, width, multiple, size)
        channels = self._channels(fixed)
        if x.shape[1] != channels and {x.shape[1], channels} <= {1, 3}:
            x = adapt_channels(x, channels)  # a colour photo into a grey model, or the reverse
        x = x.to(self.device, torch.float32)
        try:
            return self._forward(x, multiple, size, fit, 1, single, fixed)
        except (RuntimeError, ValueError):  # torch reports a too-small input with either
            if min(working_size(height, width, multiple, size)) >= MIN_SIDE:
                raise
        # a tiny image (1x1, 3x2000) some layer cannot take: once more, padded to MIN_SIDE
        return self._forward(x, multiple, size, fit, MIN_SIDE, single, fixed)

    def _forward(
        self,
        x: torch.Tensor,
        multiple: int,
        size: int | None,
        fit: str,
        min_side: int,
        single: bool,
        options: Mapping[str, Any],
    ) -> dict[str, torch.Tensor]:
        work, undo = prepare_size(x, multiple, size=size, fit=fit, min_side=min_side)
        fixed = {k: _fit_option(v, work, self.device) for k, v in options.items()}
        if self.precision != "fp32":
            work = work.contiguous(memory_format=torch.channels_last)
        with self.autocast():
            if single:
                outputs = {"": self.method.translate(work, **fixed)}
            else:
                outputs = self.method.translate_variants(work, **fixed)
        return {key: undo(out.float()).clamp(-1, 1).contiguous().cpu() for key, out in outputs.items()}


def _channels_last_except(module: torch.nn.Module, copied: Any) -> None:
    """``module.to(memory_format=torch.channels_last)`` for every 4-D parameter and buffer that
    has no low-precision copy in ``copied`` (those copies are channels_last already, and their
    fp32 weights need no second layout)."""
    for layer in module.modules():
        for tensors in (layer._parameters, layer._buffers):
            for tensor in tensors.values():
                if tensor is not None and tensor.dim() == 4 and (copied is None or tensor not in copied):
                    tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)


def _per_image_values(option: TranslateOption, table: Mapping[str, Any], names: Sequence[str] | None, n: int) -> Any:
    """Each input's value from a per-image file option's ``{file name: value}`` table (by
    name, else by stem), stacked when the values are tensors."""
    if names is None or len(names) != n:
        raise UsageError(
            f"{option.flag} gives one value per input file: translate files (i2i translate) or PIL images opened from files"
        )
    stems: dict[str, Any] = {}
    for key, value in table.items():
        stems.setdefault(Path(key).stem, value)
    values = []
    for name in names:
        value = table.get(name, stems.get(Path(name).stem))
        if value is None:
            raise UsageError(f"{option.flag}: no entry for {name} (the file lists {len(table)} images)")
        values.append(value)
    return torch.stack([torch.as_tensor(v) for v in values]) if isinstance(values[0], torch.Tensor) else values


def _fit_option(value: Any, work: torch.Tensor, device: torch.device) -> Any:
    """Image-valued options (a reference image: a PIL image or a float ``(N|1, C, H, W)``/
    ``(C, H, W)`` tensor in [-1, 1]) follow the input: same device, working size and batch
    size. Other tensors (labels, codes) only move to the device."""

    image_like = is_pil(value) or (
        isinstance(value, torch.Tensor) and value.dim() in (3, 4) and value.is_floating_point()
    )
    if not image_like:
        return value.to(device) if isinstance(value, torch.Tensor) else value  # names, numbers, labels, codes
    tensor, _ = to_batch(value)
    tensor = tensor.to(device, torch.float32)
    if tensor.shape[-2:] != work.shape[-2:]:
        tensor = resize(tensor, *work.shape[-2:])
    if tensor.shape[0] == 1 and work.shape[0] > 1:
        tensor = tensor.expand(work.shape[0], -1, -1, -1)
    return tensor


__all__ = [
    "load_checkpoint",
    "Translator",
    "prepare_size",
    "working_size",
    "resolve_device",
    "resolve_precision",
    "pil_to_tensor",
    "tensor_to_pil",
    "to_uint8",
    "adapt_channels",
    "FIT_MODES",
]
