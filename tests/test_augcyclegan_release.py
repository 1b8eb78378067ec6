"""``method.architecture = "release"``: the authors' networks (aalmah/augmented_cyclegan,
``edges2shoes_exp/networks.py`` + ``modules.py``), with parameter counts derived here from the
release's layer lists at its defaults (ngf = nef = 32, ndf = 64, nlatent = 16, 3 blocks)."""

from __future__ import annotations

import pytest

import i2i
from i2i import Batch
from i2i.testing.methods import (
    MethodCase,
    check_checkpoint_round_trip,
    check_train_steps,
    smooth_images,
)


def conv(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def cin(c: int, z: int = 16) -> int:  # CondInstanceNorm: shift_conv and scale_conv, 1x1 with bias
    return 2 * conv(z, c, 1)


def inorm(c: int) -> int:  # modules.InstanceNorm: scale and shift
    return 2 * c


NGF, NEF, NDF = 32, 32, 64
#: networks.CINResnetGenerator(16, 3, 3, ngf=32): 7x7, 3x3, 3x3/2 (each + CIN), 3 CINResnetBlocks
#: (conv + CIN, conv + InstanceNorm), ConvTranspose 3x3/2 + CIN, 3x3 + CIN, 7x7 head.
RELEASE_G_AB = (
    conv(3, NGF, 7)
    + cin(NGF)
    + conv(NGF, 2 * NGF, 3)
    + cin(2 * NGF)
    + conv(2 * NGF, 4 * NGF, 3)
    + cin(4 * NGF)
    + 3 * (2 * conv(4 * NGF, 4 * NGF, 3) + cin(4 * NGF) + inorm(4 * NGF))
    + conv(4 * NGF, 2 * NGF, 3)
    + cin(2 * NGF)
    + conv(2 * NGF, NGF, 3)
    + cin(NGF)
    + conv(NGF, 3, 7)
)
#: networks.ResnetGenerator(3, 3, 32): the same with InstanceNorm; ResnetBlock = conv, ReLU, conv, norm.
RELEASE_G_BA = (
    conv(3, NGF, 7)
    + inorm(NGF)
    + conv(NGF, 2 * NGF, 3)
    + inorm(2 * NGF)
    + conv(2 * NGF, 4 * NGF, 3)
    + inorm(4 * NGF)
    + 3 * (2 * conv(4 * NGF, 4 * NGF, 3) + inorm(4 * NGF))
    + conv(4 * NGF, 2 * NGF, 3)
    + inorm(2 * NGF)
    + conv(2 * NGF, NGF, 3)
    + inorm(NGF)
    + conv(NGF, 3, 7)
)
#: networks.LatentEncoder(16, 6, 32, BatchNorm2d): 3x3/2 with bias, three 3x3/2 and a 4x4 valid
#: conv without bias (each + BN), and the 1x1 mu and logvar heads.
RELEASE_E_B = (
    conv(6, NEF, 3)
    + conv(NEF, 2 * NEF, 3, False)
    + 2 * 2 * NEF
    + conv(2 * NEF, 4 * NEF, 3, False)
    + 2 * 4 * NEF
    + conv(4 * NEF, 8 * NEF, 3, False)
    + 2 * 8 * NEF
    + conv(8 * NEF, 8 * NEF, 4, False)
    + 2 * 8 * NEF
    + 2 * conv(8 * NEF, 16, 1)
)
#: networks.Discriminator_edges(3, ndf=32): four 3x3/2 convs (norms on the last three), 4x4 valid conv.
RELEASE_D_A = (
    conv(3, 32, 3)
    + conv(32, 64, 3)
    + inorm(64)
    + conv(64, 128, 3)
    + inorm(128)
    + conv(128, 128, 3)
    + inorm(128)
    + conv(128, 1, 4)
)
#: networks.Discriminator(3, 64): 4x4 convs 64/2, 128/2, 256/1, 256/1 (norms after the last three), 1.
RELEASE_D_B = (
    conv(3, NDF, 4)
    + conv(NDF, 2 * NDF, 4)
    + inorm(2 * NDF)
    + conv(2 * NDF, 4 * NDF, 4)
    + inorm(4 * NDF)
    + conv(4 * NDF, 4 * NDF, 4)
    + inorm(4 * NDF)
    + conv(4 * NDF, 1, 4)
)
#: networks.DiscriminatorLatent(16, 64): three Linear + BatchNorm1d hidden layers and a Linear output.
RELEASE_D_Z = (16 * 64 + 64) + 2 * 64 + 2 * ((64 * 64 + 64) + 2 * 64) + (64 + 1)


def _count(net) -> int:
    return sum(p.numel() for p in net.parameters())


def test_derived_counts_are_the_release_figures():
    assert (RELEASE_G_AB, RELEASE_G_BA, RELEASE_E_B, RELEASE_D_A, RELEASE_D_B, RELEASE_D_Z) == (
        1_104_259,
        1_080_963,
        1_447_040,
        243_521,
        1_713_089,
        9_857,
    )


def test_release_architecture_has_the_release_parameter_counts():
    m = i2i.create_method(
        "augcyclegan", architecture="release", augment_a=False, stochastic_encoder=True, latent_gan=True
    )
    assert (_count(m.G_AB), _count(m.G_BA), _count(m.E_B), _count(m.D_A), _count(m.D_B)) == (
        RELEASE_G_AB,
        RELEASE_G_BA,
        RELEASE_E_B,
        RELEASE_D_A,
        RELEASE_D_B,
    )
    # the deterministic encoder (the release's default) omits the logvar head it would not train
    det = i2i.create_method("augcyclegan", architecture="release", augment_a=False)
    assert _count(det.E_B) == RELEASE_E_B - conv(8 * NEF, 16, 1) and _count(det.D_zB) == RELEASE_D_Z
    assert det.E_A is None and det.D_zA is None


def test_i2i_architecture_is_unchanged_by_default():
    m = i2i.create_method("augcyclegan")
    assert m.config.architecture == "i2i" and type(m.G_AB).__name__ == "LatentResnetGenerator"


TINY = {"architecture": "release", "ngf": 8, "nef": 8, "ndf": 8, "ndf_latent": 8, "nlatent": 4, "n_blocks": 1}


def _batch() -> Batch:
    return Batch(a=smooth_images(2, 3, 64, 64, seed=1), b=smooth_images(2, 3, 64, 64, seed=2))


@pytest.mark.parametrize("augment_a", [False, True])
def test_release_networks_train_and_round_trip(augment_a):
    case = MethodCase.from_registry("augcyclegan", overrides={**TINY, "augment_a": augment_a}, make_batch=_batch)
    history = check_train_steps(case, steps=1)
    assert "G/cycle_A" in history[0] and "D/A" in history[0]
    if not augment_a:  # the release's own (one-sided) model also survives a checkpoint
        check_checkpoint_round_trip(case)


def test_release_encoder_needs_64_px():
    m = i2i.create_method("augcyclegan", **TINY)
    x = smooth_images(1, 3, 32, 32)
    with pytest.raises(i2i.UsageError, match="64 px"):
        m.E_B(x, x)
