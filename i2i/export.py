"""Exporting a checkpoint's generators to TorchScript or ONNX for deployment without i2i.

Each generator is exported in eval mode with the inputs its method names in
``method.export_inputs(x)``: the image, plus StarGAN's target label vector or Augmented
CycleGAN's latent code. Batch size and spatial size are dynamic (any size that is a multiple
of the method's ``size_multiple`` works). Images are ``(N, C, H, W)`` float32 in ``[-1, 1]``,
the same contract as :meth:`i2i.Method.translate`; a JSON sidecar ``FILE.json`` records it
(inputs, channels, range, size multiple, domain names) so a deployment needs no i2i to know
how to feed the model.

Methods with several generators (CycleGAN) write one file per generator,
``STEM_<name>.SUFFIX``; ``generator=NAME`` exports one to ``FILE`` itself.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from i2i.errors import UsageError
from i2i.image_io import atomic_write_bytes

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
    """``forward(image, condition) -> image``: StarGAN's label, Augmented CycleGAN's code."""

    def forward(self, image: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return _first(self.module(image, condition))


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, (tuple, list)) else out


def _wrap(module: nn.Module, arity: int) -> nn.Module:
    if arity == 1:
        return _Image(module).eval()
    if arity == 2:
        return _ImageCond(module).eval()
    raise UsageError(f"cannot export a generator with {arity} inputs (i2i exports image and image+condition generators)")


def input_names(method: Any, inputs: Sequence[torch.Tensor]) -> list[str]:
    """``image`` then ``label`` (labelled methods, e.g. StarGAN) or ``z`` (latent codes)."""
    extra = "label" if getattr(method, "data_kind", "") == "labelled" else "z"
    names = ["image"]
    for i in range(1, len(inputs)):
        names.append(extra if i == 1 else f"{extra}{i}")
    return names


def example_image(method: Any, config: Any = None, batch: int = 2) -> torch.Tensor:
    """A ``(batch, C_a, S, S)`` example at the run's training size (a size the network is known
    to accept); batch 2 so no exporter specialises the batch dimension to 1."""
    size = int(getattr(getattr(config, "data", None), "image_size", 0) or 64)
    multiple = int(getattr(method, "size_multiple", 1) or 1)
    size = max(multiple, -(-size // multiple) * multiple)
    return torch.rand(batch, method.data_info.channels_a, size, size) * 2 - 1


def output_paths(out: Path, names: Sequence[str], single: bool) -> dict[str, Path]:
    if single:
        return {names[0]: out}
    return {name: out.with_name(f"{out.stem}_{name}{out.suffix}") for name in names}


def export_generators(method: Any, fmt: str, out: str | Path, *, generator: str | None = None, config: Any = None,
                      example: torch.Tensor | None = None) -> list[Path]:  # fmt: skip
    """Export ``method``'s generators (or just ``generator``) to ``out``; returns the written files."""
    if fmt not in FORMATS:
        raise UsageError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    method = method.cpu().eval()
    x = example if example is not None else example_image(method, config)
    exports = method.export_inputs(x)
    if generator is not None:
        if generator not in exports:
            raise UsageError(f"--generator: method has no generator {generator!r} (its generators: {', '.join(exports)})")
        exports = {generator: exports[generator]}
    targets = output_paths(Path(out), list(exports), single=len(exports) == 1)
    written = []
    for name, (module, inputs) in exports.items():
        path = targets[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        wrapper = _wrap(module, len(inputs))
        names = input_names(method, inputs)
        inputs = tuple(t.detach() for t in inputs)
        if fmt == "torchscript":
            _export_torchscript(wrapper, inputs, path)
        else:
            _export_onnx(wrapper, inputs, names, path)
        _write_sidecar(path, method, config, name, names, inputs, fmt)
        written.append(path)
    return written


def _export_torchscript(module: nn.Module, inputs: tuple[torch.Tensor, ...], path: Path) -> None:
    """Traced, not scripted: generators are plain conv stacks, and tracing records ``x.shape``
    reads as ops, so the traced graph stays valid for other batch and image sizes."""
    import io

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings and the TorchScript deprecation notice
        traced = torch.jit.trace(module, inputs, check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def _export_onnx(module: nn.Module, inputs: tuple[torch.Tensor, ...], names: list[str], path: Path) -> None:
    """The dynamo-based exporter (needs ``onnx`` and ``onnxscript``: ``pip install 'i2i-translate[onnx]'``)."""
    for package in ("onnx", "onnxscript"):
        try:
            __import__(package)
        except ImportError:
            raise UsageError(
                f"--format onnx needs the {package!r} package: pip install 'i2i-translate[onnx]' "
                "(onnx, onnxscript; onnxruntime to run the result)"
            ) from None
    from torch.export import Dim

    batch, height, width = Dim("batch", min=1), Dim("height", min=1), Dim("width", min=1)
    named = [{0: batch, 2: height, 3: width}] + [{0: batch} for _ in inputs[1:]]
    fallback = [{0: Dim.DYNAMIC, 2: Dim.DYNAMIC, 3: Dim.DYNAMIC}] + [{0: Dim.DYNAMIC} for _ in inputs[1:]]
    tmp = path.with_name(f".{path.name}.tmp")
    error: Exception | None = None
    for shapes in (named, fallback):  # named dims read well; DYNAMIC lets export infer e.g. "multiple of 4"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                program = torch.onnx.export(module, inputs, dynamo=True, input_names=names, output_names=["output"],
                                            dynamic_shapes=tuple(shapes), optimize=True, verbose=False)  # fmt: skip
            program.save(str(tmp), external_data=False)
            tmp.replace(path)
            return
        except Exception as exc:  # torch.export raises many kinds; try the looser shapes once
            error = exc
        finally:
            tmp.unlink(missing_ok=True)
    raise UsageError(f"ONNX export failed: {type(error).__name__}: {str(error).strip().splitlines()[0]}")


def _write_sidecar(path: Path, method: Any, config: Any, name: str, names: list[str], inputs: tuple[torch.Tensor, ...],
                   fmt: str) -> None:  # fmt: skip
    info = method.data_info
    meta = {
        "format": fmt,
        "method": getattr(config, "method_name", type(method).__name__),
        "generator": name,
        "inputs": [{"name": n, "shape": ["batch", *([t.shape[1], "height", "width"] if t.dim() == 4 else list(t.shape[1:]))]}
                   for n, t in zip(names, inputs)],  # fmt: skip
        "output": "output",
        "range": [-1.0, 1.0],
        "layout": "NCHW float32",
        "size_multiple": int(getattr(method, "size_multiple", 1) or 1),
        "channels_a": info.channels_a,
        "channels_b": info.channels_b,
        "domains": list(info.domains),
    }
    atomic_write_bytes(path.with_name(path.name + ".json"), (json.dumps(meta, indent=2) + "\n").encode())


__all__ = ["export_generators", "FORMATS", "input_names", "example_image"]
