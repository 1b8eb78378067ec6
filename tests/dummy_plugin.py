"""A tiny paired method registered like any plugin; the core's tests train it.

Register it with ``PluginHost(plugins=[("dummy", tests.dummy_plugin)])`` in-process, or
``I2I_PLUGINS=dummy_plugin`` (with ``tests/`` on ``PYTHONPATH``) in a subprocess.
"""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F
from torch import nn

import i2i
from i2i import DataInfo, Method, MethodSpec, hookimpl


@attrs.frozen
class DummyConfig:
    width: int = 4
    lr: float = 1e-3
    lambda_l1: float = 10.0


class Dummy(Method):
    """G: two convs; D: one conv. Enough to exercise every part of the trainer."""

    data_kind = i2i.PAIRED
    generator_names = ("G",)

    def __init__(self, config: DummyConfig, data_info: DataInfo) -> None:
        super().__init__(config, data_info)
        w = config.width
        self.G = nn.Sequential(
            nn.Conv2d(data_info.channels_a, w, 3, padding=1),
            nn.InstanceNorm2d(w),
            nn.ReLU(),
            nn.Conv2d(w, data_info.channels_b, 3, padding=1),
            nn.Tanh(),
        )
        self.D = nn.Conv2d(data_info.channels_a + data_info.channels_b, 1, 4, stride=2, padding=1)

    def configure_optimizers(self):
        return {
            "G": torch.optim.Adam(self.G.parameters(), lr=self.config.lr, betas=(0.5, 0.999)),
            "D": torch.optim.Adam(self.D.parameters(), lr=self.config.lr, betas=(0.5, 0.999)),
        }

    def train_step(self, batch, ctx):
        fake = self.G(batch.a)
        i2i.set_requires_grad(self.D, False)
        pred = self.D(torch.cat([batch.a, fake], 1))
        loss_g = F.mse_loss(pred, torch.ones_like(pred)) + self.config.lambda_l1 * F.l1_loss(fake, batch.b)
        ctx.backward(loss_g)
        ctx.step("G")
        i2i.set_requires_grad(self.D, True)
        real = self.D(torch.cat([batch.a, batch.b], 1))
        fake_pred = self.D(torch.cat([batch.a, fake.detach()], 1))
        loss_d = 0.5 * (F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(fake_pred, torch.zeros_like(fake_pred)))
        ctx.backward(loss_d)
        ctx.step("D")
        return {"G/loss": loss_g.detach(), "D/loss": loss_d.detach()}

    def translate(self, x, **options):
        return self.G(x)


@hookimpl
def i2i_register_methods():
    yield MethodSpec(
        name="dummy",
        config=DummyConfig,
        factory=Dummy,
        data_kind=i2i.PAIRED,
        description="tiny paired method for i2i's own tests",
        defaults={"train.batch_size": 2, "data.image_size": 32, "data.load_size": 36},
        demo_defaults={"train.steps": 4},
    )
