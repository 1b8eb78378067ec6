"""The reference code's network names (``--netD basic`` / ``n_layers``) build the same networks."""

from __future__ import annotations

import i2i
from i2i.nets.patchgan import NLayerDiscriminator


def _shapes(net):
    return [tuple(p.shape) for p in net.parameters()]


def test_basic_is_the_70x70_patchgan_whatever_n_layers_says():
    basic = i2i.create_discriminator("basic", input_nc=6, ndf=8, n_layers=5, norm="batch")
    assert isinstance(basic, NLayerDiscriminator)
    assert _shapes(basic) == _shapes(NLayerDiscriminator(6, 8, n_layers=3, norm="batch"))


def test_n_layers_is_the_patchgan_with_n_layers():
    net = i2i.create_discriminator("n_layers", input_nc=3, ndf=8, n_layers=2, norm="instance")
    assert _shapes(net) == _shapes(NLayerDiscriminator(3, 8, n_layers=2, norm="instance"))


def test_pix2pix_and_cyclegan_accept_the_reference_names(tmp_path):
    for method in ("pix2pix", "cyclegan"):
        for netd in ("basic", "n_layers"):
            m = i2i.create_method(method, netD=netd, netG="unet_32", ngf=8, ndf=8)
            assert isinstance(m.D if method == "pix2pix" else m.D_A, NLayerDiscriminator)
