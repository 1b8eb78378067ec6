"""``train.weight_copies``: bf16 weight copies that the optimizer keeps, in place of autocast's
per-step casts (:mod:`i2i.weight_copies`). The step must compute what autocast computes."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from train_support import make_paired

import i2i
from i2i import weight_copies
from i2i.io.checkpoint import read_checkpoint
from i2i.train.context import TrainContext
from i2i.train.precision import Precision
from i2i.train.trainer import Trainer

BF16 = torch.bfloat16
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _copy_every_size(monkeypatch):
    monkeypatch.setattr(weight_copies, "MIN_PARAMETERS", 0)  # tiny networks here; 4M by default


def _net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.InstanceNorm2d(16, affine=True),
        nn.ReLU(),
        nn.ConvTranspose2d(16, 8, 4, 2, 1),
        nn.Flatten(),
        nn.Linear(8 * 32 * 32, 5),
    )
    return net.to(memory_format=torch.channels_last)


def _pair(
    **adam,
) -> tuple[nn.Module, torch.optim.Optimizer, nn.Module, torch.optim.Optimizer, weight_copies.WeightCopies]:
    """The same network twice: plain autocast, and with weight copies."""
    plain = _net()
    copied = copy.deepcopy(plain)
    adam = {"lr": 1e-3, "betas": (0.5, 0.999), **adam}
    plain_opt, copied_opt = i2i.adam(plain.parameters(), **adam), i2i.adam(copied.parameters(), **adam)
    copies = weight_copies.use_weight_copies(copied, {"net": copied_opt}, BF16, CPU)
    assert copies is not None
    return plain, plain_opt, copied, copied_opt, copies


def _loss(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.autocast("cpu", dtype=BF16):
        return net(x).float().pow(2).mean()


X = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(0)).contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("adam", [{}, {"weight_decay": 1e-2}, {"weight_decay": 1e-2, "decoupled_weight_decay": True}])
def test_steps_compute_what_autocast_computes(adam):
    plain, plain_opt, copied, copied_opt, copies = _pair(**adam)
    assert len(copies) == 6  # the two convolutions' and the linear layer's weight and bias, not the norm's
    for step in range(4):
        # from the same weights and moments (loaded: the copies follow a load), one step each
        copied.load_state_dict(plain.state_dict())
        copied_opt.load_state_dict(copy.deepcopy(plain_opt.state_dict()))  # torch shares step tensors
        losses, grads = [], []
        for net, opt in ((plain, plain_opt), (copied, copied_opt)):
            loss = _loss(net, X)
            loss.backward()
            losses.append(loss.item())
            grads.append([g.clone() for g in i2i.optim.gradients(opt)])
            opt.step()
            opt.zero_grad()
        assert losses[0] == losses[1]  # the copy is autocast's cast of the same weights
        assert any(g.dtype == BF16 for g in grads[1])  # the casts really are gone
        for a, b in zip(*grads):
            assert torch.equal(a, b.float())  # a bf16 gradient widened is autocast's fp32 gradient
        for a, b in zip(plain.parameters(), copied.parameters()):
            # torch's fused kernel vs the compiled update: the last bits of the rounding (1e-4 of
            # the step lr=1e-3; with L2 decay, grad + wd * w can cancel to a few bits)
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
            if b in copies:  # the copy written with the step
                assert torch.equal(copies.current(b), b.detach().to(BF16))
            for key in ("exp_avg", "exp_avg_sq"):  # (L2 decay's grad + wd * w can cancel to a few bits)
                torch.testing.assert_close(plain_opt.state[a][key], copied_opt.state[b][key], rtol=1e-4, atol=1e-9)
            assert float(copied_opt.state[b]["step"]) == float(plain_opt.state[a]["step"]) == step + 1


def test_the_layers_hold_their_fp32_weights_outside_the_forward():
    plain, _, copied, copied_opt, copies = _pair()
    _loss(copied, X).backward()
    copied_opt.step()
    state = copied.state_dict()
    assert all(v.dtype == torch.float32 for v in state.values())
    assert all(isinstance(p, nn.Parameter) and p.dtype == torch.float32 for p in copied.parameters())
    conv = copied[0]
    assert torch.equal(copies.current(conv.weight), conv.weight.detach().to(BF16))
    # the optimizer's state is torch's: it loads into a plain Adam and back
    plain_opt = i2i.adam(plain.parameters(), lr=1e-3, betas=(0.5, 0.999))
    plain_opt.load_state_dict(copied_opt.state_dict())
    assert set(plain_opt.state_dict()["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}


def test_a_weight_changed_in_place_is_copied_again_before_the_next_forward():
    plain, _, copied, _, _ = _pair()
    torch.manual_seed(1)
    other = _net()
    copied.load_state_dict(other.state_dict())
    plain.load_state_dict(other.state_dict())
    with torch.no_grad():
        assert torch.equal(_loss(copied, X), _loss(plain, X))


def test_a_full_precision_forward_uses_the_fp32_weight_and_its_gradient_is_added():
    plain, plain_opt, copied, copied_opt, copies = _pair()
    seen: list[torch.dtype] = []
    copied[0].register_forward_pre_hook(lambda layer, args: seen.append(layer.weight.dtype))
    for net in (plain, copied):
        loss = _loss(net, X) + net(X).pow(2).mean()  # the second forward outside autocast
        loss.backward()
    assert seen == [BF16, torch.float32]
    assert copied[0].weight.grad is not None and copies.current(copied[0].weight).grad is not None
    plain_grads, copied_grads = i2i.optim.gradients(plain_opt), i2i.optim.gradients(copied_opt)
    assert len(plain_grads) == len(copied_grads)
    for a, b in zip(plain_grads, copied_grads):
        assert torch.equal(a, b)  # fp32 + widened bf16, as autocast's graph sums them
    plain_opt.step()
    copied_opt.step()
    for a, b in zip(plain.parameters(), copied.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_a_frozen_weight_gets_no_gradient_and_a_failing_forward_restores_the_weights():
    _, _, copied, copied_opt, copies = _pair()
    copied[0].weight.requires_grad_(False)  # as methods freeze D while G learns
    _loss(copied, X).backward()
    assert copies.current(copied[0].weight).grad is None and copied[0].weight.grad is None
    assert copies.current(copied[0].bias).grad is not None
    copied_opt.zero_grad()
    assert all(g is None for g in (copies.current(p).grad for p in copied.parameters() if p in copies))
    with pytest.raises(RuntimeError), torch.autocast("cpu", dtype=BF16):
        copied(torch.randn(1, 5, 8, 8))  # wrong channels: the first convolution raises
    assert copied[0]._parameters["weight"] is next(copied.parameters())  # the fp32 Parameter again


def test_copies_only_where_they_apply(monkeypatch):
    net = _net()
    assert weight_copies.use_weight_copies(net, {"n": i2i.adam(net.parameters())}, None, CPU) is None  # fp32
    sgd = torch.optim.SGD(net.parameters(), lr=0.1)
    assert weight_copies.use_weight_copies(net, {"n": sgd}, BF16, CPU) is None  # not i2i's Adam
    amsgrad = i2i.adam(net.parameters(), amsgrad=True)
    assert weight_copies.use_weight_copies(net, {"n": amsgrad}, BF16, CPU) is None  # an option it lacks
    monkeypatch.setattr(weight_copies, "MIN_PARAMETERS", 10**9)
    assert weight_copies.use_weight_copies(net, {"n": i2i.adam(net.parameters())}, BF16, CPU) is None  # too small


def test_the_trainers_context_checks_and_clips_the_copies_gradients():
    _, _, copied, copied_opt, copies = _pair()
    ctx = TrainContext({"net": copied_opt}, Precision.create("bf16", CPU), device=CPU, grad_clip=1e-3)
    before = [p.detach().clone() for p in copied.parameters()]
    loss = _loss(copied, X)
    ctx.backward(loss * float("nan"))
    ctx.step("net")  # a NaN in the bf16 gradients: the update is skipped
    assert ctx.skipped["net"] == 1
    assert all(torch.equal(a, b) for a, b in zip(before, copied.parameters()))
    with torch.autocast("cpu", dtype=BF16):
        ctx.backward(copied(X).float().pow(2).mean() * 1e4)
    grads = i2i.optim.gradients(copied_opt)
    norm = torch.linalg.vector_norm(torch.stack([g.float().norm() for g in grads]))
    assert norm > 1.0
    ctx.step("net")
    assert ctx.skipped["net"] == 1
    assert all(copies.current(p).grad is None for p in copied.parameters() if p in copies)


def _pix2pix(tmp_path, name: str, steps: int, resume: bool = False, **train) -> Trainer:
    overrides = {
        "data.root": str(make_paired(tmp_path / "data", n_train=4, n_test=2, size=32)),
        "data.image_size": 32,
        "data.load_size": 32,
        "data.num_workers": 0,
        "method.ngf": 8,
        "method.ndf": 8,
        "train.steps": steps,
        "train.batch_size": 2,
        "train.device": "cpu",
        "train.precision": "bf16",
        "train.eval_at_end": False,
        "train.sample_every": 100,
        "train.checkpoint_every": 2,
        # the split narrow convs reshape their weight before autocast casts it, so without copies
        # their two uses per step sum in fp32, not bf16 (i2i.nets.narrow_conv): another rounding
        "train.narrow_conv": False,
        **{f"train.{k}": v for k, v in train.items()},
    }
    config = i2i.load_config(method="pix2pix", overrides=overrides)
    return Trainer(config, out_dir=tmp_path / name, resume=resume, progress=False)


def test_a_bf16_cpu_run_trains_with_copies_like_one_without_and_resumes(tmp_path):
    with_copies = _pix2pix(tmp_path, "copies", 4)
    with_copies.fit()
    assert with_copies.weight_copies is not None and len(with_copies.weight_copies) > 0
    without = _pix2pix(tmp_path, "casts", 4, weight_copies=False)
    without.fit()
    assert without.weight_copies is None
    a, b = read_checkpoint(tmp_path / "copies" / "last.pt"), read_checkpoint(tmp_path / "casts" / "last.pt")
    for key, value in a["model"].items():
        assert value.dtype == b["model"][key].dtype  # fp32 weights in the checkpoint either way
        torch.testing.assert_close(value, b["model"][key], rtol=1e-4, atol=1e-5)
    # stopped at step 2 and resumed, with and without copies: the copies follow the loaded weights
    resumed = {}
    for name, copies_on in (("resumed_copies", True), ("resumed_casts", False)):
        _pix2pix(tmp_path, name, 2, weight_copies=copies_on).fit()
        _pix2pix(tmp_path, name, 4, resume=True, weight_copies=copies_on).fit()
        resumed[name] = read_checkpoint(tmp_path / name / "last.pt")["model"]
        assert resumed[name].keys() == a["model"].keys()
    for key, value in resumed["resumed_casts"].items():
        torch.testing.assert_close(resumed["resumed_copies"][key], value, rtol=1e-4, atol=1e-5)


def test_fp32_runs_keep_their_weights_and_compiled_or_distributed_ones_plain_autocast(tmp_path):
    fp32 = _pix2pix(tmp_path, "fp32", 1, precision="fp32")
    fp32.fit()
    assert fp32.weight_copies is None
    net = _net()
    for kwargs in ({"compiled": True}, {"world_size": 2}):
        opt = i2i.adam(net.parameters())
        assert weight_copies.use_weight_copies(net, {"n": opt}, BF16, CPU, **kwargs) is None
        assert opt.weight_copies is None


def test_without_a_working_compiler_the_run_keeps_plain_autocast(monkeypatch):
    def no_compiler(*args):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(weight_copies, "_update", no_compiler)
    net = _net()
    opt = i2i.adam(net.parameters())
    assert weight_copies.use_weight_copies(net, {"n": opt}, BF16, CPU) is None
    assert opt.weight_copies is None
    with torch.autocast("cpu", dtype=BF16):
        net(X).float().mean().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in net.parameters())


def test_under_a_dispatch_mode_the_update_runs_eagerly_and_exactly():
    plain, plain_opt, copied, copied_opt, _ = _pair()
    for net, opt in ((plain, plain_opt), (copied, copied_opt)):
        _loss(net, X).backward()
        with FlopCounterMode(display=False):  # as benchmarks/run.py counts a step's FLOPs
            opt.step()
    for a, b in zip(plain.parameters(), copied.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
