"""Exporting a checkpoint's generators to TorchScript or ONNX for deployment without i2i.

Each generator is exported in eval mode with the inputs its method names in
``method.export_inputs(x)``: named :class:`~i2i.ExportInput` records (the image, and e.g. a
conditioning label or a latent code), each with an example tensor and its dynamic axes.
Batch size and spatial size are dynamic (any size that is a multiple of the method's
``size_multiple`` works, and the ONNX graph declares exactly that). Images are
``(N, C, H, W)`` float32 in ``[-1, 1]``, the contract of :meth:`i2i.Method.translate`; a
JSON sidecar ``FILE.json`` records it (inputs, channels, range, size multiple, domain names)
so a deployment needs no i2i to know how to feed the model.

Methods with several generators (CycleGAN) write one file per generator,
``STEM_<name>.SUFFIX``; ``generator=NAME`` exports one to ``FILE`` itself.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch
from torch import nn
from torch.export import Dim

from i2i.errors import UsageError
from i2i.inference.spec import ExportInput, image_input
from i2i.io.images import atomic_write_bytes

FORMATS = ("torchscript", "onnx")


class _Image(nn.Module):
    """``forward(image) -> image`` around one generator. Explicit arities (no ``*args``) so
    tracing and ``torch.export`` see named positional inputs, and tuple outputs are unwrapped."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return _first(self.module(image))


class _ImageCond(_Image):
    """``forward(image, condition) -> image``: a conditioning label or a latent code."""

    def forward(self, image: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return _first(self.module(image, condition))


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, (tuple, list)) else out


def _wrap(module: nn.Module, arity: int) -> nn.Module:
    if arity == 1:
        return _Image(module).eval()
    if arity == 2:
        return _ImageCond(module).eval()
    raise UsageError(
        f"cannot export a generator with {arity} inputs (i2i exports image and image+condition generators)"
    )


def named_inputs(inputs: Sequence[Any]) -> tuple[ExportInput, ...]:
    """The method's export inputs as records; plain tensors (an older plugin's
    ``export_inputs``) become ``image`` (dynamic batch, height, width) and ``input1``, ``input2``
    ... (dynamic batch)."""
    out = []
    for i, item in enumerate(inputs):
        if isinstance(item, ExportInput):
            out.append(item)
        elif i == 0 and isinstance(item, torch.Tensor) and item.dim() == 4:
            out.append(image_input(item))
        else:
            out.append(ExportInput(f"input{i}", item, {0: "batch"}))
    names = [item.name for item in out]
    if len(set(names)) != len(names):
        raise UsageError(f"the method's export inputs repeat a name: {', '.join(names)}")
    return tuple(out)


def example_image(method: Any, config: Any = None, batch: int = 2) -> torch.Tensor:
    """A ``(batch, C_a, S, S)`` example at the run's training size (a size the network is known
    to accept), at least twice the size multiple; batch 2 and two multiples so no exporter
    specialises a dynamic dimension to the constant 1."""
    size = int(getattr(getattr(config, "data", None), "image_size", 0) or 64)
    multiple = int(getattr(method, "size_multiple", 1) or 1)
    size = max(2 * multiple, -(-size // multiple) * multiple)
    return torch.rand(batch, method.data_info.channels_a, size, size) * 2 - 1


def output_paths(out: Path, names: Sequence[str], single: bool) -> dict[str, Path]:
    if single:
        return {names[0]: out}
    return {name: out.with_name(f"{out.stem}_{name}{out.suffix}") for name in names}


def export_generators(
    method: Any,
    fmt: str,
    out: str | Path,
    *,
    generator: str | None = None,
    config: Any = None,
    example: torch.Tensor | None = None,
    inputs: Sequence[str | Path] = (),
) -> list[Path]:
    """Export ``method``'s generators (or just ``generator``) to ``out``; returns the written files.

    ``inputs`` (the checkpoint file) are never written over: such an ``out`` is an error.
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    method = method.cpu().eval()
    x = example if example is not None else example_image(method, config)
    exports = method.export_inputs(x)
    if generator is not None:
        if generator not in exports:
            raise UsageError(
                f"--generator: method has no generator {generator!r} (its generators: {', '.join(exports)})"
            )
        exports = {generator: exports[generator]}
    targets = output_paths(Path(out), list(exports), single=len(exports) == 1)
    check_outputs(targets.values(), inputs)
    multiple = int(getattr(method, "size_multiple", 1) or 1)
    written = []
    for name, (module, given) in exports.items():
        path = targets[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        records = named_inputs(given)
        wrapper = _wrap(module, len(records))
        tensors = tuple(r.example.detach() for r in records)
        if fmt == "torchscript":
            _export_torchscript(wrapper, tensors, path)
        else:
            _export_onnx(wrapper, records, path, multiple)
        _write_sidecar(path, method, config, name, records, fmt)
        written.append(path)
    return written


def check_outputs(paths: Iterable[Path], inputs: Iterable[str | Path]) -> None:
    """Refuse to write an export (or its ``.json`` sidecar) over an input such as the checkpoint."""
    protected = {Path(p).expanduser().resolve() for p in inputs}
    for path in paths:
        for target in (path, path.with_name(path.name + ".json")):
            if target.expanduser().resolve() in protected:
                raise UsageError(f"--out {path}: would overwrite the input {target}; choose another file name")


def _export_torchscript(module: nn.Module, inputs: tuple[torch.Tensor, ...], path: Path) -> None:
    """Traced, not scripted: generators are plain conv stacks, and tracing records ``x.shape``
    reads as ops, so the traced graph stays valid for other batch and image sizes."""

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings and the TorchScript deprecation notice
        traced = torch.jit.trace(module, inputs, check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def onnx_dynamic_shapes(records: Sequence[ExportInput], multiple: int) -> tuple[dict[int, Any], ...]:
    """``torch.export`` dimensions for each input: the batch is shared by every input, and an
    image's height and width are ``multiple * k`` (the network's size multiple). Declaring the
    multiple is what the network really accepts, so the exporter proves it instead of logging
    a constraint violation per guard and falling back."""

    dims: dict[str, Any] = {}

    def dim(axis_name: str, spatial: bool) -> Any:
        if axis_name not in dims:
            if spatial and multiple > 1:
                dims[axis_name] = multiple * Dim(f"{axis_name}_div{multiple}", min=1)
            else:
                dims[axis_name] = Dim(axis_name, min=1)
        return dims[axis_name]

    return tuple(
        {axis: dim(n, r.example.dim() == 4 and axis >= 2) for axis, n in r.dynamic_axes.items()} for r in records
    )


def _export_onnx(module: nn.Module, records: Sequence[ExportInput], path: Path, multiple: int) -> None:
    """The dynamo-based exporter (needs ``onnx`` and ``onnxscript``: ``pip install 'i2i-translate[onnx]'``).

    torch's exporter logs its progress and guard diagnostics through ``logging`` and prints;
    both are captured and only a failure's first line reaches the user.
    """

    for package in ("onnx", "onnxscript"):
        try:
            __import__(package)
        except ImportError:
            raise UsageError(
                f"--format onnx needs the {package!r} package: pip install 'i2i-translate[onnx]' "
                "(onnx, onnxscript; onnxruntime to run the result)"
            ) from None
    inputs = tuple(r.example.detach() for r in records)
    names = [r.name for r in records]
    tmp = path.with_name(f".{path.name}.tmp")
    quiet = io.StringIO()
    loggers = [
        logging.getLogger(n)
        for n in ("torch.export", "torch.fx.experimental.symbolic_shapes", "torch.onnx", "torch._dynamo", "onnxscript")
    ]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.CRITICAL)
        with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module,
                inputs,
                dynamo=True,
                input_names=names,
                output_names=["output"],
                dynamic_shapes=onnx_dynamic_shapes(records, multiple),
                optimize=True,
                verbose=False,
                report=False,
            )
            if program is None:  # torch returns None only when asked not to build a program
                raise UsageError(f"{path}: torch.onnx.export produced no program")
            program.save(str(tmp), external_data=False)
        tmp.replace(path)
    except UsageError:
        raise
    except Exception as exc:  # torch.export raises many kinds
        raise UsageError(
            f"ONNX export failed: {type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _write_sidecar(path: Path, method: Any, config: Any, name: str, records: Sequence[ExportInput], fmt: str) -> None:
    info = method.data_info

    def shape(record: ExportInput) -> list[Any]:
        return [record.dynamic_axes.get(axis, size) for axis, size in enumerate(record.example.shape)]

    meta = {
        "format": fmt,
        "method": getattr(config, "method_name", type(method).__name__),
        "generator": name,
        "inputs": [{"name": r.name, "shape": shape(r)} for r in records],
        "output": "output",
        "range": [-1.0, 1.0],
        "layout": "NCHW float32",
        "size_multiple": int(getattr(method, "size_multiple", 1) or 1),
        "channels_a": info.channels_a,
        "channels_b": info.channels_b,
        "domains": list(info.domains),
    }
    atomic_write_bytes(path.with_name(path.name + ".json"), (json.dumps(meta, indent=2) + "\n").encode())


__all__ = ["export_generators", "FORMATS", "named_inputs", "example_image", "check_outputs", "onnx_dynamic_shapes"]
