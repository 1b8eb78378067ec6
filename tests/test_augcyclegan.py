"""Augmented CycleGAN plugin: the shared method checks plus what is specific to a stochastic,
many-to-many method (latent codes, encoders, reference-based translation, one-sided mode).

Everything is tiny (ngf 8, nlatent 4, 32 px) so the file runs in well under a minute on 2 cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import i2i
from i2i import Batch, UsageError
from i2i.testing.methods import (
    MethodCase,
    MethodConformance,
    check_bf16_autocast,
    check_checkpoint_round_trip,
    check_train_steps,
    make_context,
    run_steps,
    smooth_images,
)

TINY = {"ngf": 8, "nef": 8, "ndf": 8, "ndf_latent": 8, "nlatent": 4, "n_blocks": 1}


class TestAugCycleGANConformance(MethodConformance):
    """Finite losses with stable keys, optimizer ownership, checkpoint round trip, seed
    determinism, translate shapes and a bf16 step - all through the trainer's step context."""

    method_name = "augcyclegan"


def build(seed: int = 0, **overrides) -> i2i.Method:
    torch.manual_seed(seed)
    return i2i.create_method("augcyclegan", **{**TINY, **overrides})


def unpaired_batch(n: int = 2, size: int = 32) -> Batch:
    return Batch(a=smooth_images(n, 3, size, size, seed=1), b=smooth_images(n, 3, size, size, seed=2))


def case(**overrides) -> MethodCase:
    return MethodCase.from_registry("augcyclegan", overrides={**TINY, **overrides}, make_batch=unpaired_batch)


# -- training ------------------------------------------------------------------------------------
def test_symmetric_step_logs_every_term_of_both_sides():
    history = check_train_steps(case(), steps=1)
    assert set(history[0]) == {
        "D/A",
        "D/B",
        "D/zA",
        "D/zB",
        "G/gan_A",
        "G/gan_B",
        "G/cycle_A",
        "G/cycle_B",
        "G/gan_zA",
        "G/gan_zB",
        "G/latent_zA",
        "G/latent_zB",
        "G/total",
    }
    total = sum(v for k, v in history[0].items() if k.startswith("G/") and k != "G/total")
    assert history[0]["G/total"] == pytest.approx(total, rel=1e-5)


def test_optimizers_split_generators_encoders_from_discriminators():
    method = build(lr=1e-3)
    opts = method.configure_optimizers()
    names = {id(p): n for n, p in method.named_parameters()}
    owned = {k: {names[id(p)].split(".")[0] for g in o.param_groups for p in g["params"]} for k, o in opts.items()}
    assert owned == {"G": {"G_AB", "G_BA", "E_A", "E_B"}, "D": {"D_A", "D_B", "D_zA", "D_zB"}}
    assert opts["D"].param_groups[0]["lr"] == pytest.approx(1e-3 / 5)  # the release's lr / 5
    assert opts["G"].param_groups[0]["betas"] == (0.5, 0.999)


def test_one_sided_mode_reproduces_the_release():
    """augment_a=False: no E_A / D_zA, G_BA is deterministic, only domain B has codes."""
    method = build(augment_a=False)
    assert method.E_A is None and method.D_zA is None and method.E_B is not None
    history = check_train_steps(case(augment_a=False), steps=1)
    assert "D/zA" not in history[0] and "G/latent_zA" not in history[0] and "G/latent_zB" in history[0]
    x = unpaired_batch().b
    method.eval()
    with torch.no_grad():
        variants = method.translate_variants(x, samples=3, direction="b2a")
        assert torch.equal(variants["s0"], variants["s2"])  # B -> A is one-to-one
        with pytest.raises(UsageError, match="augment_a"):
            method.translate(x, direction="b2a", z=torch.zeros(1, 4))


def test_augment_b_off_runs_too():
    history = check_train_steps(case(augment_b=False), steps=1)
    assert "D/zA" in history[0] and "D/zB" not in history[0]


def test_stochastic_encoder_uses_nll_and_kl_instead_of_latent_gan():
    history = check_train_steps(case(stochastic_encoder=True), steps=1)
    assert {"G/kl_zA", "G/kl_zB", "G/latent_zA", "G/latent_zB"} <= set(history[0])
    assert not any(k.startswith("D/z") or k.startswith("G/gan_z") for k in history[0])
    check_bf16_autocast(case(stochastic_encoder=True), steps=1)


def test_supervised_term_uses_only_rows_with_matching_names():
    method = build(supervised=True)
    batch = unpaired_batch(3)
    batch.names_a = ["001.png", "002.png", "003.png"]
    batch.names_b = ["001.jpg", "017.jpg", "003.jpg"]
    assert method.paired_rows(batch) == [0, 2]
    losses = run_steps(method, batch, 1, make_context(method))[0]
    assert losses["G/sup"] > 0
    batch.names_b = ["101.jpg", "102.jpg", "103.jpg"]
    assert run_steps(method, batch, 1, make_context(method))[0]["G/sup"] == 0.0


def test_batch_of_one_with_batch_norm_latent_discriminator_is_a_usage_error():
    method = build()
    with pytest.raises(UsageError, match="batch_size"):
        method.train_step(unpaired_batch(1), make_context(method))
    run_steps(build(norm_latent_d="none"), unpaired_batch(1), 1)


def test_checkpoint_round_trip_one_sided():
    check_checkpoint_round_trip(case(augment_a=False, stochastic_encoder=True))


# -- inference -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained():
    method = build()
    run_steps(method, unpaired_batch(), 2)
    return method.eval()


@torch.no_grad()
def test_variants_differ_across_codes_and_repeat_for_a_seed(trained):
    x = unpaired_batch().a
    rng = torch.get_rng_state()
    first = trained.translate_variants(x, samples=3, seed=7)
    again = trained.translate_variants(x, samples=3, seed=7)
    other = trained.translate_variants(x, samples=3, seed=8)
    assert torch.equal(torch.get_rng_state(), rng)  # a private generator, never the global RNG
    assert list(first) == ["s0", "s1", "s2"]
    for key in first:
        assert torch.equal(first[key], again[key])
        assert first[key].shape == x.shape and first[key].abs().max() <= 1
    assert (first["s0"] - first["s1"]).abs().mean() > 1e-4
    assert (first["s0"] - other["s0"]).abs().mean() > 1e-4
    assert torch.equal(first["s0"], trained.translate(x, seed=7))  # s0 is the plain translation
    assert set(trained.translate_variants(x, samples="2", direction="BtoA")) == {"s0", "s1"}


@torch.no_grad()
def test_explicit_codes_broadcast_and_control_the_output(trained):
    x = unpaired_batch().a
    z = torch.randn(1, 4)
    out = trained.translate(x, z=z)
    assert torch.equal(out, trained.G_AB(x, z.expand(2, 4)))
    assert not torch.equal(out, trained.translate(x, z=-z))
    with pytest.raises(UsageError, match="z: expected"):
        trained.translate(x, z=torch.zeros(3, 4))
    with pytest.raises(UsageError, match="direction"):
        trained.translate(x, direction="sideways")
    with pytest.raises(UsageError, match="unknown option"):
        trained.translate(x, temperature=2)


@torch.no_grad()
def test_reference_translation_infers_the_code_with_the_encoder(trained):
    batch = unpaired_batch()
    x, refs = batch.a, batch.b
    calls = []
    handle = trained.E_B.register_forward_hook(lambda module, args, out: calls.append(args))
    try:
        out = trained.translate(x, reference=refs[:1])
    finally:
        handle.remove()
    assert len(calls) == 1
    source, target = calls[0]
    assert torch.equal(target, refs[:1])  # E_B(G_BA(ref), ref): the reference's own code
    z = trained.E_B(trained.G_BA(refs[:1], torch.ones(1, 4)), refs[:1])
    assert torch.allclose(out, trained.G_AB(x, z.expand(2, 4)))
    per_row = trained.translate(x, reference=refs)
    assert not torch.equal(per_row[1], out[1])  # each row its own reference
    assert set(trained.translate_variants(x, samples=4, reference=refs)) == {""}
    with pytest.raises(UsageError, match="reference"):
        trained.translate(x, reference=refs[:1, :, :, :].expand(3, -1, -1, -1))


@torch.no_grad()
def test_sample_rows_and_export_inputs(trained):
    batch = unpaired_batch()
    rows = trained.sample(batch)
    assert list(rows) == ["input", "s0", "s1", "s2", "reconstruction", "input_b", "b2a", "b2a_reconstruction"]
    assert all(r.shape == batch.a.shape for r in rows.values())
    exports = trained.export_inputs(batch.a)
    assert set(exports) == set(trained.generator_names) == {"G_AB", "G_BA"}
    for module, inputs in exports.values():
        assert [r.name for r in inputs] == ["image", "z"]
        assert module(*(r.example for r in inputs)).shape == batch.a.shape
    assert {o.name for o in trained.translate_options} == {"direction", "samples", "seed", "reference", "z"}


def test_config_errors_are_usage_errors():
    with pytest.raises(UsageError, match="gan_mode"):
        build(gan_mode="wasserstein")
    with pytest.raises(UsageError, match="nlatent"):
        build(nlatent=0)


# -- end to end ----------------------------------------------------------------------------------
def test_cli_run_trains_two_steps_on_the_demo(tmp_path: Path):
    from i2i.cli.main import main

    out = tmp_path / "run"
    sets = [f"method.{k}={v}" for k, v in TINY.items()] + [
        "data.image_size=32",
        "data.load_size=32",
        "data.num_workers=0",
        "train.eval_at_end=false",
    ]
    args = [
        "run",
        "--method",
        "augcyclegan",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--out",
        str(out),
        "--precision",
        "fp32",
    ]
    with pytest.raises(SystemExit) as exc:
        main(args + [a for s in sets for a in ("--set", s)])
    assert exc.value.code == 0
    checkpoint = out / "last.pt"
    assert checkpoint.exists() and any((out / "samples").glob("*.png"))

    # i2i translate hands --samples/--seed/--reference to translate_variants
    images = tmp_path / "edges"
    images.mkdir()
    for i, value in enumerate((40, 200)):
        Image.fromarray(np.full((32, 32, 3), value, dtype=np.uint8)).save(images / f"e{i}.png")
    for extra, expected in (
        (["--samples", "2", "--seed", "3"], {"e0_s0", "e0_s1", "e1_s0", "e1_s1", "e0_grid", "e1_grid"}),
        (["--reference", str(images / "e1.png")], {"e0", "e1"}),
    ):
        target = tmp_path / f"out{len(extra)}"
        with pytest.raises(SystemExit) as exc:
            main(["translate", str(checkpoint), str(images), "--out", str(target), *extra])
        assert exc.value.code == 0
        assert {p.stem for p in target.glob("*.png")} == expected
