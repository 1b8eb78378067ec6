"""Every registered generator and discriminator passes the shipped conformance check."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from i2i.nets.patchgan import NLayerDiscriminator
from i2i.plugins.host import PluginHost
from i2i.plugins.registry import DiscriminatorSpec, GeneratorSpec
from i2i.testing.components import ComponentReport, check_component, tiny_kwargs

#: Every installed plugin's networks, the built-in methods' own ones included.
REGISTRY = PluginHost().registry
RECORDS = [spec for kind in ("generator", "discriminator") for spec in REGISTRY.records(kind)]

#: (kind, name) -> the plugin that registers it: generic blocks in the core, method-specific
#: networks in their method's plugin.
BUILTIN = {
    **{("generator", n): "i2i.components" for n in ("resnet_9blocks", "resnet_6blocks", "unet_256", "unet_128")},
    **{("discriminator", n): "i2i.components" for n in ("patchgan", "pixel", "multiscale")},
    ("generator", "stargan"): "stargan",
    ("discriminator", "stargan"): "stargan",
    ("generator", "augcyclegan_resnet"): "augcyclegan",
    ("generator", "augcyclegan_encoder"): "augcyclegan",
    ("discriminator", "latent_mlp"): "augcyclegan",
}


def test_builtins_are_registered_with_descriptions():
    for (kind, name), plugin in BUILTIN.items():
        record = REGISTRY.get(kind, name)
        assert record.description and "\n" not in record.description
        assert record.plugin.split(" ")[0] == plugin


def test_the_core_registers_no_method_specific_network():
    core = PluginHost(autoload=False).registry
    assert "stargan" not in core.names("generator") and "latent_mlp" not in core.names("discriminator")


@pytest.mark.parametrize("spec", RECORDS, ids=[f"{s.kind}-{s.name}" for s in RECORDS])
def test_conformance(spec):
    report = check_component(spec, tiny_kwargs(spec))
    assert isinstance(report, ComponentReport) and report.num_parameters > 0
    assert report.scripted or report.exported
    assert report.bf16_error < 0.1 and report.channels_last_error < 1e-3


def test_uniform_factory_keywords():
    """Methods build any generator/discriminator by name with the same keywords."""
    for spec in REGISTRY.records("generator"):
        net = spec.create(
            **{**tiny_kwargs(spec), "input_nc": 1, "output_nc": 2, "ngf": 8, "norm": "instance", "use_dropout": True}
        )
        assert isinstance(net, nn.Module)
    for spec in REGISTRY.records("discriminator"):
        norm = "batch" if spec.name == "latent_mlp" else "instance"
        kwargs = {**tiny_kwargs(spec), "input_nc": 1, "ndf": 8, "n_layers": 2, "norm": norm}
        assert isinstance(spec.create(**kwargs), nn.Module)


def test_tiny_kwargs_follow_the_signature():
    assert tiny_kwargs(REGISTRY.get("generator", "resnet_9blocks")) == {"ngf": 8, "n_blocks": 2}
    assert tiny_kwargs(REGISTRY.get("generator", "stargan")) == {"ngf": 8, "n_blocks": 2, "c_dim": 3}
    assert tiny_kwargs(REGISTRY.get("discriminator", "stargan")) == {
        "ndf": 8,
        "n_layers": 2,
        "c_dim": 3,
        "image_size": 32,
    }


class WrongSize(nn.Module):
    """A broken generator: halves the resolution."""

    def __init__(
        self, input_nc: int = 3, output_nc: int = 3, ngf: int = 8, norm: str = "instance", use_dropout: bool = False
    ):
        super().__init__()
        self.input_nc, self.output_nc = input_nc, output_nc
        self.conv = nn.Conv2d(input_nc, output_nc, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Unused(NLayerDiscriminator):
    """A broken discriminator: has a parameter that forward never reaches."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.extra = nn.Linear(2, 2)


class NotScriptable(nn.Module):
    """Dynamic Python TorchScript rejects; torch.export still traces it."""

    def __init__(
        self, input_nc: int = 3, output_nc: int = 3, ngf: int = 8, norm: str = "instance", use_dropout: bool = False
    ):
        super().__init__()
        self.input_nc, self.output_nc = input_nc, output_nc
        self.convs = {"a": nn.Conv2d(input_nc, output_nc, 3, padding=1)}  # plain dict: invisible to script
        self.conv = self.convs["a"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * float(len(self.convs))


def test_check_component_catches_broken_components():
    with pytest.raises(AssertionError, match="output"):
        check_component(GeneratorSpec("wrong_size", WrongSize), {})
    with pytest.raises(AssertionError, match="extra.weight got no gradient"):
        check_component(DiscriminatorSpec("unused", Unused), {"ndf": 4, "n_layers": 2})
    report = check_component(GeneratorSpec("not_scriptable", NotScriptable), {}, sizes=((16, 16),))
    assert report.scripted is False and report.exported is True and report.script_error
