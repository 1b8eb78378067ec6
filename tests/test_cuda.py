"""The CUDA fast paths through the trainer's own step context: a tiny CycleGAN and pix2pix
train step in bf16 autocast and in fp16 with a GradScaler. Skipped without a CUDA device;
``benchmarks/run.py --device cuda`` times the same paths."""

from __future__ import annotations

import copy
import math

import pytest
import torch

import i2i
from i2i.testing.methods import default_data_info, dummy_batch
from i2i.train.context import TrainContext
from i2i.train.precision import Precision
from i2i.train.trainer import _channels_last

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _step_twice(name: str, precision: str) -> tuple[list[dict[str, float]], Precision, torch.nn.Module]:
    device = torch.device("cuda")
    torch.manual_seed(0)
    spec = i2i.get_method(name)
    info = default_data_info(spec.data_kind)
    method = i2i.create_method(name, data_info=info, **spec.test_overrides).to(device)
    method.to(memory_format=torch.channels_last)
    prec = Precision.create(precision, device)
    ctx = TrainContext(method.configure_optimizers(), prec, device=device)
    batch = dummy_batch(info, batch_size=2, size=32).to(device)
    batch.a, batch.b = _channels_last(batch.a), _channels_last(batch.b)
    losses = []
    for step in range(2):
        ctx.begin_step(step)
        with prec.autocast():
            out = method.train_step(batch, ctx)
        ctx.end_step()
        losses.append({k: float(v) for k, v in out.items()})
    return losses, prec, method


@pytest.mark.parametrize("name", ["cyclegan", "pix2pix"])
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_tiny_train_step_on_cuda(name: str, precision: str) -> None:
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    losses, prec, method = _step_twice(name, precision)
    assert prec.name == precision
    assert (prec.scaler is not None) == (precision == "fp16")
    if prec.scaler is not None:
        assert math.isfinite(prec.scaler.get_scale())
    for row in losses:
        assert row and all(math.isfinite(v) for v in row.values()), row
    assert all(p.device.type == "cuda" and torch.isfinite(p).all() for p in method.parameters())


def test_auto_precision_on_cuda_is_a_low_precision_path() -> None:
    prec = Precision.create("auto", torch.device("cuda"))
    assert prec.name == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")


@pytest.mark.parametrize("resumed_from_nchw", [False, True])
def test_fused_adam_on_cuda_matches_torch_adam(resumed_from_nchw: bool) -> None:
    """``i2i.adam`` on CUDA channels_last weights (NHWC views; moments from an NCHW run's
    checkpoint relayouted, step counters moved to the GPU) updates like torch's unfused Adam."""
    torch.manual_seed(0)
    ref = torch.randn(8, 5, 3, 4, device="cuda")
    params = [torch.nn.Parameter(ref.clone().contiguous(memory_format=torch.channels_last)) for _ in range(2)]
    ours, plain = i2i.adam([params[0]], lr=0.1), torch.optim.Adam([params[1]], lr=0.1)
    assert ours.defaults["fused"] is True
    if resumed_from_nchw:
        src = torch.nn.Parameter(ref.clone())
        src_opt = torch.optim.Adam([src], lr=0.1)
        src.grad = torch.randn_like(ref)
        src_opt.step()
        for p, opt in zip(params, (ours, plain)):
            with torch.no_grad():
                p.copy_(src)  # keeps p channels_last
            opt.load_state_dict(copy.deepcopy(src_opt.state_dict()))
        assert ours.param_groups[0]["fused"] is True
    for _ in range(3):
        g = torch.randn_like(ref)
        for p in params:
            p.grad = g.clone().contiguous(memory_format=torch.channels_last)
        ours.step()
        plain.step()
    torch.testing.assert_close(params[0], params[1], rtol=1e-5, atol=1e-6)
