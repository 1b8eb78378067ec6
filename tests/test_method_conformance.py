"""The method conformance suite over every installed method, the dummy method, and broken
methods it must reject.

Every method a fresh default host finds (built-ins and any installed third-party plugin) runs
every check with its ``MethodSpec.test_overrides`` and a generic dummy batch of its data kind,
so a broken plugin fails here, not in a user's run.
"""

from __future__ import annotations

import os
import types
from typing import Any

import dummy_plugin
import pytest
import torch

import i2i
from i2i import MethodSpec, PluginHost, hookimpl
from i2i.testing import (
    CHECKS,
    ConformanceError,
    MethodCase,
    MethodConformance,
    check_builds,
    check_checkpoint_round_trip,
    check_learns,
    check_seed_determinism,
    check_train_steps,
    check_translate_shapes,
    dummy_batch,
    odd_sizes,
    pick_learn_key,
)

torch.set_num_threads(1)


def _installed_methods() -> list[str]:
    # collection-time listing: a fresh host, as a user's `i2i list methods` would see it
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return i2i.list_methods(host=PluginHost())


@pytest.fixture(scope="module")
def installed_host() -> PluginHost:
    return PluginHost()


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("method", _installed_methods())
def test_installed_method(method: str, check: str, installed_host: PluginHost) -> None:
    CHECKS[check](MethodCase.from_registry(method, host=installed_host))


def test_every_builtin_method_is_checked() -> None:
    assert {"pix2pix", "cyclegan", "augcyclegan", "stargan"} <= set(_installed_methods())


# -- the suite inherited by a plugin's own tests ----------------------------------------------------
class TestDummyConformance(MethodConformance):
    """How a plugin author uses the suite: a name, a host that has the plugin, a learn key."""

    method_name = "dummy"
    overrides = {"width": 4}
    learn_key = "G/loss"

    def make_host(self) -> PluginHost:
        return PluginHost(autoload=False, plugins=[("dummy", dummy_plugin)])


# -- the suite rejects broken methods ---------------------------------------------------------------
def _case(cls: type, *, learn_key: str | None = "G/loss", **overrides: Any) -> MethodCase:
    """A case for a Dummy subclass registered under the name ``broken``."""
    plugin = types.SimpleNamespace(
        i2i_register_methods=hookimpl(
            lambda: [MethodSpec(name="broken", config=dummy_plugin.DummyConfig, factory=cls, data_kind=i2i.PAIRED)]
        )
    )
    host = PluginHost(autoload=False, plugins=[("broken", plugin)])
    return MethodCase.from_registry("broken", host=host, overrides=overrides, learn_key=learn_key)


def test_the_dummy_case_passes_all_checks() -> None:
    case = _case(dummy_plugin.Dummy)
    for check in CHECKS.values():
        check(case)


class GraphLoss(dummy_plugin.Dummy):
    def train_step(self, batch, ctx):
        out = super().train_step(batch, ctx)
        out["G/l1"] = (self.G(batch.a) - batch.b).abs().mean()  # not detached
        return out


class ChangingKeys(dummy_plugin.Dummy):
    def train_step(self, batch, ctx):
        out = super().train_step(batch, ctx)
        if ctx.global_step % 2:
            out["extra"] = out["G/loss"]
        return out


class WeightClipping(dummy_plugin.Dummy):
    def train_step(self, batch, ctx):
        out = super().train_step(batch, ctx)
        with torch.no_grad():  # edits the trainer cannot see (and DDP ranks would not agree on)
            self.D.weight.mul_(0.5)
        return out


class CrossStep(dummy_plugin.Dummy):
    def configure_optimizers(self):
        opts = super().configure_optimizers()
        # an "EMA" hook on G's optimizer that wrongly also moves D
        opts["G"].register_step_post_hook(lambda *_: self.D.bias.data.add_(1.0))
        return opts


class UnusedBranch(dummy_plugin.Dummy):
    def __init__(self, config, data_info):
        super().__init__(config, data_info)
        self.G_extra = torch.nn.Conv2d(3, 3, 1)  # in G's optimizer, never used in the loss

    def configure_optimizers(self):
        opts = super().configure_optimizers()
        opts["G"].add_param_group({"params": self.G_extra.parameters()})
        return opts


class DeclaredUnusedBranch(UnusedBranch):
    unused_parameters = ("G_extra",)


class NeverStepsD(dummy_plugin.Dummy):
    def train_step(self, batch, ctx):
        fake = self.G(batch.a)
        loss = (fake - batch.b).abs().mean()
        ctx.backward(loss)
        ctx.step("G")
        return {"G/l1": loss.detach()}


class PlainBackward(dummy_plugin.Dummy):
    def train_step(self, batch, ctx):
        fake = self.G(batch.a)
        loss = (fake - batch.b).abs().mean() + 0 * self.D(torch.cat([batch.a, fake], 1)).mean()
        loss.backward()  # bypasses the context
        ctx.step("G")
        ctx.step("D")
        return {"G/loss": loss.detach()}


class Frozen(dummy_plugin.Dummy):
    def configure_optimizers(self):
        return {name: torch.optim.SGD(net.parameters(), lr=0.0) for name, net in (("G", self.G), ("D", self.D))}


class UnseededInit(dummy_plugin.Dummy):
    def __init__(self, config, data_info):
        super().__init__(config, data_info)
        gen = torch.Generator().manual_seed(int.from_bytes(os.urandom(4), "little"))
        with torch.no_grad():
            self.G[0].weight.copy_(torch.randn(self.G[0].weight.shape, generator=gen) * 0.02)


class StateOutsideStateDict(dummy_plugin.Dummy):
    def __init__(self, config, data_info):
        super().__init__(config, data_info)
        self.offset = torch.randn(1)  # a plain attribute: not saved in checkpoints

    def translate(self, x, **options):
        return torch.tanh(self.G(x) + self.offset)


class Cropping(dummy_plugin.Dummy):
    def translate(self, x, **options):
        return self.G(x)[..., 1:-1, 1:-1]


class OutOfRange(dummy_plugin.Dummy):
    def translate(self, x, **options):
        return self.G(x) * 3 + 2


@pytest.mark.parametrize(
    ("cls", "check", "message"),
    [
        (GraphLoss, check_train_steps, "still holds its graph"),
        (ChangingKeys, check_train_steps, "keys change between steps"),
        (WeightClipping, check_train_steps, "changed outside any ctx.step"),
        (CrossStep, check_train_steps, "changed parameters of other optimizers"),
        (UnusedBranch, check_train_steps, "no gradient for G_extra.bias, G_extra.weight"),
        (NeverStepsD, check_train_steps, "['D'] were never stepped"),
        (PlainBackward, check_train_steps, "with no ctx.backward before it"),
        (Frozen, check_learns, "did not fall"),
        (UnseededInit, check_seed_determinism, "two builds with seed 0 differ in G.0.weight"),
        (StateOutsideStateDict, check_checkpoint_round_trip, "translations differ"),
        (Cropping, check_translate_shapes, "expected (2, 3, 24, 40)"),
        (OutOfRange, check_translate_shapes, "in [-1, 1]"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_broken_methods_are_rejected(cls: type, check: Any, message: str) -> None:
    with pytest.raises(ConformanceError) as info:
        check(_case(cls, learn_key=None if cls is NeverStepsD else "G/loss"))
    assert message in str(info.value)


def test_declared_unused_parameters_are_allowed() -> None:
    check_train_steps(_case(DeclaredUnusedBranch))


def test_optimizers_must_be_disjoint() -> None:
    class Shared(dummy_plugin.Dummy):
        def configure_optimizers(self):
            return {"G": torch.optim.Adam(self.parameters()), "D": torch.optim.Adam(self.D.parameters())}

    with pytest.raises(ConformanceError, match="is in optimizers 'G' and 'D'"):
        check_builds(_case(Shared))


# -- helpers ----------------------------------------------------------------------------------------
def test_dummy_batches_match_the_data_kind() -> None:
    paired = dummy_batch(i2i.DataInfo(kind=i2i.PAIRED), batch_size=3, size=(16, 24))
    assert paired.a.shape == (3, 3, 16, 24) and torch.equal(paired.a, paired.b)
    assert paired.a.min() >= -1 and paired.a.max() <= 1 and paired.a.std() > 0.1
    labelled = dummy_batch(i2i.DataInfo(kind=i2i.LABELLED, domains=("x", "y")), batch_size=3)
    assert labelled.b is None and labelled.labels.tolist() == [[1, 0], [0, 1], [1, 0]]
    multi = dummy_batch(i2i.DataInfo(kind=i2i.LABELLED, domains=("x", "y", "z"), multi_label=True), batch_size=4)
    assert set(multi.labels.unique().tolist()) <= {0.0, 1.0}
    gray = dummy_batch(i2i.DataInfo(kind=i2i.UNPAIRED, channels_a=1, channels_b=3))
    assert gray.a.shape[1] == 1 and gray.b.shape[1] == 3


def test_odd_sizes_are_multiples_but_not_powers_of_two() -> None:
    for m in (1, 4, 8, 16, 32, 256):
        for h, w in odd_sizes(m):
            assert h % m == 0 and w % m == 0 and h != w
            assert h & (h - 1) and w & (w - 1)


def test_learn_key_is_a_reconstruction_term_unless_named() -> None:
    assert pick_learn_key(["D/A", "G/gan_A", "G/cycle_A", "G/idt_A"]) == "G/cycle_A"
    assert pick_learn_key(["G/gan", "D/loss"], "G/gan") == "G/gan"
    with pytest.raises(ConformanceError, match="learn_key"):
        pick_learn_key(["G/gan", "D/loss"])
