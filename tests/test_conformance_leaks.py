"""The conformance suite catches gradients that leak between players, in both step orders, and
accepts the documented way to change parameters right after an update (a step post-hook)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
import dummy_plugin
from train_support import dummy_config, make_paired

import i2i
from i2i import MethodSpec, hookimpl
from i2i.plugins.host import PluginHost
from i2i.testing import ConformanceError, MethodCase
from i2i.testing.methods import check_train_steps
from i2i.train.trainer import Trainer


def _plugin(cls: type) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        i2i_register_methods=hookimpl(
            lambda: [MethodSpec(name="m", config=dummy_plugin.DummyConfig, factory=cls, data_kind=i2i.PAIRED)]
        )
    )


def _case(cls: type) -> MethodCase:
    return MethodCase.from_registry(
        "m", host=PluginHost(autoload=False, plugins=[("m", _plugin(cls))]), learn_key="G/loss"
    )


class _Players(dummy_plugin.Dummy):
    """G and D steps as small methods, so subclasses pick the order and what they freeze."""

    freeze_d = True

    def g_step(self, batch, ctx):
        fake = self.G(batch.a)
        if self.freeze_d:
            i2i.set_requires_grad(self.D, False)
        pred = self.D(torch.cat([batch.a, fake], 1))
        loss = F.mse_loss(pred, torch.ones_like(pred)) + F.l1_loss(fake, batch.b)
        ctx.backward(loss)
        ctx.step("G")
        i2i.set_requires_grad(self.D, True)
        return fake, loss

    def d_step(self, batch, ctx, fake):
        real = self.D(torch.cat([batch.a, batch.b], 1))
        fake_pred = self.D(torch.cat([batch.a, fake.detach()], 1))
        loss = F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(fake_pred, torch.zeros_like(fake_pred))
        ctx.backward(loss)
        ctx.step("D")
        return loss


class GThenD(_Players):
    def train_step(self, batch, ctx):
        fake, loss_g = self.g_step(batch, ctx)
        loss_d = self.d_step(batch, ctx, fake)
        return {"G/loss": loss_g.detach(), "D/loss": loss_d.detach()}


class DThenG(_Players):
    def train_step(self, batch, ctx):
        loss_d = self.d_step(batch, ctx, self.G(batch.a))
        _, loss_g = self.g_step(batch, ctx)
        return {"G/loss": loss_g.detach(), "D/loss": loss_d.detach()}


class LeakyGThenD(GThenD):
    freeze_d = False  # G's loss reaches D and is added to D's update in the same step


class LeakyDThenG(DThenG):
    freeze_d = False  # G's loss stays on D and is added to D's update in the next step


class ZeroesInstead(LeakyGThenD):
    """Not freezing D is fine when its gradients are dropped before its own backward."""

    def d_step(self, batch, ctx, fake):
        ctx.zero_grad("D")
        return super().d_step(batch, ctx, fake)


@pytest.mark.parametrize("cls", [GThenD, DThenG, ZeroesInstead], ids=lambda c: c.__name__)
def test_correct_players_pass(cls: type) -> None:
    check_train_steps(_case(cls))


@pytest.mark.parametrize("cls", [LeakyGThenD, LeakyDThenG], ids=lambda c: c.__name__)
def test_a_leak_between_players_is_caught_in_both_orders(cls: type) -> None:
    with pytest.raises(ConformanceError) as info:
        check_train_steps(_case(cls))
    text = str(info.value)
    assert "gradient leak between players" in text or "gradients left on D." in text
    assert "D.weight" in text and "set_requires_grad" in text


CLIP = 0.01


class WGANClipping(GThenD):
    """The supported way to change parameters right after an update: a step post-hook on the
    optimizer, which runs inside ctx.step (and only when the update is not skipped)."""

    def configure_optimizers(self):
        opts = super().configure_optimizers()

        def clip(_optimizer, _args, _kwargs):
            with torch.no_grad():
                for p in self.D.parameters():
                    p.clamp_(-CLIP, CLIP)

        opts["D"].register_step_post_hook(clip)
        return opts


def test_weight_clipping_in_a_step_post_hook_passes_and_applies(tmp_path: Path) -> None:
    check_train_steps(_case(WGANClipping))
    host = PluginHost(autoload=False, plugins=[("m", _plugin(WGANClipping)), ("dummy", dummy_plugin)])
    cfg = dummy_config(host, make_paired(tmp_path / "data"), steps=3, eval_at_end=False)
    cfg = i2i.RunConfig(method_name="m", method=cfg.method, data=cfg.data, train=cfg.train)
    trainer = Trainer(cfg, out_dir=tmp_path / "run", host=host, progress=False)
    trainer.fit()
    weights = torch.cat([p.detach().flatten() for p in trainer.method.D.parameters()])
    assert weights.abs().max() <= CLIP and weights.abs().max() == pytest.approx(CLIP)  # clipped, and it bites
