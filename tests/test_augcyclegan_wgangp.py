"""Augmented CycleGAN with ``gan_mode = "wgangp"`` applies the gradient penalty to its critics."""

from __future__ import annotations

import pytest
import torch

import i2i
from i2i import Batch
from i2i.testing.methods import MethodCase, check_train_steps, smooth_images

TINY = {"ngf": 8, "nef": 8, "ndf": 8, "ndf_latent": 8, "nlatent": 4, "n_blocks": 1}


def _batch() -> Batch:
    return Batch(a=smooth_images(2, 3, 32, 32, seed=1), b=smooth_images(2, 3, 32, 32, seed=2))


def _case(**overrides) -> MethodCase:
    return MethodCase.from_registry("augcyclegan", overrides={**TINY, **overrides}, make_batch=_batch)


def test_wgangp_adds_a_gradient_penalty_for_every_critic():
    history = check_train_steps(_case(gan_mode="wgangp", norm_latent_d="none"), steps=1)
    penalties = {k: v for k, v in history[0].items() if "/gp_" in k}
    assert set(penalties) == {"D/gp_A", "D/gp_B", "D/gp_zA", "D/gp_zB"}
    assert all(v > 0 for v in penalties.values())


def test_one_sided_wgangp_penalises_the_critics_it_has():
    history = check_train_steps(_case(gan_mode="wgangp", augment_a=False, norm_latent_d="none"), steps=1)
    assert {k for k in history[0] if "/gp_" in k} == {"D/gp_A", "D/gp_B", "D/gp_zB"}


def test_other_gan_modes_have_no_penalty():
    history = check_train_steps(_case(gan_mode="lsgan"), steps=1)
    assert not any("/gp_" in k for k in history[0])


def test_lambda_gp_scales_the_penalty():
    def first_gp(lam: float) -> float:
        torch.manual_seed(0)
        return check_train_steps(_case(gan_mode="wgangp", norm_latent_d="none", lambda_gp=lam), steps=1)[0]["D/gp_B"]

    assert first_gp(20.0) == pytest.approx(2 * first_gp(10.0), rel=1e-5)
    assert i2i.get_method("augcyclegan").config().lambda_gp == 10.0
