"""GAN objectives, gradient penalty and L1 terms."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from i2i.errors import UsageError
from i2i.nets.losses import GANLoss, GradientPenalty, WeightedL1, gan_loss, gradient_penalty
from i2i.plugins.host import PluginHost

PRED = torch.tensor([[-2.0, 0.5], [1.5, 3.0]])


def test_vanilla_and_lsgan_match_torch():
    assert torch.allclose(
        gan_loss(PRED, True, "vanilla"), F.binary_cross_entropy_with_logits(PRED, torch.ones_like(PRED))
    )
    assert torch.allclose(
        gan_loss(PRED, False, "vanilla"), F.binary_cross_entropy_with_logits(PRED, torch.zeros_like(PRED))
    )
    assert torch.allclose(gan_loss(PRED, True, "lsgan"), ((PRED - 1) ** 2).mean())
    assert torch.allclose(gan_loss(PRED, False, "lsgan"), (PRED**2).mean())
    assert torch.allclose(gan_loss(PRED, True, "lsgan", real_label=0.9), ((PRED - 0.9) ** 2).mean())


def test_wgangp_and_hinge():
    assert gan_loss(PRED, True, "wgangp").item() == pytest.approx(-0.75)
    assert gan_loss(PRED, False, "wgangp").item() == pytest.approx(0.75)
    # D: mean(relu(1 - x)) on real = (3 + 0.5 + 0 + 0) / 4 ; mean(relu(1 + x)) on fake = (0 + 1.5 + 2.5 + 4) / 4
    assert gan_loss(PRED, True, "hinge").item() == pytest.approx(0.875)
    assert gan_loss(PRED, False, "hinge").item() == pytest.approx(2.0)
    # G: -mean(D(fake)), no hinge
    assert gan_loss(PRED, True, "hinge", for_discriminator=False).item() == pytest.approx(-0.75)


def test_list_predictions_are_averaged_and_fp32():
    a, b = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 2, 2)
    for mode in ("vanilla", "lsgan", "wgangp", "hinge"):
        expected = (gan_loss(a, True, mode) + gan_loss(b, True, mode)) / 2
        assert torch.allclose(gan_loss([a, b], True, mode), expected)
    out = gan_loss(PRED.bfloat16(), True, "lsgan")
    assert out.dtype == torch.float32 and out.dim() == 0


def test_gan_loss_module_and_unknown_mode():
    m = GANLoss("hinge")
    assert torch.equal(m(PRED, False), gan_loss(PRED, False, "hinge"))
    assert torch.equal(m(PRED, True, for_discriminator=False), gan_loss(PRED, True, "hinge", False))
    with pytest.raises(UsageError, match="gan_mode: unknown GAN objective 'wgan'"):
        GANLoss("wgan")
    with pytest.raises(UsageError, match="gan_mode"):
        gan_loss(PRED, True, "bce")


class Linear(nn.Module):
    """D(x) = <w, x>: its input gradient is w everywhere, so the penalty is known exactly."""

    def __init__(self, numel: int, tuple_output: bool = False) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(numel))
        self.tuple_output = tuple_output

    def forward(self, x):
        out = x.flatten(1) @ self.w
        return (out, torch.zeros(x.shape[0], 3)) if self.tuple_output else out


@pytest.mark.parametrize("tuple_output", [False, True])
def test_gradient_penalty_exact(tuple_output):
    torch.manual_seed(0)
    D = Linear(3 * 4 * 4, tuple_output)
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    gp = gradient_penalty(D, real, fake, lambda_gp=10.0)
    expected = 10.0 * (D.w.norm() - 1) ** 2
    assert torch.allclose(gp, expected, rtol=1e-5)
    gp.backward()  # create_graph: the penalty trains D
    assert D.w.grad is not None and D.w.grad.abs().sum() > 0


def test_gradient_penalty_is_fp32_under_bf16_autocast():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Conv2d(3, 8, 3), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 3))
    real, fake = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    torch.manual_seed(1)
    plain = gradient_penalty(D, real, fake)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = gradient_penalty(D, real.bfloat16(), fake.bfloat16())
    assert auto.dtype == torch.float32
    # identical up to the bf16 rounding of the inputs themselves
    torch.manual_seed(1)
    ref = gradient_penalty(D, real.bfloat16().float(), fake.bfloat16().float())
    assert torch.allclose(auto, ref, rtol=1e-5) and torch.allclose(auto, plain, rtol=0.05)
    torch.manual_seed(2)
    module_gp = GradientPenalty(lambda_gp=1.0)(D, real, fake)
    torch.manual_seed(2)
    assert torch.allclose(module_gp * 10, gradient_penalty(D, real, fake), rtol=1e-5)


def test_multiscale_gradient_penalty_uses_all_outputs():
    D = Linear(12)
    both = lambda x: [D(x), D(x)]
    gp = gradient_penalty(both, torch.randn(2, 3, 2, 2), torch.randn(2, 3, 2, 2), lambda_gp=1.0)
    assert torch.allclose(gp, (2 * D.w.norm() - 1) ** 2, rtol=1e-5)


def test_weighted_l1_and_registered_losses():
    out, target = torch.zeros(2, 3), torch.ones(2, 3)
    assert WeightedL1(10.0)(out, target).item() == pytest.approx(10.0)
    registry = PluginHost(autoload=False).registry
    assert set(registry.names("loss")) >= {
        "vanilla",
        "lsgan",
        "wgangp",
        "hinge",
        "gradient_penalty",
        "l1",
        "cycle",
        "identity",
    }
    for name in ("vanilla", "lsgan", "wgangp", "hinge"):
        spec = registry.get("loss", name)
        assert spec.description
        assert torch.equal(spec.create()(PRED, True), gan_loss(PRED, True, name))
    for name in ("l1", "cycle", "identity"):
        assert registry.get("loss", name).create(weight=2.0)(out, target).item() == pytest.approx(2.0)


def test_gradient_penalty_through_instance_norm_discriminator_under_autocast():
    """Double backward through i2i's instance norm: the penalty must take the fp32 path."""
    from i2i.nets.patchgan import NLayerDiscriminator

    torch.manual_seed(0)
    D = NLayerDiscriminator(ndf=4, n_layers=2, norm="instance").to(memory_format=torch.channels_last)
    real = torch.randn(2, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    fake = torch.randn(2, 3, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gp = gradient_penalty(D, real, fake)
        loss = gan_loss(D(real), True, "wgangp") + gan_loss(D(fake), False, "wgangp") + gp
    loss.backward()
    assert gp.dtype == torch.float32 and torch.isfinite(gp)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in D.parameters())
