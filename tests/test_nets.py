"""Networks: exact reference sizes and layouts, norms, init, family behaviour, ImagePool."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import i2i
from i2i.errors import UsageError
from i2i.nets import InstanceNorm, get_norm_layer, init_weights
from i2i.nets.init import DeferredParameterInit
from i2i.nets.patchgan import MultiscaleDiscriminator, NLayerDiscriminator, PixelDiscriminator
from i2i.nets.pool import ImagePool
from i2i.nets.resnet import ResnetGenerator
from i2i.nets.unet import UnetGenerator
from i2i.plugins.host import PluginHost
from i2i_augcyclegan.nets import LatentEncoder, LatentMLPDiscriminator, LatentResnetGenerator
from i2i_stargan.nets import StarGANDiscriminator, StarGANGenerator


@pytest.fixture(scope="module")
def registry():
    return PluginHost().registry  # the built-in methods' plugins register their own networks


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# Numbers the reference implementations report for these settings (3 channels, 64 filters).
@pytest.mark.parametrize(
    "kind, name, kwargs, expected",
    [
        ("generator", "resnet_9blocks", {}, 11_378_179),
        ("generator", "resnet_6blocks", {}, 7_837_699),
        ("generator", "unet_256", {"norm": "batch"}, 54_413_955),
        ("generator", "unet_128", {"norm": "batch"}, 41_828_995),
        ("generator", "stargan", {"c_dim": 5}, 8_430_528),
        ("discriminator", "patchgan", {"n_layers": 3, "norm": "instance"}, 2_764_737),
        ("discriminator", "patchgan", {"input_nc": 6, "n_layers": 3, "norm": "batch"}, 2_768_705),
        ("discriminator", "stargan", {"c_dim": 5, "image_size": 128}, 44_762_048),
    ],
)
def test_parameter_counts_match_reference(registry, kind, name, kwargs, expected):
    with torch.device("meta"):  # shapes only: no memory, no init cost
        net = registry.get(kind, name).create(**kwargs)
    assert n_params(net) == expected


def test_reference_state_dict_keys():
    with torch.device("meta"):
        resnet = ResnetGenerator(n_blocks=9, init_type=None).state_dict()
        unet = UnetGenerator(num_downs=5, norm="batch", init_type=None).state_dict()
        star_g = StarGANGenerator(init_type=None).state_dict()
        star_d = StarGANDiscriminator(init_type=None).state_dict()
        patch = NLayerDiscriminator(init_type=None).state_dict()
    assert list(resnet)[:6] == [
        "model.1.weight",
        "model.1.bias",
        "model.4.weight",
        "model.4.bias",
        "model.7.weight",
        "model.7.bias",
    ]
    assert "model.10.conv_block.1.weight" in resnet and "model.10.conv_block.5.weight" in resnet
    assert "model.18.conv_block.5.bias" in resnet and "model.19.weight" in resnet  # first ConvTranspose2d
    assert list(resnet)[-2:] == ["model.26.weight", "model.26.bias"]
    assert "model.model.1.model.3.model.3.model.1.weight" in unet  # nested skip blocks
    assert "model.model.3.weight" in unet and "model.model.3.bias" in unet  # outermost up-conv has a bias
    assert "model.model.1.model.1.bias" not in unet  # batch norm: no conv bias
    assert list(star_g)[:3] == ["main.0.weight", "main.1.weight", "main.1.bias"]
    assert "main.9.main.0.weight" in star_g and "main.9.main.4.bias" in star_g
    assert not any("running" in k for k in star_g)
    assert set(star_d) == {f"main.{i}.{p}" for i in range(0, 12, 2) for p in ("weight", "bias")} | {
        "conv1.weight",
        "conv2.weight",
    }
    assert list(patch) == [
        "model.0.weight",
        "model.0.bias",
        "model.2.weight",
        "model.2.bias",
        "model.5.weight",
        "model.5.bias",
        "model.8.weight",
        "model.8.bias",
        "model.11.weight",
        "model.11.bias",
    ]


@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_matches_torch(affine):
    torch.manual_seed(0)
    ours, ref = InstanceNorm(5, affine=affine), nn.InstanceNorm2d(5, affine=affine)
    if affine:
        with torch.no_grad():
            ours.weight.normal_()
            ours.bias.normal_()
        ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 5, 7, 9) * 3 + 1
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours(x.contiguous(memory_format=torch.channels_last)), ref(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "norm, cls",
    [
        ("batch", nn.BatchNorm2d),
        ("instance", InstanceNorm),
        ("instance_affine", InstanceNorm),
        ("none", nn.Identity),
        ("syncbatch", nn.SyncBatchNorm),
    ],
)
def test_get_norm_layer(norm, cls):
    layer = get_norm_layer(norm)(4)
    assert type(layer) is cls
    x = torch.randn(2, 4, 3, 3, requires_grad=True)
    layer.train()
    layer(x).square().sum().backward()  # syncbatch must work in one CPU process
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_unknown_norm_is_a_usage_error():
    with pytest.raises(UsageError, match="norm: unknown normalisation 'group'"):
        get_norm_layer("group")
    with pytest.raises(UsageError, match="norm"):
        ResnetGenerator(norm="layer")


def test_init_weights():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(64, 128, 3), nn.BatchNorm2d(128), nn.Linear(100, 100))
    init_weights(net)  # normal, 0.02
    assert abs(net[0].weight.std().item() - 0.02) < 0.002
    assert torch.count_nonzero(net[0].bias) == 0 and torch.count_nonzero(net[2].bias) == 0
    assert abs(net[1].weight.mean().item() - 1.0) < 0.01 and torch.count_nonzero(net[1].bias) == 0
    init_weights(net, "orthogonal", init_gain=2.0)
    w = net[2].weight
    torch.testing.assert_close(w @ w.T, 4.0 * torch.eye(100), atol=1e-4, rtol=1e-4)
    for kind in ("xavier", "kaiming"):
        init_weights(net, kind)
        assert torch.isfinite(net[0].weight).all() and net[0].weight.std() > 0
    with pytest.raises(UsageError, match="init_type"):
        init_weights(net, "uniform")


def test_resnet_dropout_and_channels():
    g = ResnetGenerator(input_nc=1, output_nc=4, ngf=8, n_blocks=2, use_dropout=True)
    assert sum(isinstance(m, nn.Dropout) for m in g.modules()) == 2
    g.eval()
    x = torch.randn(1, 1, 20, 28)
    y = g(x)
    assert y.shape == (1, 4, 20, 28) and torch.equal(y, g(x))
    assert y.abs().max() <= 1  # tanh head


def test_unet_any_size_and_dropout():
    g = UnetGenerator(input_nc=2, output_nc=1, ngf=4, num_downs=7, use_dropout=True).eval()
    assert sum(isinstance(m, nn.Dropout) for m in g.modules()) == 2  # only the inner ngf*8 blocks
    assert g(torch.randn(1, 2, 40, 52)).shape == (1, 1, 40, 52)
    assert g(torch.randn(1, 2, 128, 128)).shape == (1, 1, 128, 128)
    with pytest.raises(UsageError, match="num_downs"):
        UnetGenerator(num_downs=4)


def test_stargan_label_conditioning():
    torch.manual_seed(0)
    g = StarGANGenerator(ngf=8, c_dim=4, n_blocks=2).eval()
    x = torch.randn(2, 3, 16, 24)
    c1, c2 = torch.eye(4)[:2], torch.eye(4)[2:]
    y1, y2 = g(x, c1), g(x, c2)
    assert y1.shape == (2, 3, 16, 24) and not torch.allclose(y1, y2)
    d = StarGANDiscriminator(ndf=8, n_layers=3, c_dim=4, image_size=32)
    src, cls = d(torch.randn(2, 3, 32, 32))
    assert src.shape == (2, 1, 4, 4) and cls.shape == (2, 4)
    assert d(torch.randn(2, 3, 32, 48))[1].shape == (2, 4)  # other sizes: averaged classifier
    with pytest.raises(UsageError, match="image_size"):
        StarGANDiscriminator(n_layers=6, image_size=32)


def test_augcyclegan_nets():
    torch.manual_seed(0)
    g = LatentResnetGenerator(ngf=8, nlatent=4, n_blocks=1).eval()
    x = torch.randn(2, 3, 16, 16)
    z1, z2 = torch.randn(2, 4), torch.randn(2, 4, 1, 1)
    assert g(x, z1).shape == (2, 3, 16, 16)
    assert not torch.allclose(g(x, z1), g(x, z2))  # one input, many outputs
    e = LatentEncoder(input_nc=3, output_nc=1, ngf=8, nlatent=4)
    mu, logvar = e(torch.randn(2, 3, 32, 32), torch.randn(2, 1, 32, 32))
    assert mu.shape == logvar.shape == (2, 4)
    det = LatentEncoder(ngf=8, nlatent=4, gaussian=False)
    assert det(x, x).shape == (2, 4)
    d = LatentMLPDiscriminator(ndf=8, nlatent=4)
    assert d(z1).shape == d(z2).shape == (2, 1)
    with pytest.raises(UsageError, match="norm"):
        LatentResnetGenerator(norm="batch")


def test_multiscale_and_pixel():
    d = MultiscaleDiscriminator(ndf=4, n_layers=2, num_D=3)
    outs = d(torch.randn(1, 3, 64, 64))
    assert isinstance(outs, list) and len(outs) == 3
    assert [o.shape[-1] for o in outs] == [14, 6, 2]
    assert PixelDiscriminator(ndf=4)(torch.randn(1, 3, 5, 7)).shape == (1, 1, 5, 7)


def test_image_pool_mixes_history_and_saves_state():
    torch.manual_seed(0)
    pool = ImagePool(4)
    seen: set[float] = set()
    for step in range(30):
        batch = torch.full((2, 1, 2, 2), float(step), requires_grad=True)
        out = pool.query(batch)
        seen.update(float(v) for v in batch.detach()[:, 0, 0, 0])
        assert out.shape == batch.shape and not out.requires_grad
        assert all(float(v) in seen for v in out[:, 0, 0, 0])
        if step < 2:  # filling: returned unchanged
            assert torch.equal(out, batch.detach())
    assert len(pool) == 4
    state = pool.state_dict()
    restored = ImagePool(4)
    restored.load_state_dict(state)
    assert torch.equal(torch.stack(restored.images), torch.stack(pool.images))
    torch.manual_seed(1)
    a = pool.query(torch.zeros(3, 1, 2, 2) - 1)
    torch.manual_seed(1)
    b = restored.query(torch.zeros(3, 1, 2, 2) - 1)
    assert torch.equal(a, b)  # a resumed run continues identically
    assert torch.equal(ImagePool(0).query(batch), batch.detach())  # size 0: pass-through


def test_image_pool_returns_old_images():
    torch.manual_seed(0)
    pool = ImagePool(2)
    pool.query(torch.zeros(2, 1, 1, 1))
    outs = torch.cat([pool.query(torch.ones(1, 1, 1, 1)) for _ in range(20)])
    assert (outs == 0).any() and (outs == 1).any()


def test_image_pool_of_several_image_sizes_saves_and_never_mixes_a_batch(tmp_path):
    """``data.preprocess = "none"`` on images of several sizes: each batch is one size, but the
    history holds them all. Saving it used to stack them (a RuntimeError at the first
    checkpoint, losing the run); a batch of two used to get a stored image of another size."""
    torch.manual_seed(0)
    pool = ImagePool(6)
    sizes = [(4, 4), (4, 6), (6, 4)]
    for step in range(40):
        h, w = sizes[step % 3]
        batch = torch.full((2, 1, h, w), float(step))
        assert pool.query(batch).shape == batch.shape
        single = torch.full((1, 1, w, h), float(step))
        pool.query(single)  # batch 1 takes any stored size, as the reference does
    assert len({im.shape for im in pool.images}) > 1
    torch.save(pool.state_dict(), tmp_path / "pool.pt")
    restored = ImagePool(6)
    restored.load_state_dict(torch.load(tmp_path / "pool.pt", weights_only=True))
    assert [im.shape for im in restored.images] == [im.shape for im in pool.images]
    assert all(torch.equal(a, b) for a, b in zip(restored.images, pool.images))
    uniform = ImagePool(2)
    uniform.query(torch.zeros(2, 1, 3, 3))
    assert isinstance(uniform.get_extra_state()["images"], torch.Tensor)  # one size: one stacked tensor, as before


def _float64_instance_norm(x64):
    """The definition, in float64: each (sample, channel) plane to zero mean, unit variance."""
    var, mean = torch.var_mean(x64, dim=(2, 3), unbiased=False, keepdim=True)
    return (x64 - mean) * torch.rsqrt(var + 1e-5)


@pytest.mark.parametrize("batch", [2, 1])  # bf16 batch 1 takes the batch-norm kernel
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.bfloat16, 2e-2)])
def test_instance_norm_gradients_on_channels_last(dtype, tol, batch):
    """Checked against float64 autograd: ``F.instance_norm`` gets this wrong in torch 2.14."""
    torch.manual_seed(0)
    x64 = (torch.randn(batch, 6, 31, 31, dtype=torch.float64) * 2 + 3).requires_grad_(True)
    g64 = torch.randn_like(x64)
    _float64_instance_norm(x64).backward(g64)
    norm = InstanceNorm(6, affine=True)
    x = x64.detach().to(dtype).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    y = norm(x)
    y.backward(g64.to(dtype).contiguous(memory_format=torch.channels_last))
    assert y.dtype == dtype and y.is_contiguous(memory_format=torch.channels_last)
    rel = (x.grad.double() - x64.grad).norm() / x64.grad.norm()
    assert rel < tol
    assert norm.weight.grad is not None and torch.isfinite(norm.weight.grad).all()


@pytest.mark.parametrize(
    "net",
    [
        lambda: UnetGenerator(3, 3, ngf=8, num_downs=5),
        lambda: ResnetGenerator(3, 3, ngf=8, n_blocks=1),
        lambda: StarGANGenerator(ngf=8, c_dim=2, n_blocks=1),
        lambda: LatentResnetGenerator(ngf=8, nlatent=4),
    ],
    ids=["unet", "resnet", "stargan", "augcyclegan"],
)
def test_generator_output_layers_run_in_fp32_under_bf16_autocast(net):
    """The pixels come out of an fp32 conv + tanh (bf16 heads cost held-out PSNR); the rest
    of the network stays in bf16, and without autocast nothing changes. A training step's
    no-grad forward (a fake for the critic) keeps the fp32 head; translation (inference mode:
    no gradient can flow) runs it in bf16, within bf16 rounding of the fp32 head."""
    torch.manual_seed(0)
    g = net()
    inputs = g.example_inputs(2, (32, 32))
    head = [m for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))][-1]
    seen: list[torch.dtype] = []
    head.register_forward_hook(lambda layer, args, out: seen.append(out.dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = g(*inputs)
        with torch.no_grad():
            fake_for_critic = g(*inputs)
        with torch.inference_mode():
            translated = g(*inputs)
    assert seen == [torch.float32, torch.float32, torch.bfloat16]
    assert out.dtype == fake_for_critic.dtype == torch.float32 and torch.equal(out.detach(), fake_for_critic)
    assert (translated.float() - out.detach()).abs().max() < 0.02
    out.float().mean().backward()
    assert head.weight.grad is not None and torch.isfinite(head.weight.grad).all()
    with torch.no_grad():
        plain = g(*inputs)
    assert plain.dtype == torch.float32 and (out.detach() - plain).abs().max() < 0.1


def _reference_conditional_norm(x64, w64, b64):
    """float64 instance norm, then a per-sample or per-channel scale and shift."""
    shape = (-1, x64.shape[1], 1, 1)
    return _float64_instance_norm(x64) * w64.reshape(shape) + b64.reshape(shape)


@pytest.mark.parametrize("per_sample", [True, False], ids=["per_sample", "per_channel"])
@pytest.mark.parametrize("batch", [3, 1])
def test_instance_norm_scale_and_shift_in_bf16_match_float64(per_sample, batch):
    """The conditional/adaptive norm's scale and shift, fused into the bf16 kernel: values and
    all three gradients against float64, channels_last kept, bf16 or fp32 scales accepted."""
    torch.manual_seed(0)
    x64 = (torch.randn(batch, 6, 15, 17, dtype=torch.float64) * 2 + 3).requires_grad_(True)
    pshape = (batch, 6, 1, 1) if per_sample else (6,)
    w64 = (torch.rand(pshape, dtype=torch.float64) + 0.5).requires_grad_(True)
    b64 = torch.randn(pshape, dtype=torch.float64).requires_grad_(True)
    g64 = torch.randn_like(x64)
    _reference_conditional_norm(x64, w64, b64).backward(g64)
    for w_dtype, b_dtype in [(torch.bfloat16, torch.bfloat16), (torch.float32, torch.bfloat16)]:
        x = x64.detach().bfloat16().contiguous(memory_format=torch.channels_last).requires_grad_(True)
        w = w64.detach().to(w_dtype).requires_grad_(True)
        b = b64.detach().to(b_dtype).requires_grad_(True)
        y = i2i.instance_norm(x, 1e-5, weight=w, bias=b)
        y.backward(g64.bfloat16().contiguous(memory_format=torch.channels_last))
        assert y.dtype == torch.bfloat16 and y.is_contiguous(memory_format=torch.channels_last)
        assert w.grad.dtype == w_dtype and b.grad.dtype == b_dtype
        expected = _reference_conditional_norm(x64.detach(), w64.detach(), b64.detach())
        for got, ref in [(y, expected), (x.grad, x64.grad), (w.grad, w64.grad), (b.grad, b64.grad)]:
            assert (got.double() - ref).norm() / ref.norm() < 1e-2


def test_instance_norm_scale_and_shift_in_fp32_is_the_hand_written_formula():
    """fp32 is op for op ``group_norm(x) * scale + shift``: the built-ins' fp32 steps stay the
    reference's to the bit."""
    torch.manual_seed(0)
    x, w, b = torch.randn(4, 5, 9, 9), torch.randn(4, 5, 1, 1), torch.randn(4, 5)
    expected = torch.nn.functional.group_norm(x, 5, None, None, 1e-5) * w + b[:, :, None, None]
    assert torch.equal(i2i.instance_norm(x, 1e-5, weight=w, bias=b), expected)
    assert torch.equal(i2i.instance_norm(x, 1e-5), torch.nn.functional.group_norm(x, 5, None, None, 1e-5))


def test_bf16_conditional_instance_norm_is_twice_differentiable():
    """A gradient penalty through a bf16 conditional norm: the second derivative exists."""
    torch.manual_seed(0)
    x = torch.randn(2, 4, 8, 8).bfloat16().requires_grad_(True)
    w = torch.rand(2, 4).bfloat16().requires_grad_(True)
    (grad,) = torch.autograd.grad(i2i.instance_norm(x, weight=w).float().square().sum(), x, create_graph=True)
    grad.float().square().sum().backward()
    assert w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "pad_cls, torch_cls", [(i2i.ReflectionPad2d, nn.ReflectionPad2d), (i2i.ReplicationPad2d, nn.ReplicationPad2d)]
)
def test_padding_keeps_bf16_under_autocast_and_is_torchs_op(pad_cls, torch_cls):
    """CPU autocast runs torch's reflection/replication pads in fp32, two full copies per pad in
    a bf16 network; i2i's pads keep the dtype and give the same values and gradients."""
    torch.manual_seed(0)
    pad, ref = pad_cls(2), torch_cls(2)
    assert isinstance(pad, torch_cls)
    x = torch.randn(2, 3, 6, 7).bfloat16().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, y_ref = pad(x), ref(x)
    assert y.dtype == torch.bfloat16 and y_ref.dtype == torch.float32
    assert torch.equal(y, y_ref.bfloat16()) and y.is_contiguous(memory_format=torch.channels_last)
    (g,) = torch.autograd.grad(y.float().sum(), x)
    (g_ref,) = torch.autograd.grad(y_ref.sum(), x)
    torch.testing.assert_close(g, g_ref)
    x32 = x.detach().float()
    assert torch.equal(pad(x32), ref(x32))


@pytest.mark.parametrize(
    "net",
    [
        lambda: ResnetGenerator(3, 3, ngf=8, n_blocks=2),
        lambda: ResnetGenerator(3, 3, ngf=8, n_blocks=2, padding_type="replicate"),
        lambda: LatentResnetGenerator(ngf=8, nlatent=4),
    ],
    ids=["resnet", "resnet_replicate", "augcyclegan"],
)
def test_bf16_generators_feed_no_fp32_map_to_an_inner_conv(net):
    """Under bf16 autocast every conv but the fp32 output head gets a bf16 map: no padding
    widens one to fp32 on the way."""
    torch.manual_seed(0)
    g = net()
    convs = [m for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.kernel_size != (1, 1)]
    seen: dict[nn.Module, torch.dtype] = {}

    def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        seen.setdefault(module, inputs[0].dtype)

    hooks = [c.register_forward_hook(record) for c in convs]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        g(*g.example_inputs(2, (32, 32)))
    for h in hooks:
        h.remove()
    dtypes = [seen[c] for c in convs]
    assert dtypes[0] == torch.float32  # the image itself enters the stem
    assert dtypes[-1] == torch.float32  # the head runs in fp32 on purpose
    assert all(d == torch.bfloat16 for d in dtypes[1:-1]), dtypes


# -- initialisers deferred while a checkpoint is rebuilt -------------------------------------------
def _small_net() -> nn.Module:
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ConvTranspose2d(8, 3, 4), nn.Linear(5, 4))
    return i2i.init_weights(net, "normal", 0.02)


def test_deferred_init_draws_nothing_and_knows_when_the_load_wrote_every_parameter():
    source = _small_net()
    torch.manual_seed(3)
    deferred = DeferredParameterInit()
    with deferred:
        net = _small_net()
    after_build = torch.rand(4)
    torch.manual_seed(3)
    assert torch.equal(after_build, torch.rand(4))  # the build drew no random number
    assert not deferred.all_overwritten()
    net.load_state_dict(source.state_dict())
    assert deferred.all_overwritten()
    for key, value in source.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key


def test_deferred_init_reports_a_parameter_the_load_left_out():
    source = _small_net()
    deferred = DeferredParameterInit()
    with deferred:
        net = _small_net()
        _small_net()  # a network built and dropped during the build does not count
    net.load_state_dict({k: v for k, v in source.state_dict().items() if k != "3.weight"}, strict=False)
    assert not deferred.all_overwritten()
    net.load_state_dict(source.state_dict())
    assert deferred.all_overwritten()


def test_deferred_init_keeps_initialising_tensors_that_are_not_parameters():
    deferred = DeferredParameterInit()
    torch.manual_seed(0)
    with deferred:
        buffer = torch.zeros(1000)
        nn.init.normal_(buffer)
        conv = nn.Conv2d(2, 2, 1)
        conv.weight.data.uniform_(5.0, 6.0)  # .data is a plain tensor: initialised now
    assert buffer.std() > 0.5
    assert (conv.weight >= 5.0).all()
