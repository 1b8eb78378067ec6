"""StarGAN v2 plugin: the reference's networks (keys, shapes, parameter counts), the training step
(losses, which optimizer steps what, the diversity schedule, in-batch references) and translation.

Tiny networks (8 channels, 32 px, 3 domains) except where the reference's 256 px networks are
checked, which are built on the meta device (no memory, no time).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from i2i_stargan_v2.config import StarGANv2Config
from i2i_stargan_v2.importer import IMPORTER
from i2i_stargan_v2.method import StarGANv2
from i2i_stargan_v2.references import derangement, pick_references

import i2i

sys.path.insert(0, str(Path(__file__).parent))
import stargan_v2_reference as ref

DOMAINS = ("cat", "dog", "wild")
TINY = dict(image_size=32, dim_in=8, max_conv_dim=16, hidden_dim=16, style_dim=8, latent_dim=4)


class RecordingContext:
    """A StepContext over plain optimizers that records the order of updates."""

    def __init__(self, optimizers: dict[str, torch.optim.Optimizer], step: int = 0) -> None:
        self.optimizers, self.stepped, self.global_step = optimizers, [], step
        self.device, self.world_size, self.rank = torch.device("cpu"), 1, 0

    @property
    def step(self) -> Any:
        ctx = self

        class Counter(int):
            def __call__(self, name: str) -> None:
                ctx.stepped.append(name)
                ctx.optimizers[name].step()
                ctx.optimizers[name].zero_grad(set_to_none=True)

        return Counter(self.global_step)

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def zero_grad(self, name: str) -> None:
        self.optimizers[name].zero_grad(set_to_none=True)

    def autocast(self, enabled: bool = True) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()


def make(**overrides: Any) -> StarGANv2:
    info = i2i.DataInfo(kind=i2i.LABELLED, domains=DOMAINS)
    method = i2i.create_method("stargan_v2", data_info=info, **{**TINY, **overrides})
    assert isinstance(method, StarGANv2)
    return method


def batch(n: int = 4, seed: int = 0, size: int = 32) -> i2i.Batch:
    g = torch.Generator().manual_seed(seed)
    labels = torch.eye(len(DOMAINS))[torch.arange(n) % len(DOMAINS)]
    return i2i.Batch(a=torch.rand(n, 3, size, size, generator=g) * 2 - 1, labels=labels)


def meta_reference_method(domains: int, w_hpf: float) -> StarGANv2:
    info = i2i.DataInfo(kind=i2i.LABELLED, domains=tuple(f"d{i}" for i in range(domains)))
    with torch.device("meta"):
        return StarGANv2(StarGANv2Config(w_hpf=w_hpf), info)


# -- the reference's networks ------------------------------------------------------------------------
@pytest.mark.parametrize(("domains", "w_hpf", "counts"), [(3, 0.0, ref.AFHQ_COUNTS), (2, 1.0, ref.CELEBA_HQ_COUNTS)])
def test_256px_networks_have_the_reference_keys_shapes_and_parameter_counts(
    domains: int, w_hpf: float, counts: dict
) -> None:
    method = meta_reference_method(domains, w_hpf)
    expected = {
        "G": ref.generator(w_hpf=w_hpf),
        "F": ref.mapping_network(num_domains=domains),
        "E": ref.style_encoder(num_domains=domains),
        "D": ref.discriminator(num_domains=domains),
    }
    levels = 5 if w_hpf else 4
    assert ref.hand_counts(levels, domains) == counts
    for (name, shapes), (ref_name, total) in zip(expected.items(), counts.items()):
        net = getattr(method, name)
        got = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        assert got == shapes, f"{name} differs from the reference {ref_name}"
        assert sum(p.numel() for p in net.parameters()) == total == ref.count(shapes)


def test_hand_written_key_lists_of_the_afhq_release() -> None:
    """A few keys written out literally (module indices as in the released files)."""
    method = meta_reference_method(3, 0.0)
    g, f, e, d = (set(getattr(method, n).state_dict()) for n in "GFED")
    assert {
        "from_rgb.weight",
        "encode.0.norm1.weight",
        "encode.2.conv1x1.weight",
        "encode.5.conv2.bias",
        "decode.0.norm1.fc.weight",
        "decode.5.conv1x1.weight",
        "to_rgb.0.weight",
        "to_rgb.2.bias",
    } <= g
    assert "encode.3.conv1x1.weight" not in g and "decode.2.conv1x1.weight" not in g  # 512 -> 512: no projection
    assert sorted(f) == sorted(
        [f"shared.{i}.{p}" for i in (0, 2, 4, 6) for p in ("weight", "bias")]
        + [f"unshared.{k}.{i}.{p}" for k in range(3) for i in (0, 2, 4, 6) for p in ("weight", "bias")]
    )
    assert {
        "shared.0.weight",
        "shared.3.conv1x1.weight",
        "shared.6.conv2.weight",
        "shared.8.weight",
        "unshared.2.bias",
    } <= e
    assert "shared.4.conv1x1.weight" not in e and max(int(k.split(".")[1]) for k in e if k.startswith("shared")) == 8
    assert {"main.0.weight", "main.8.weight", "main.10.weight", "main.10.bias"} <= d


def test_reference_shaped_256px_checkpoint_imports_with_the_architecture_read_off_it() -> None:
    for domains, w_hpf in ((3, 0.0), (2, 1.0)):
        shapes = {
            "generator": ref.generator(w_hpf=w_hpf),
            "mapping_network": ref.mapping_network(num_domains=domains),
            "style_encoder": ref.style_encoder(num_domains=domains),
        }
        flat = {f"{net}.{k}": torch.empty(s, device="meta") for net, sd in shapes.items() for k, s in sd.items()}
        assert IMPORTER.recognise(flat)
        converted = IMPORTER.convert(flat, None, "100000_nets_ema.ckpt")
        assert converted.kwargs["config"] == {
            "image_size": 256,
            "latent_dim": 16,
            "style_dim": 64,
            "hidden_dim": 512,
            "max_conv_dim": 512,
            "w_hpf": w_hpf,
        }
        plan = IMPORTER.build(i2i.ImportRequest(sources=("x",), generators=(converted,)))
        assert (
            plan.method == "stargan_v2"
            and plan.data_info.domains == ({3: ("cat", "dog", "wild"), 2: ("female", "male")}[domains])
        )
        method = meta_reference_method(domains, w_hpf)
        for name in ("G", "F", "E"):
            assert set(plan.generators[name]) == set(getattr(method, name).state_dict())
    bad = dict(flat)
    bad["generator.decode.0.conv1.weight"] = torch.empty(3, 3, 3, 3, device="meta")
    with pytest.raises(i2i.CheckpointError, match="decode.0.conv1.weight has shape"):
        IMPORTER.convert(bad, None, "bad.ckpt")
    del bad["style_encoder.unshared.0.weight"]
    with pytest.raises(i2i.CheckpointError):
        IMPORTER.convert(bad, None, "bad.ckpt")


# -- training ------------------------------------------------------------------------------------------
def test_one_step_updates_in_the_reference_order_and_each_optimizer_only_its_network() -> None:
    method = make()
    ctx = RecordingContext(method.configure_optimizers())
    before = {n: [p.detach().clone() for p in getattr(method, n).parameters()] for n in "GFED"}
    losses = method.train_step(batch(), ctx)
    assert ctx.stepped == ["D", "D", "G", "F", "E", "G"]
    assert set(losses) == {f"D/{k}_{p}" for k in ("latent", "ref") for p in ("real", "fake", "reg")} | {
        f"G/{k}_{p}" for k in ("latent", "ref") for p in ("adv", "sty", "ds", "cyc")
    } | {"G/lambda_ds"}
    assert all(torch.isfinite(v) and not v.requires_grad for v in losses.values())
    for name in "GFED":
        assert any(not torch.equal(b, p) for b, p in zip(before[name], getattr(method, name).parameters())), name
    assert all(p.requires_grad for p in method.parameters())  # frozen networks are unfrozen again


def test_optimizers_are_the_reference_adam_settings() -> None:
    opts = make().configure_optimizers()
    for name, lr in (("G", 1e-4), ("F", 1e-6), ("E", 1e-4), ("D", 1e-4)):
        group = opts[name].param_groups[0]
        assert (group["lr"], tuple(group["betas"]), group["weight_decay"]) == (lr, (0.0, 0.99), 1e-4)


def test_diversity_weight_decays_linearly_to_zero_over_ds_iter_from_the_global_step() -> None:
    method = make(ds_iter=10, lambda_ds=2.0)
    assert [method.config.lambda_ds_at(s) for s in (0, 5, 10, 20)] == [2.0, 1.0, 0.0, 0.0]
    for step, expected in ((0, 2.0), (5, 1.0), (12, 0.0)):
        ctx = RecordingContext(method.configure_optimizers(), step=step)
        assert float(method.train_step(batch(), ctx)["G/lambda_ds"]) == expected


def test_r1_is_half_the_mean_squared_input_gradient_norm() -> None:
    method = make()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    y = torch.tensor([0, 2])
    _, r1 = method._real_scores(x, y)
    xr = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(method.D(xr, y).sum(), xr)
    assert torch.allclose(r1, 0.5 * (grad**2).sum(dim=(1, 2, 3)).mean())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, r1_bf16 = method._real_scores(x, y)
    assert r1_bf16.dtype == torch.float32 and torch.allclose(r1_bf16, r1)


def test_references_are_other_images_and_the_second_one_shares_the_domain() -> None:
    torch.manual_seed(0)
    for n in (2, 5, 8):
        assert not (derangement(n, torch.device("cpu")) == torch.arange(n)).any()
        assert sorted(derangement(n, torch.device("cpu")).tolist()) == list(range(n))
    y = torch.tensor([0, 0, 1, 1, 1, 2, 0, 2])
    for _ in range(20):
        refs = pick_references(y)
        assert not (refs.ref == torch.arange(8)).any()
        assert torch.equal(y[refs.ref2], y[refs.ref]) and not (refs.ref2 == refs.ref).any()
    lonely = pick_references(torch.tensor([0, 1]))  # one image per domain: ref2 falls back to ref
    assert torch.equal(lonely.ref2, lonely.ref)


def test_bad_batches_and_configs_are_one_line_errors() -> None:
    method = make()
    ctx = RecordingContext(method.configure_optimizers())
    with pytest.raises(i2i.UsageError, match="labelled data"):
        method.train_step(i2i.Batch(a=torch.zeros(2, 3, 32, 32)), ctx)
    with pytest.raises(i2i.UsageError, match="method.image_size is 32"):
        method.train_step(batch(size=64), ctx)
    with pytest.raises(i2i.UsageError, match="power of two"):
        make(image_size=48)
    with pytest.raises(i2i.UsageError, match="multi-label"):
        i2i.create_method("stargan_v2", data_info=i2i.DataInfo(kind=i2i.LABELLED, domains=DOMAINS, multi_label=True))
    with pytest.raises(i2i.UsageError, match="wing/FAN"):
        make(w_hpf=1.0).configure_optimizers()


# -- translation ---------------------------------------------------------------------------------------
def test_translate_targets_samples_seeds_and_references() -> None:
    method = make().eval()
    x = torch.rand(2, 3, 24, 40) * 2 - 1  # not the training size: G is fully convolutional
    with torch.no_grad():
        out = method.translate_variants(x, target="all", samples=3, seed=7)
        assert list(out) == [f"{d}_s{k}" for d in DOMAINS for k in range(3)]
        assert all(v.shape == x.shape and v.abs().max() <= 1 for v in out.values())
        assert not torch.allclose(out["dog_s0"], out["dog_s1"])  # other codes, other styles
        assert torch.equal(
            out["dog_s0"], method.translate(x, target="dog", seed=7)
        )  # sample 0 is the plain translation
        assert torch.equal(method.translate(x, target="dog", seed=7), method.translate(x, target="dog", seed=7))
        assert list(method.translate_variants(x, target="wild", samples=2)) == ["s0", "s1"]
        assert list(method.translate_variants(x)) == list(DOMAINS)
        reference = torch.rand(1, 3, 50, 50) * 2 - 1
        styled = method.translate(x, target="cat", reference=reference)
        s = method.E(
            torch.nn.functional.interpolate(reference, size=(32, 32), mode="bilinear", antialias=True).expand(
                2, -1, -1, -1
            ),
            torch.zeros(2, dtype=torch.long),
        )
        assert torch.allclose(styled, method.G(x, s).clamp(-1, 1))
        z = torch.randn(1, 4)
        assert torch.equal(
            method.translate(x, target=1, z=z),
            method.G(x, method.F(z.expand(2, 4), torch.ones(2, dtype=torch.long))).clamp(-1, 1),
        )
    for options, message in (
        ({"target": "cow"}, "unknown domain 'cow'"),
        ({"target": "all", "reference": reference}, "one domain"),
        ({"reference": reference, "target": None}, "name the reference"),
        ({"samples": 0}, "at least 1"),
        ({"colour": 1}, "unknown translate option"),
    ):
        with pytest.raises(i2i.UsageError, match=message):
            method.translate_variants(x, **options)


def test_sample_rows_show_every_domain_twice_and_a_reference_row() -> None:
    method = make().eval()
    rows = method.sample(batch())
    assert list(rows) == ["input"] + [f"{d} z{k}" for d in DOMAINS for k in range(2)] + ["reference", "reference style"]


def test_paper_defaults_and_a_consistent_demo() -> None:
    cfg = i2i.default_config("stargan_v2")
    assert (cfg.train.steps, cfg.train.batch_size, cfg.train.ema, cfg.train.ema_warmup, cfg.train.schedule) == (
        100_000,
        8,
        0.999,
        False,
        "constant",
    )
    assert cfg.data.image_size == cfg.method.image_size == 256
    m = cfg.method
    assert (m.latent_dim, m.style_dim, m.lambda_reg, m.lambda_sty, m.lambda_ds, m.lambda_cyc, m.ds_iter) == (
        16,
        64,
        1,
        1,
        1,
        1,
        100_000,
    )
    assert (m.lr, m.f_lr, m.beta1, m.beta2, m.weight_decay, m.dim_in, m.width) == (
        1e-4,
        1e-6,
        0.0,
        0.99,
        1e-4,
        None,
        64,
    )
    demo = i2i.default_config("stargan_v2", demo=True)
    # the demo: one domain per shipped photo, at 64 px, the diversity term still on at the end
    assert demo.data.demo == "subjects" and demo.data.image_size == demo.method.image_size == 64
    assert demo.method.ds_iter == 10 * demo.train.steps and demo.method.lambda_ds == 4 and demo.method.width == 32
    assert demo.method.lr == demo.method.f_lr == 3e-4 and demo.train.precision == "auto"


def test_sizes_and_channels_the_networks_cannot_honour_are_config_errors() -> None:
    """Refused by finalize_config, before the run: a method.image_size other than the crop (it
    crashed in the first step) and a data.channels_b the one channel count would ignore."""
    with pytest.raises(i2i.ConfigError, match=r"method.image_size: 32 differs from data.image_size 64.*set both"):
        i2i.load_config(method="stargan_v2", overrides=["method.image_size=32"])  # the demo's data is 64 px
    with pytest.raises(i2i.ConfigError, match=r"data.channels_b: stargan_v2 .* data.channels_b = 1"):
        i2i.load_config(method="stargan_v2", overrides=["data.channels_b=1"])
    assert i2i.load_config(method="stargan_v2", overrides=["data.channels_b=3"]).method.image_size == 64
    # unset, method.image_size follows the crop (the paper base is 256 px)
    fitted = i2i.load_config(method="stargan_v2", demo=False, overrides=["data.image_size=64", "data.load_size=64"])
    assert fitted.method.image_size == 64
