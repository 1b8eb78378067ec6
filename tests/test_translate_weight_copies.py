"""A low-precision :class:`i2i.Translator` holds bf16 copies of its weights, made once
(:func:`i2i.weight_copies.hold_for_inference`): no weight is cast per batch, and the outputs
are bit for bit what autocast's per-batch casts give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from inference_support import write_demo_size_checkpoint
from torch.utils._python_dispatch import TorchDispatchMode

import i2i
from i2i.plugins.host import get_host


class _WeightCasts(TorchDispatchMode):
    """Counts fp32 -> low-precision casts of tensors shaped like one of ``shapes``."""

    def __init__(self, shapes: set[tuple[int, ...]]) -> None:
        super().__init__()
        self.shapes = shapes
        self.count = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        # inference mode dispatches autocast's cast as ``to.dtype``, grad modes as ``_to_copy``
        dtype = None
        if func is torch.ops.aten._to_copy.default:
            dtype = kwargs.get("dtype")
        elif func is torch.ops.aten.to.dtype:
            dtype = args[1] if len(args) > 1 else kwargs.get("dtype")
        source = args[0] if args else None
        if isinstance(source, torch.Tensor) and source.dtype == torch.float32 and dtype == torch.bfloat16:
            self.count += tuple(source.shape) in self.shapes
        return func(*args, **kwargs)


def _checkpoint(name: str, tmp_path: Path) -> Path:
    return write_demo_size_checkpoint(tmp_path / "m.pt", name, get_host())


def _conv_weight_shapes(module: torch.nn.Module) -> set[tuple[int, ...]]:
    return {tuple(m.weight.shape) for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))}


def _without_copies(ckpt: Path) -> i2i.Translator:
    return i2i.load_checkpoint(ckpt, precision="bf16", weight_copies=False)


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan", "stargan"])
def test_bf16_translator_casts_no_weight_and_matches_autocast_bit_for_bit(name: str, tmp_path: Path) -> None:
    ckpt = _checkpoint(name, tmp_path)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    held = i2i.load_checkpoint(ckpt, precision="bf16")
    plain = _without_copies(ckpt)
    assert held._weight_copies is not None and len(held._weight_copies) > 0
    assert plain._weight_copies is None

    shapes = _conv_weight_shapes(held.method)
    with _WeightCasts(shapes) as casts:
        out = held.translate(x)
    assert casts.count == 0, f"{casts.count} weights were cast to bf16 for one batch"
    with _WeightCasts(shapes) as casts:
        expected = plain.translate(x)
    assert casts.count > 0  # the counter sees autocast's casts, so the zero above means something
    assert torch.equal(out, expected)


def test_weights_changed_after_loading_are_copied_again(tmp_path: Path) -> None:
    """A new state dict (or any in-place change) reaches the copies at the next batch."""
    ckpt = _checkpoint("cyclegan", tmp_path)
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    held = i2i.load_checkpoint(ckpt, precision="bf16")
    plain = _without_copies(ckpt)
    before = held.translate(x)
    torch.manual_seed(1)
    with torch.no_grad():
        for weight in plain.method.parameters():
            weight.add_(0.05 * torch.randn_like(weight))
    held.method.load_state_dict(plain.method.state_dict())
    after = held.translate(x)
    assert not torch.equal(after, before)
    assert torch.equal(after, plain.translate(x))


def test_fp32_translator_holds_no_copies(tmp_path: Path) -> None:
    translator = i2i.load_checkpoint(_checkpoint("cyclegan", tmp_path), precision="fp32")
    assert translator._weight_copies is None


def test_copies_are_channels_last_and_the_fp32_weights_keep_their_layout(tmp_path: Path) -> None:
    """One pass over the weights at load: the bf16 copies are made channels_last straight from
    the fp32 weights, which are not relaid out as well; without copies the weights themselves
    are made channels_last, as autocast's casts then keep that layout."""
    ckpt = _checkpoint("cyclegan", tmp_path)
    held = i2i.load_checkpoint(ckpt, precision="bf16")
    plain = i2i.load_checkpoint(ckpt, precision="bf16", weight_copies=False)
    copies = held._weight_copies
    assert copies is not None
    convs = [m for m in held.method.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.weight in copies for m in convs)
    for layer in convs:
        assert layer.weight.is_contiguous()
        copy = copies.current(layer.weight)
        assert copy.dtype == torch.bfloat16 and copy.is_contiguous(memory_format=torch.channels_last)
        assert copies.current(layer.weight) is copy  # not made again at every use
    for layer in plain.method.modules():
        if isinstance(layer, torch.nn.Conv2d):
            assert layer.weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the process's memory map (Linux)")
def test_the_checkpoint_is_unmapped_before_the_copies_are_made(tmp_path: Path, monkeypatch) -> None:
    """``i2i.load_checkpoint`` reads the file as a memory map; holding it while the bf16 copies
    are made put the file's pages, the fp32 weights and the copies in memory at once (the
    translator's peak: pix2pix 1064 MiB against fp32's 957)."""
    from i2i.inference import translator as translator_module

    ckpt = _checkpoint("pix2pix", tmp_path)
    mapped_then: list[bool] = []
    real = translator_module.hold_for_inference

    def hold(*args: Any, **kwargs: Any) -> Any:
        mapped_then.append(str(ckpt) in Path("/proc/self/maps").read_text())
        return real(*args, **kwargs)

    monkeypatch.setattr(translator_module, "hold_for_inference", hold)
    i2i.load_checkpoint(ckpt, precision="bf16")
    assert mapped_then == [False]
