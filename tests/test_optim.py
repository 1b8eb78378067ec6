"""``i2i.adam``: torch's Adam, fused where the device has the kernel, and interchangeable with it."""

from __future__ import annotations

import copy

import pytest
import torch

import i2i
from i2i.method import DataInfo


def _net(channels_last: bool = False) -> torch.nn.Module:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 1, 3))
    return net.to(memory_format=torch.channels_last) if channels_last else net


def _train(net: torch.nn.Module, opt: torch.optim.Optimizer, steps: int) -> None:
    x = torch.randn(2, 3, 10, 10, generator=torch.Generator().manual_seed(1))
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        net(x).square().mean().backward()
        opt.step()


def test_fused_on_cpu_unless_the_caller_chooses():
    params = list(_net().parameters())
    assert i2i.adam(params, lr=1e-3).defaults["fused"] is True
    assert not i2i.adam(params, lr=1e-3, foreach=False).defaults.get("fused")
    assert not i2i.adam(params, lr=1e-3, fused=False).defaults["fused"]
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": 1e-4}]
    assert i2i.adam(groups, lr=1e-3).defaults["fused"] is True


@pytest.mark.parametrize("channels_last", [False, True])
def test_same_updates_as_torch_adam_and_state_dicts_interchange(channels_last):
    fused_net, plain_net = _net(channels_last), _net(channels_last)
    fused = i2i.adam(fused_net.parameters(), lr=1e-2, betas=(0.5, 0.999))
    plain = torch.optim.Adam(plain_net.parameters(), lr=1e-2, betas=(0.5, 0.999))
    _train(fused_net, fused, 5)
    _train(plain_net, plain, 5)
    for a, b in zip(fused_net.parameters(), plain_net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # a checkpoint written by either resumes in the other (old checkpoints stay loadable)
    resumed = torch.optim.Adam(fused_net.parameters(), lr=1e-2, betas=(0.5, 0.999))
    resumed.load_state_dict(fused.state_dict())
    _train(fused_net, resumed, 1)
    refused = i2i.adam(plain_net.parameters(), lr=1e-2, betas=(0.5, 0.999))
    refused.load_state_dict(plain.state_dict())
    assert refused.param_groups[0]["fused"] is True  # an unfused checkpoint keeps the fused kernel
    _train(plain_net, refused, 1)
    for a, b in zip(fused_net.parameters(), plain_net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    if channels_last:  # the layout the trainer gave the weights survives the updates
        assert fused_net[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_channels_last_weights_with_moments_in_another_layout():
    """A checkpoint from an NCHW run resumed channels_last: weight and moments differ in layout."""
    nchw = _net()
    nchw_adam = torch.optim.Adam(nchw.parameters(), lr=1e-2)
    _train(nchw, nchw_adam, 2)
    ours_net, torch_net = _net(channels_last=True), _net(channels_last=True)
    ours = i2i.adam(ours_net.parameters(), lr=1e-2)
    reference = torch.optim.Adam(torch_net.parameters(), lr=1e-2)
    for net, opt in ((ours_net, ours), (torch_net, reference)):
        net.load_state_dict(nchw.state_dict())
        opt.load_state_dict(copy.deepcopy(nchw_adam.state_dict()))  # as from a file: no shared steps
        assert not opt.state[net[0].weight]["exp_avg"].is_contiguous(memory_format=torch.channels_last)
        _train(net, opt, 3)
    for a, b in zip(ours_net.parameters(), torch_net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # still fused, and the moments now live in the weights' layout (copied once, not per step)
    assert ours.param_groups[0]["fused"] is True
    assert ours.state[ours_net[0].weight]["exp_avg"].is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan", "stargan", "augcyclegan"])
def test_built_in_methods_use_fused_adam_on_cpu(name):
    spec = i2i.get_method(name)
    info = DataInfo(kind=spec.data_kind, domains=("a", "b") if spec.data_kind == i2i.LABELLED else ())
    method = i2i.create_method(name, data_info=info, **spec.test_overrides)
    for opt_name, opt in method.configure_optimizers().items():
        assert opt.defaults.get("fused") is True, (name, opt_name)


def test_channels_last_weights_are_updated_in_place_without_copies():
    """The fused kernel gets contiguous NHWC views: no per-step copy of a channels_last weight
    (what torch's own fused Adam does for each one)."""
    from torch.profiler import profile

    net = _net(channels_last=True)
    opt = i2i.adam(net.parameters(), lr=1e-2)
    _train(net, opt, 1)
    weight = net[0].weight
    before = weight.data_ptr()
    with profile() as prof:
        _train(net, opt, 1)
    copies = [
        e
        for e in prof.events()
        if e.name in ("aten::clone", "aten::contiguous")
        and "adam" in str(e.cpu_parent.name if e.cpu_parent else "").lower()
    ]
    assert copies == []
    assert weight.data_ptr() == before and weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("override", [True, False], ids=["init_group_override", "fallback"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_both_paths_match_torch_adam(override, channels_last, monkeypatch):
    """The copy-free path (on a torch whose private ``Adam._init_group`` i2i knows) and the
    fallback to plain ``torch.optim.Adam(fused=True)`` update exactly as torch's Adam, fresh
    and resumed from an NCHW checkpoint into channels_last weights."""
    import i2i.optim

    if override:
        assert i2i.optim.LAYOUT_OVERRIDE, "this torch's Adam._init_group changed: check i2i.optim"
    monkeypatch.setattr(i2i.optim, "LAYOUT_OVERRIDE", override)
    ours_net, torch_net = _net(channels_last), _net(channels_last)
    ours = i2i.adam(ours_net.parameters(), lr=1e-2, betas=(0.5, 0.999))
    assert type(ours) is (i2i.optim.Adam if override else i2i.optim.FusedAdam)
    reference = torch.optim.Adam(torch_net.parameters(), lr=1e-2, betas=(0.5, 0.999))
    _train(ours_net, ours, 3)
    _train(torch_net, reference, 3)
    for a, b in zip(ours_net.parameters(), torch_net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)

    nchw = _net()
    nchw_adam = torch.optim.Adam(nchw.parameters(), lr=1e-2)
    _train(nchw, nchw_adam, 2)
    resumed_net, torch_net = _net(channels_last=True), _net(channels_last=True)
    resumed = i2i.adam(resumed_net.parameters(), lr=1e-2)
    reference = torch.optim.Adam(torch_net.parameters(), lr=1e-2, foreach=False)
    for net, opt in ((resumed_net, resumed), (torch_net, reference)):
        net.load_state_dict(nchw.state_dict())
        opt.load_state_dict(copy.deepcopy(nchw_adam.state_dict()))
        _train(net, opt, 3)
    assert resumed.param_groups[0]["fused"] is True
    for a, b in zip(resumed_net.parameters(), torch_net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert resumed.state[resumed_net[0].weight]["exp_avg"].is_contiguous(memory_format=torch.channels_last)


def test_the_override_is_gated_on_the_installed_torch(monkeypatch):
    import i2i.optim

    assert i2i.optim._has_known_init_group() is i2i.optim.LAYOUT_OVERRIDE
    monkeypatch.delattr(torch.optim.Adam, "_init_group")
    assert i2i.optim._has_known_init_group() is False
