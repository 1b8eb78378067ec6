"""Conformance checks for generators and discriminators, built-in or from a plugin.

``check_component(spec, tiny_kwargs(spec))`` builds a small network from a registry record and
checks what every method and the trainer rely on: forward works on several sizes, including
non-square ones, with the expected output shapes; backward reaches every parameter with finite
gradients; the network scripts with TorchScript or, failing that, exports with
``torch.export``; and channels_last and bf16 autocast (the fast CPU path) agree with plain
fp32. Inputs come from the network's own ``example_inputs(batch_size, size)`` when it has one
(see :mod:`i2i.nets.base`), else one image of ``input_nc`` channels.

Use it in a plugin's tests::

    @pytest.mark.parametrize("name", ["my_generator"])
    def test_conformance(name):
        spec = PluginHost(autoload=False, plugins=[("mine", my_plugin)]).registry.get("generator", name)
        check_component(spec, tiny_kwargs(spec))
"""

from __future__ import annotations

import copy
import inspect
import warnings
from typing import Any, Iterable

import attrs
import torch
from torch import nn

from i2i.plugins.registry import ComponentSpec

#: Small values for the keywords i2i's factories share; applied only where the factory has them.
TINY_VALUES: dict[str, Any] = {
    "ngf": 8,
    "ndf": 8,
    "n_blocks": 2,
    "num_downs": 5,
    "n_layers": 2,
    "num_D": 2,
    "c_dim": 3,
    "nlatent": 4,
    "image_size": 32,
}


@attrs.frozen
class ComponentReport:
    """What :func:`check_component` found; ``scripted``/``exported`` are None when not tried."""

    name: str
    kind: str
    num_parameters: int
    scripted: bool | None
    exported: bool | None
    script_error: str = ""
    export_error: str = ""
    channels_last_error: float = 0.0
    bf16_error: float = 0.0


def _factory_parameters(spec: ComponentSpec) -> set[str]:
    try:
        return set(inspect.signature(spec.factory).parameters)
    except (TypeError, ValueError):
        return set()


def tiny_kwargs(spec: ComponentSpec) -> dict[str, Any]:
    """Keyword arguments that make ``spec``'s network small and fast, derived from its signature."""
    params = _factory_parameters(spec)
    return {k: v for k, v in TINY_VALUES.items() if k in params}


def example_inputs(
    module: nn.Module, batch_size: int = 2, size: tuple[int, int] = (32, 32)
) -> tuple[torch.Tensor, ...]:
    """The module's own example inputs, or one random image of ``module.input_nc`` (default 3) channels."""
    own = getattr(module, "example_inputs", None)
    if callable(own):
        return tuple(own(batch_size, size))
    return (torch.randn(batch_size, getattr(module, "input_nc", 3), *size),)


def _flatten(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flatten(o)]
    raise AssertionError(f"forward returned {type(out).__name__}; expected tensors, tuples or lists of tensors")


def _rel_error(ref: Iterable[torch.Tensor], other: Iterable[torch.Tensor]) -> float:
    worst = 0.0
    for a, b in zip(ref, other, strict=True):
        a, b = a.float(), b.float()
        worst = max(worst, ((a - b).norm() / (a.norm() + 1e-12)).item())
    return worst


def _to_channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t


def _check_forward(
    spec: ComponentSpec, module: nn.Module, inputs: tuple[torch.Tensor, ...], size: tuple[int, int]
) -> list[torch.Tensor]:
    outputs = _flatten(module(*inputs))
    n = inputs[0].shape[0]
    assert outputs, f"{spec.name}: forward returned no tensors"
    for o in outputs:
        assert o.shape[0] == n, f"{spec.name}: output batch {o.shape[0]} != input batch {n} at size {size}"
        assert torch.isfinite(o).all(), f"{spec.name}: non-finite output at size {size}"
    output_nc = getattr(module, "output_nc", None)
    if spec.kind == "generator" and output_nc is not None and len(outputs) == 1 and outputs[0].dim() == 4:
        expected = (n, output_nc, *size)
        assert tuple(outputs[0].shape) == expected, f"{spec.name}: output {tuple(outputs[0].shape)} != {expected}"
    return outputs


def _check_backward(spec: ComponentSpec, module: nn.Module, outputs: list[torch.Tensor]) -> None:
    loss = sum((o.float() * torch.randn_like(o, dtype=torch.float32)).mean() for o in outputs)
    module.zero_grad(set_to_none=True)
    loss.backward()  # type: ignore[union-attr]
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        assert p.grad is not None, f"{spec.name}: parameter {name} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{spec.name}: parameter {name} has a non-finite gradient"


def _try_script(module: nn.Module, inputs: tuple[torch.Tensor, ...], ref: list[torch.Tensor]) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scripted = torch.jit.script(module)
            out = _flatten(scripted(*inputs))
    except Exception as exc:  # TorchScript rejects many valid Python constructs
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    err = _rel_error(ref, out)
    return "" if err < 1e-4 else f"scripted output differs (relative error {err:.2e})"


def _try_export(module: nn.Module, inputs: tuple[torch.Tensor, ...], ref: list[torch.Tensor]) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.export(module, inputs)
            out = _flatten(program.module()(*inputs))
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    err = _rel_error(ref, out)
    return "" if err < 1e-4 else f"exported output differs (relative error {err:.2e})"


def check_component(
    spec: ComponentSpec,
    kwargs: dict[str, Any],
    *,
    sizes: Iterable[tuple[int, int]] = ((32, 32), (32, 48)),
    batch_size: int = 2,
    seed: int = 0,
    channels_last_tol: float = 1e-3,
    bf16_tol: float = 0.1,
    try_both: bool = False,
) -> ComponentReport:
    """Build ``spec.create(**kwargs)`` and run the conformance checks; raise AssertionError on failure.

    Scripting is tried first and ``torch.export`` only if scripting fails (or always with
    ``try_both``); the check fails only if neither works. Agreement is measured as the
    relative L2 error of every output against fp32 in eval mode.
    """
    if spec.kind not in ("generator", "discriminator"):
        raise ValueError(f"check_component checks generators and discriminators, not {spec.kind!r} {spec.name!r}")
    torch.manual_seed(seed)
    module = spec.create(**kwargs)
    assert isinstance(module, nn.Module), f"{spec.name}: factory returned {type(module).__name__}, not an nn.Module"
    n_params = sum(p.numel() for p in module.parameters())

    module.train()
    sizes = tuple(sizes)
    for size in sizes:
        inputs = example_inputs(module, batch_size, size)
        outputs = _check_forward(spec, module, inputs, size)
        _check_backward(spec, module, outputs)
    module.zero_grad(set_to_none=True)

    module.eval()
    inputs = example_inputs(module, batch_size, sizes[-1])
    with torch.no_grad():
        ref = _flatten(module(*inputs))

        script_error = _try_script(module, inputs, ref)
        scripted = not script_error
        exported: bool | None = None
        export_error = ""
        if not scripted or try_both:
            export_error = _try_export(module, inputs, ref)
            exported = not export_error
        assert scripted or exported, (
            f"{spec.name}: neither torch.jit.script ({script_error}) nor torch.export ({export_error}) works"
        )

        fast = copy.deepcopy(module).to(memory_format=torch.channels_last)
        fast_inputs = tuple(_to_channels_last(t) for t in inputs)
        cl_error = _rel_error(ref, _flatten(fast(*fast_inputs)))
        assert cl_error < channels_last_tol, (
            f"{spec.name}: channels_last output differs (relative error {cl_error:.2e})"
        )
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16_out = _flatten(fast(*fast_inputs))
        bf16_error = _rel_error(ref, bf16_out)
        assert all(torch.isfinite(o).all() for o in bf16_out), f"{spec.name}: non-finite output under bf16 autocast"
        assert bf16_error < bf16_tol, f"{spec.name}: bf16 autocast output differs (relative error {bf16_error:.2e})"

    return ComponentReport(
        name=spec.name,
        kind=spec.kind,
        num_parameters=n_params,
        scripted=scripted,
        exported=exported,
        script_error=script_error,
        export_error=export_error,
        channels_last_error=cl_error,
        bf16_error=bf16_error,
    )
