"""Convolutions with few outputs as two cheaper ones (i2i.nets.narrow_conv): the same function
as the convolution, used only on the layers it speeds up and only on the low-precision CPU path."""

from __future__ import annotations

import copy

import pytest
import torch
from conv_support import assert_same_function
from eval_support import make_domains
from torch import nn

import i2i
from i2i.inference.translator import load_checkpoint
from i2i.nets import narrow_conv
from i2i.nets.narrow_conv import NarrowConv2d, use_split_for_narrow_convs
from i2i.train.trainer import Trainer

LAYERS = [
    (lambda: nn.Conv2d(16, 3, 7), (2, 16, 13, 11)),  # a resnet generator's head (after its reflection pad)
    (
        lambda: nn.Conv2d(16, 3, 7, 1, 3, bias=False),
        (1, 16, 9, 12),
    ),  # StarGAN's head: zero padding wider than the columns
    (lambda: nn.Conv2d(16, 1, 4, 1, 1), (3, 16, 7, 7)),  # a PatchGAN's score map: an even kernel
    (lambda: nn.Conv2d(16, 4, (5, 3), 1, (2, 1), padding_mode="reflect"), (2, 16, 8, 6)),
    (lambda: nn.Conv2d(16, 2, (3, 5), 1, (0, 2), padding_mode="replicate"), (2, 16, 6, 9)),
]


@pytest.mark.parametrize("make, shape", LAYERS)
@pytest.mark.parametrize("channels_last", [False, True])
def test_the_split_is_the_convolution_to_float64_rounding(make, shape, channels_last):
    torch.manual_seed(0)
    conv = make().double()
    split = copy.deepcopy(conv)
    assert use_split_for_narrow_convs(split) == 1
    split, x = assert_same_function(conv, split, torch.randn(shape, dtype=torch.double), channels_last)


def test_an_unbatched_input_takes_the_plain_convolution():
    conv = nn.Conv2d(8, 3, 3, padding=1).double()
    split = copy.deepcopy(conv)
    use_split_for_narrow_convs(split)
    x = torch.randn(8, 5, 5, dtype=torch.double)
    torch.testing.assert_close(split(x), conv(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_in_fp32_and_under_bf16_autocast_it_matches_the_convolution_to_that_precision(dtype):
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 3, 7).to(memory_format=torch.channels_last)
    split = copy.deepcopy(conv)
    use_split_for_narrow_convs(split)
    x = torch.randn(2, 64, 22, 22).contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        a, b = conv(x), split(x)
    assert a.dtype == b.dtype == dtype
    error = ((a.float() - b.float()).abs().max() / a.float().abs().max()).item()
    assert error < (2e-2 if dtype == torch.bfloat16 else 1e-5)


def test_only_narrow_stride_1_dense_layers_are_swapped_and_the_state_dict_is_unchanged():
    class OwnForward(nn.Conv2d):
        def forward(self, x):
            return super().forward(x) * 2

    net = nn.Sequential(
        nn.Conv2d(64, 3, 7),  # swapped
        nn.Conv2d(64, 4, 3, padding=1),  # swapped: at most 4 outputs
        nn.Conv2d(64, 8, 7),  # 8 outputs: the split is no faster
        nn.Conv2d(64, 3, 7, stride=2),  # strided
        nn.Conv2d(64, 3, (7, 2)),  # too few kernel columns
        nn.Conv2d(64, 3, 1),  # a 1x1: nothing to regroup
        nn.Conv2d(64, 3, 3, dilation=2),  # dilated
        nn.Conv2d(63, 3, 3, groups=3),  # grouped
        nn.Conv2d(64, 3, 3, padding="same"),  # string padding
        OwnForward(64, 3, 7),  # a subclass's own forward is kept
        nn.ConvTranspose2d(64, 3, 4, 2, 1),  # not a convolution this module rewrites
    )
    keys = list(net.state_dict())
    assert use_split_for_narrow_convs(net) == 2
    assert use_split_for_narrow_convs(net) == 2  # idempotent
    assert [type(m) for m in net][:3] == [NarrowConv2d, NarrowConv2d, nn.Conv2d]
    assert not any(isinstance(m, NarrowConv2d) for m in net[2:])
    assert list(net.state_dict()) == keys
    assert isinstance(copy.deepcopy(net)[0], NarrowConv2d)


def _cyclegan_run(tmp_path, precision: str, **train):
    data = make_domains(tmp_path / "data", ("A", "B"), n_train=2, n_test=1, size=32)
    overrides = {
        "data.root": str(data),
        "data.load_size": 32,
        "data.image_size": 32,
        "data.num_workers": 0,
        "method.ngf": 8,
        "method.ndf": 8,
        "method.netG": "resnet_6blocks",
        "train.steps": 2,
        "train.device": "cpu",
        "train.precision": precision,
        "train.eval_at_end": False,
        "train.sample_every": 100,
        **{f"train.{k}": v for k, v in train.items()},
    }
    cfg = i2i.load_config(method="cyclegan", overrides=overrides)
    return Trainer(cfg, out_dir=tmp_path / f"run-{precision}", progress=False)


def _swapped(module: nn.Module) -> int:
    return sum(isinstance(m, NarrowConv2d) for m in module.modules())


def test_a_bf16_cpu_run_splits_the_heads_and_score_maps(tmp_path, monkeypatch):
    calls = []
    real = narrow_conv.conv2d_narrow
    monkeypatch.setattr(narrow_conv, "conv2d_narrow", lambda *a, **k: calls.append(1) or real(*a, **k))
    trainer = _cyclegan_run(tmp_path, "bf16")
    trainer.fit()
    # each generator's 7x7 head and each PatchGAN's 1-channel output
    assert _swapped(trainer.method.G_A) == 1 and _swapped(trainer.method.D_A) == 1 and calls
    translator = load_checkpoint(tmp_path / "run-bf16" / "last.pt", precision="bf16")
    assert _swapped(translator.method) >= 1


def test_fp32_runs_and_the_switch_keep_onednn_convolutions(tmp_path):
    fp32 = _cyclegan_run(tmp_path, "fp32")
    fp32.fit()
    assert _swapped(fp32.method) == 0  # fp32 numerics stay the reference code's
    off = _cyclegan_run(tmp_path, "bf16", narrow_conv=False)
    off.fit()
    assert _swapped(off.method) == 0
    assert _swapped(load_checkpoint(tmp_path / "run-fp32" / "last.pt", precision="fp32").method) == 0
