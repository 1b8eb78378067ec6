"""Importing reference CycleGAN/pix2pix/StarGAN generator checkpoints.

The ``Ref*`` networks below are written out here layer by layer as the reference repositories
build them (junyanz/pytorch-CycleGAN-and-pix2pix ``networks.py``, yunjey/stargan ``model.py``),
independently of i2i's code, so these tests catch any drift in i2i's layouts.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from i2i.errors import CheckpointError
from i2i.inference.weights_import import (
    convert_reference_state_dict,
    import_reference_file,
    infer_generator_kwargs,
    load_reference_file,
)
from i2i.plugins.host import PluginHost

STATS = ("running_mean", "running_var", "num_batches_tracked")


# -- reference layouts ------------------------------------------------------------------------
class RefResnetBlock(nn.Module):
    def __init__(self, dim, norm_layer, use_bias):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, padding=0, bias=use_bias),
            norm_layer(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, padding=0, bias=use_bias),
            norm_layer(dim),
        )

    def forward(self, x):
        return x + self.conv_block(x)


class RefResnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf, n_blocks, norm="instance"):
        super().__init__()
        norm_layer = {"instance": nn.InstanceNorm2d, "batch": nn.BatchNorm2d, "none": lambda c: nn.Identity()}[norm]
        use_bias = norm == "instance"  # the reference's type check: False for batch *and* none
        model = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, 7, padding=0, bias=use_bias),
            norm_layer(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            m = 2**i
            model += [
                nn.Conv2d(ngf * m, ngf * m * 2, 3, stride=2, padding=1, bias=use_bias),
                norm_layer(ngf * m * 2),
                nn.ReLU(True),
            ]
        model += [RefResnetBlock(ngf * 4, norm_layer, use_bias) for _ in range(n_blocks)]
        for i in range(2):
            m = 2 ** (2 - i)
            model += [
                nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, stride=2, padding=1, output_padding=1, bias=use_bias),
                norm_layer(ngf * m // 2),
                nn.ReLU(True),
            ]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


class RefUnetBlock(nn.Module):
    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False):
        super().__init__()
        self.outermost = outermost
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=False)  # batch norm: no bias
        if outermost:
            model = [downconv, submodule, nn.ReLU(True), nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1), nn.Tanh()]
        elif innermost:
            model = [
                nn.LeakyReLU(0.2, True),
                downconv,
                nn.ReLU(True),
                nn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=False),
                nn.BatchNorm2d(outer_nc),
            ]
        else:
            model = [
                nn.LeakyReLU(0.2, True),
                downconv,
                nn.BatchNorm2d(inner_nc),
                submodule,
                nn.ReLU(True),
                nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, bias=False),
                nn.BatchNorm2d(outer_nc),
            ]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class RefUnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, num_downs, ngf):
        super().__init__()
        block = RefUnetBlock(ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            block = RefUnetBlock(ngf * 8, ngf * 8, submodule=block)
        block = RefUnetBlock(ngf * 4, ngf * 8, submodule=block)
        block = RefUnetBlock(ngf * 2, ngf * 4, submodule=block)
        block = RefUnetBlock(ngf, ngf * 2, submodule=block)
        self.model = RefUnetBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True)

    def forward(self, x):
        return self.model(x)


class RefStarResidualBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False),
            nn.InstanceNorm2d(dim, affine=True, track_running_stats=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False),
            nn.InstanceNorm2d(dim, affine=True, track_running_stats=True),
        )

    def forward(self, x):
        return x + self.main(x)


class RefStarGenerator(nn.Module):
    def __init__(self, conv_dim, c_dim, repeat_num):
        super().__init__()
        layers = [
            nn.Conv2d(3 + c_dim, conv_dim, 7, 1, 3, bias=False),
            nn.InstanceNorm2d(conv_dim, affine=True, track_running_stats=True),
            nn.ReLU(inplace=True),
        ]
        d = conv_dim
        for _ in range(2):
            layers += [
                nn.Conv2d(d, d * 2, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(d * 2, affine=True, track_running_stats=True),
                nn.ReLU(inplace=True),
            ]
            d *= 2
        layers += [RefStarResidualBlock(d) for _ in range(repeat_num)]
        for _ in range(2):
            layers += [
                nn.ConvTranspose2d(d, d // 2, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(d // 2, affine=True, track_running_stats=True),
                nn.ReLU(inplace=True),
            ]
            d //= 2
        layers += [nn.Conv2d(d, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x, c):
        c = c.view(c.size(0), c.size(1), 1, 1).repeat(1, 1, x.size(2), x.size(3))
        return self.main(torch.cat([x, c], dim=1))


# -- helpers ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def registry():
    return PluginHost().registry  # the methods' plugins register their networks and formats


def randomize(net: nn.Module) -> nn.Module:
    """Random weights and batch-norm statistics, so equal outputs mean equal weights."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.1)
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return net


def import_into_i2i(registry, path, fmt):
    name, kwargs, sd = import_reference_file(path, fmt)
    net = registry.get("generator", name).create(**kwargs)
    net.load_state_dict(sd, strict=True)
    return name, kwargs, net.eval()


# -- round trips ------------------------------------------------------------------------------
def test_resnet_reference_keys_are_i2i_keys(registry):
    ref_keys = list(RefResnetGenerator(3, 3, 8, 1).state_dict())
    # hand-derived from the reference layer order: pad conv norm relu | 2x (conv norm relu) | block | 2x (convT norm relu) | pad conv tanh
    expected = [f"model.{i}.{p}" for i in (1, 4, 7) for p in ("weight", "bias")]
    expected += [f"model.10.conv_block.{i}.{p}" for i in (1, 5) for p in ("weight", "bias")]
    expected += [f"model.{i}.{p}" for i in (11, 14, 18) for p in ("weight", "bias")]
    assert ref_keys == expected
    assert list(registry.get("generator", "resnet_9blocks").create(ngf=8, n_blocks=1).state_dict()) == expected


def test_old_cyclegan_checkpoint_with_instance_norm_stats(registry, tmp_path):
    ref = randomize(RefResnetGenerator(3, 3, 8, 9)).eval()
    sd = ref.state_dict()
    for layer in (
        "model.2",
        "model.5",
        "model.8",
        "model.10.conv_block.2",
        "model.12.conv_block.6",
        "model.20",
        "model.23",
    ):
        sd[f"{layer}.running_mean"], sd[f"{layer}.running_var"] = torch.zeros(1), torch.ones(1)
        sd[f"{layer}.num_batches_tracked"] = torch.tensor(0)
    torch.save(sd, tmp_path / "latest_net_G.pth")
    name, kwargs, net = import_into_i2i(registry, tmp_path / "latest_net_G.pth", "cyclegan-ref")
    assert name == "resnet_9blocks"
    assert kwargs == dict(input_nc=3, output_nc=3, ngf=8, norm="instance", use_dropout=False, n_blocks=9)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(net(x), ref(x), atol=1e-5, rtol=1e-5)


def test_resnet_without_norm_gets_zero_biases(registry, tmp_path):
    ref = randomize(RefResnetGenerator(2, 1, 4, 6, norm="none")).eval()
    torch.save(ref.state_dict(), tmp_path / "horse2zebra.pth")
    name, kwargs, net = import_into_i2i(registry, tmp_path / "horse2zebra.pth", "cyclegan-ref")
    assert (
        name == "resnet_6blocks" and kwargs["norm"] == "none" and kwargs["input_nc"] == 2 and kwargs["output_nc"] == 1
    )
    x = torch.randn(1, 2, 16, 20)
    with torch.no_grad():
        torch.testing.assert_close(net(x), ref(x), atol=1e-5, rtol=1e-5)


def test_pix2pix_unet_batch_norm(registry, tmp_path):
    ref = randomize(RefUnetGenerator(3, 2, 7, 4)).eval()
    sd = {k: v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}  # PyTorch < 0.4.1
    torch.save({"state_dict": sd}, tmp_path / "latest_net_G.pth")  # wrapped: unwrapped on load
    name, kwargs, net = import_into_i2i(registry, tmp_path / "latest_net_G.pth", "pix2pix-ref")
    assert name == "unet_128"
    assert kwargs == dict(input_nc=3, output_nc=2, ngf=4, norm="batch", num_downs=7)
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(net(x), ref(x), atol=1e-5, rtol=1e-5)


def test_stargan_generator(registry, tmp_path):
    ref = randomize(RefStarGenerator(conv_dim=8, c_dim=5, repeat_num=2))
    sd = ref.state_dict()
    assert "main.1.running_mean" in sd and "main.9.main.1.num_batches_tracked" in sd
    torch.save({f"module.{k}": v for k, v in sd.items()}, tmp_path / "200000-G.ckpt")  # DataParallel prefix
    name, kwargs, net = import_into_i2i(registry, tmp_path / "200000-G.ckpt", "stargan-ref")
    assert name == "stargan"
    assert kwargs == dict(input_nc=3, output_nc=3, ngf=8, norm="instance_affine", c_dim=5, n_blocks=2)
    x, c = torch.randn(2, 3, 32, 32), torch.eye(5)[:2]
    with torch.no_grad():
        expected = ref.train()(x, c)  # the reference translates in train mode: instance statistics
        torch.testing.assert_close(net(x, c), expected, atol=1e-5, rtol=1e-5)


def test_infer_kwargs_on_converted_state_dict():
    sd = RefUnetGenerator(1, 1, 8, 2).state_dict()
    name, clean = convert_reference_state_dict(sd, "pix2pix-ref")
    assert name == "unet_256"
    assert infer_generator_kwargs(clean, "pix2pix-ref") == infer_generator_kwargs(sd, "pix2pix-ref")
    assert convert_reference_state_dict(sd, "pix2pix-ref", generator="unet_128")[0] == "unet_128"


# -- errors -----------------------------------------------------------------------------------
def one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


def test_garbage_and_non_state_dict_files(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00\x01 definitely not a checkpoint" * 10)
    with pytest.raises(CheckpointError) as exc:
        load_reference_file(garbage)
    assert str(garbage) in one_line(exc)
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="list.pth: holds a list"):
        load_reference_file(tmp_path / "list.pth")
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "meta.pth")
    with pytest.raises(CheckpointError, match="holds no state dict"):
        load_reference_file(tmp_path / "meta.pth")
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_reference_file(tmp_path / "missing.pth")


def test_keys_that_do_not_fit(tmp_path):
    sd = RefResnetGenerator(3, 3, 4, 2).state_dict()
    broken = dict(sd)
    del broken["model.10.conv_block.5.weight"]
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(CheckpointError) as exc:
        import_reference_file(tmp_path / "broken.pth", "cyclegan-ref")
    assert "broken.pth" in one_line(exc) and "model.10.conv_block.5.weight" in str(exc.value)

    wrong_shape = dict(sd, **{"model.4.weight": torch.zeros(8, 4, 5, 5)})
    with pytest.raises(CheckpointError, match="model.4.weight has shape"):
        convert_reference_state_dict(wrong_shape, "cyclegan-ref")
    with pytest.raises(CheckpointError, match="cannot be loaded as 'unet_256'"):
        convert_reference_state_dict(sd, "cyclegan-ref", generator="unet_256")
    with pytest.raises(CheckpointError, match="do not look like a stargan-ref generator"):
        convert_reference_state_dict(sd, "stargan-ref")
    with pytest.raises(CheckpointError, match="StarGAN discriminator"):
        convert_reference_state_dict({"main.0.weight": torch.zeros(1), "conv1.weight": torch.zeros(1)}, "stargan-ref")
    with pytest.raises(CheckpointError, match="format: unknown reference format"):
        convert_reference_state_dict(sd, "nope-ref")  # (cut-ref is the example plugin's format)
