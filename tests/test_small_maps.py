"""Small-map convolutions as one GEMM (i2i.nets.small_maps): the same function as the
convolution, used only where it is fast and only on the low-precision CPU path."""

from __future__ import annotations

import copy

import pytest
import torch
from conv_support import assert_same_function
from eval_support import make_domains
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

import i2i
from i2i.inference.translator import load_checkpoint
from i2i.nets import small_maps
from i2i.nets.small_maps import SmallMapConv2d, SmallMapConvTranspose2d, use_gemm_for_small_maps
from i2i.train.trainer import Trainer

LAYERS = [
    (lambda: nn.Conv2d(256, 512, 4, 2, 1), (2, 256, 8, 8)),
    (lambda: nn.Conv2d(256, 512, 4, 2, 1, bias=False), (1, 256, 4, 4)),
    (lambda: nn.Conv2d(128, 256, 3, 1, 1, padding_mode="reflect"), (2, 128, 6, 5)),
    (lambda: nn.Conv2d(256, 256, (3, 2), (2, 1), (1, 0)), (3, 256, 7, 5)),
    (lambda: nn.ConvTranspose2d(256, 128, 4, 2, 1), (2, 256, 4, 4)),
    (lambda: nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), (1, 256, 1, 1)),
    (lambda: nn.ConvTranspose2d(256, 128, 3, 2, 1, output_padding=1), (2, 256, 5, 3)),
]


@pytest.mark.parametrize("make, shape", LAYERS)
@pytest.mark.parametrize("channels_last", [False, True])
def test_the_gemm_is_the_convolution_to_float64_rounding(make, shape, channels_last):
    torch.manual_seed(0)
    conv = make().double()
    gemm = copy.deepcopy(conv)
    assert use_gemm_for_small_maps(gemm) == 1
    gemm, x = assert_same_function(conv, gemm, torch.randn(shape, dtype=torch.double), channels_last)
    layout = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    assert gemm(x).is_contiguous(memory_format=layout)  # the input's layout (1x1 maps are both)


def test_convtranspose_output_size_is_honoured():
    torch.manual_seed(0)
    conv = nn.ConvTranspose2d(256, 128, 3, 2, 1).double()
    gemm = copy.deepcopy(conv)
    use_gemm_for_small_maps(gemm)
    x = torch.randn(1, 256, 4, 4, dtype=torch.double)
    torch.testing.assert_close(gemm(x, output_size=[8, 8]), conv(x, output_size=[8, 8]))
    assert gemm(x, output_size=[8, 8]).shape[-2:] == (8, 8)


def test_under_bf16_autocast_it_gives_bf16_like_the_convolution():
    torch.manual_seed(0)
    conv = nn.Conv2d(512, 512, 4, 2, 1)
    gemm = copy.deepcopy(conv)
    use_gemm_for_small_maps(gemm)
    x = torch.randn(1, 512, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a, b = conv(x), gemm(x)
    assert a.dtype == b.dtype == torch.bfloat16
    assert ((a.float() - b.float()).abs().max() / a.float().abs().max()).item() < 2e-2


class _OpCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        self.ops.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("make, shape", [LAYERS[0], LAYERS[4]])
@pytest.mark.parametrize("weight_grad", [True, False])
def test_the_gemm_is_one_2d_product_even_when_the_weight_needs_no_gradient(make, shape, weight_grad):
    """A frozen critic (a generator step), no_grad or inference: torch's ``matmul`` ran a
    [B, L, K] @ [K, O] product as ``bmm`` on B copies of the weight there (StarGAN's critic:
    16 x 33.5M elements, 40x slower), so the product is folded to 2-D by hand."""
    layer = make()
    use_gemm_for_small_maps(layer)
    layer.requires_grad_(weight_grad)
    x = torch.randn(4, *shape[1:]).requires_grad_()
    with _OpCounter() as counter:
        layer(x).square().sum().backward()
    assert "bmm" not in counter.ops
    assert counter.ops.count("mm") == (3 if weight_grad else 2)  # forward, input gradient (, weight gradient)
    assert (layer.weight.grad is not None) == weight_grad


def test_only_small_maps_take_the_gemm(monkeypatch):
    calls = []
    real = small_maps.conv2d_gemm
    monkeypatch.setattr(small_maps, "conv2d_gemm", lambda *a, **k: calls.append(1) or real(*a, **k))
    gemm = nn.Conv2d(256, 256, 4, 2, 1)
    use_gemm_for_small_maps(gemm)
    gemm(torch.randn(1, 256, 32, 32))  # 16x16 outputs = 256 columns: GEMM
    assert calls == [1]
    gemm(torch.randn(2, 256, 32, 32))  # 512 columns: oneDNN's convolution
    gemm(torch.randn(1, 256, 64, 64))
    assert calls == [1]
    wide = nn.Conv2d(64, 1024, 4, 2, 1)  # 1024 outputs: the GEMM up to 512 columns
    use_gemm_for_small_maps(wide)
    wide(torch.randn(2, 64, 32, 32))  # 512 columns
    assert calls == [1, 1]
    wide(torch.randn(3, 64, 32, 32))  # 768 columns: oneDNN's convolution
    assert calls == [1, 1]


def test_only_plain_dense_layers_are_swapped_and_the_state_dict_is_unchanged():
    class OwnForward(nn.Conv2d):
        def forward(self, x):
            return super().forward(x) * 2

    net = nn.Sequential(
        nn.Conv2d(256, 256, 3, 1, 1),  # swapped
        nn.Conv2d(256, 256, 3, 1, 1, groups=4),  # grouped: left alone
        nn.Conv2d(256, 256, 3, 1, 2, dilation=2),  # dilated: left alone
        nn.Conv2d(8, 8, 3),  # too few weights to gain anything
        OwnForward(256, 256, 3, 1, 1),  # a subclass's own forward is kept
        nn.ConvTranspose2d(256, 256, 4, 2, 1),  # swapped
    )
    keys = list(net.state_dict())
    assert use_gemm_for_small_maps(net) == 2
    assert use_gemm_for_small_maps(net) == 2  # idempotent
    assert [type(m) for m in net] == [
        SmallMapConv2d,
        nn.Conv2d,
        nn.Conv2d,
        nn.Conv2d,
        OwnForward,
        SmallMapConvTranspose2d,
    ]
    assert list(net.state_dict()) == keys
    assert isinstance(copy.deepcopy(net)[0], SmallMapConv2d)


def _stargan_run(tmp_path, precision: str, **train):
    data = make_domains(tmp_path / "data", ("a", "b"), n_train=4, n_test=2, size=32)
    overrides = {
        "data.root": str(data),
        "data.image_size": 32,
        "data.load_size": 32,
        "data.num_workers": 0,
        "method.image_size": 32,
        "method.g_conv_dim": 8,
        "method.d_conv_dim": 32,  # the critic's last layer, 128->256 on a 4x4 map, is GEMM-sized
        "method.g_repeat_num": 1,
        "train.steps": 2,
        "train.batch_size": 2,
        "train.device": "cpu",
        "train.precision": precision,
        "train.eval_at_end": False,
        "train.sample_every": 100,
        **{f"train.{k}": v for k, v in train.items()},
    }
    cfg = i2i.load_config(method="stargan", overrides=overrides)
    return Trainer(cfg, out_dir=tmp_path / f"run-{precision}", progress=False)


def _swapped(module: nn.Module) -> int:
    return sum(isinstance(m, (SmallMapConv2d, SmallMapConvTranspose2d)) for m in module.modules())


def test_a_bf16_cpu_run_routes_its_small_maps_through_the_gemm(tmp_path, monkeypatch):
    calls = []
    real = small_maps.conv2d_gemm
    monkeypatch.setattr(small_maps, "conv2d_gemm", lambda *a, **k: calls.append(1) or real(*a, **k))
    trainer = _stargan_run(tmp_path, "bf16")
    trainer.fit()
    assert _swapped(trainer.method.D) >= 1 and calls
    translator = load_checkpoint(tmp_path / "run-bf16" / "last.pt", precision="bf16")
    assert _swapped(translator.method) >= 1


def test_fp32_runs_and_the_switch_keep_onednn_convolutions(tmp_path):
    fp32 = _stargan_run(tmp_path, "fp32")
    fp32.fit()
    assert _swapped(fp32.method) == 0  # fp32 numerics stay the reference code's
    off = _stargan_run(tmp_path, "bf16", small_map_gemm=False)
    off.fit()
    assert _swapped(off.method) == 0
    assert _swapped(load_checkpoint(tmp_path / "run-fp32" / "last.pt", precision="fp32").method) == 0
