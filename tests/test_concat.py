"""``i2i.cat_channels``: torch.cat's values and gradients, with dense channels_last gradients."""

from __future__ import annotations

import pytest
import torch

import i2i
import i2i.nets.unet as unet_module
from i2i.nets.unet import UnetGenerator

CL = torch.channels_last


def _maps(dtype: torch.dtype, fmt: torch.memory_format, widths=(3, 5)) -> list[torch.Tensor]:
    torch.manual_seed(0)
    return [torch.randn(2, c, 6, 7, dtype=dtype).contiguous(memory_format=fmt).requires_grad_(True) for c in widths]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_values_and_gradients_are_torch_cats_and_channels_last_gradients_come_back_dense(dtype):
    ours, ref = _maps(dtype, CL), _maps(dtype, CL)
    y, y_ref = i2i.cat_channels(ours), torch.cat(ref, 1)
    assert torch.equal(y, y_ref) and y.is_contiguous(memory_format=CL)
    g = torch.randn_like(y_ref).contiguous(memory_format=CL)
    grads = torch.autograd.grad(y, ours, g)
    grads_ref = torch.autograd.grad(y_ref, ref, g)
    for ours_g, ref_g in zip(grads, grads_ref):
        assert torch.equal(ours_g, ref_g)
        assert ours_g.is_contiguous(memory_format=CL)
        assert not ref_g.is_contiguous(memory_format=CL)  # torch.cat hands back strided slices


def test_elsewhere_it_is_torch_cat_op_for_op():
    # NCHW (fp32 training, whose numerics match the reference), no gradient, mixed layouts
    nchw = _maps(torch.float32, torch.contiguous_format)
    assert type(i2i.cat_channels(nchw).grad_fn).__name__ == "CatBackward0"
    with torch.no_grad():
        assert i2i.cat_channels(_maps(torch.float32, CL)).grad_fn is None
    mixed = [_maps(torch.float32, CL)[0], nchw[1]]
    assert type(i2i.cat_channels(mixed).grad_fn).__name__ == "CatBackward0"
    assert type(i2i.cat_channels(_maps(torch.float32, CL)).grad_fn).__name__ != "CatBackward0"


def test_twice_differentiable_for_gradient_penalties():
    maps = _maps(torch.float64, CL, widths=(2, 3))
    assert torch.autograd.gradgradcheck(lambda a, b: i2i.cat_channels([a, b]).square(), tuple(maps))


def test_the_unet_uses_it_fp32_nchw_bit_for_bit_and_bf16_to_rounding(monkeypatch):
    """The U-Net's skip blocks use it. fp32 NCHW (the reference-parity path) gives torch.cat's
    graph and numbers exactly; on the bf16 channels_last path the forward is the same and the
    parameter gradients differ by rounding only (the batch-norm backward sums a dense gradient
    in another order)."""

    def run(fast: bool) -> list[torch.Tensor]:
        torch.manual_seed(0)
        net = UnetGenerator(3, 3, 8, norm="batch", num_downs=5, use_dropout=True)
        x = torch.randn(1, 3, 32, 32)
        if fast:
            net, x = net.to(memory_format=CL), x.contiguous(memory_format=CL)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast):
            y = net(x)
        y.float().square().mean().backward()
        return [y.detach()] + [p.grad for p in net.parameters()]

    for fast in (True, False):
        ours = run(fast)
        with monkeypatch.context() as m:
            m.setattr(unet_module, "cat_channels", lambda tensors: torch.cat(tensors, 1))
            ref = run(fast)
        assert torch.equal(ours[0], ref[0])
        for a, b in zip(ours[1:], ref[1:]):
            if fast:  # a few bf16 steps (2**-8 relative) of the largest gradient entry at most
                assert (a - b).abs().max() <= 2**-5 * b.abs().max()
            else:
                assert torch.equal(a, b)


def test_the_unet_block_output_uses_it_on_channels_last():
    net = UnetGenerator(3, 3, 8, norm="batch", num_downs=5).to(memory_format=CL)
    inner = net.model.model[1]  # the block below the outermost one
    out = inner(torch.randn(1, 8, 16, 16).contiguous(memory_format=CL))
    assert type(out.grad_fn).__name__ == "_CatChannelsBackward"
