"""StarGAN plugin: losses and their schedule, label handling, translate targets, state, the CLI run.

Nets are tiny (conv dim 8, 32 px, 3 domains); steps run under bf16 autocast like the trainer's.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest
import torch
import torch.nn.functional as F

import i2i
from i2i_stargan.method import D_KEYS, G_KEYS, StarGAN

DOMAINS = ("natural", "sepia", "cool")
ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
TINY = dict(g_conv_dim=8, d_conv_dim=8, g_repeat_num=1, d_repeat_num=3, image_size=32)


class FakeContext:
    """A StepContext over plain optimizers, recording which ones were stepped."""

    def __init__(self, optimizers: dict[str, torch.optim.Optimizer]) -> None:
        self.optimizers, self.stepped = optimizers, []
        self.device, self.world_size, self.rank = torch.device("cpu"), 1, 0

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def step(self, name: str) -> None:  # type: ignore[override]
        self.stepped.append(name)
        self.optimizers[name].step()
        self.optimizers[name].zero_grad(set_to_none=True)

    def zero_grad(self, name: str) -> None:
        self.optimizers[name].zero_grad(set_to_none=True)

    def autocast(self, enabled: bool = True) -> contextlib.AbstractContextManager[Any]:
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled)


def make(multi_label: bool = False, **overrides: Any) -> StarGAN:
    domains = ATTRS if multi_label else DOMAINS
    info = i2i.DataInfo(kind=i2i.LABELLED, domains=domains, multi_label=multi_label)
    method = i2i.create_method("stargan", data_info=info, **{**TINY, **overrides})
    assert isinstance(method, StarGAN)
    return method


def batch(n: int = 4, multi_label: bool = False, size: int = 32, seed: int = 0) -> i2i.Batch:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    if multi_label:
        labels = (torch.rand(n, len(ATTRS), generator=g) > 0.5).float()
    else:
        labels = torch.eye(len(DOMAINS))[torch.randint(0, len(DOMAINS), (n,), generator=g)]
    return i2i.Batch(a=a, labels=labels)


def run_steps(
    method: StarGAN, steps: int, multi_label: bool = False
) -> tuple[FakeContext, list[dict[str, torch.Tensor]]]:
    ctx = FakeContext(method.configure_optimizers())
    out = []
    for i in range(steps):
        with ctx.autocast():
            out.append(method.train_step(batch(multi_label=multi_label, seed=i), ctx))
    return ctx, out


def same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Equal state dicts: tensors exactly, extra state (the critic counter) by value."""
    x, y = a.state_dict(), b.state_dict()
    return x.keys() == y.keys() and all(
        torch.equal(x[k], y[k]) if isinstance(x[k], torch.Tensor) else x[k] == y[k] for k in x
    )


def snapshot(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def changed(before: list[torch.Tensor], net: torch.nn.Module) -> bool:
    return any(not torch.equal(b, p) for b, p in zip(before, net.parameters()))


# -- training -------------------------------------------------------------------------------
@pytest.mark.parametrize("multi_label", [False, True])
def test_losses_finite_with_stable_keys(multi_label: bool) -> None:
    torch.manual_seed(0)
    method = make(multi_label)
    _, history = run_steps(method, 6, multi_label)  # steps 5 (a G step) and 6 (after it)
    for losses in history:
        assert tuple(losses) == D_KEYS + G_KEYS
        assert all(v.dim() == 0 and v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values())
        assert not any(v.requires_grad for v in losses.values())
    # G losses are zeros until the first G update, then report it until the next one
    assert all(float(history[i]["G/loss_rec"]) == 0.0 for i in range(4))
    assert float(history[4]["G/loss_rec"]) > 0.0
    assert all(torch.equal(history[4][k], history[5][k]) for k in G_KEYS)
    assert float(history[4]["G/loss_cls"]) > 0.0


def test_critic_scores_real_and_fake_in_one_pass_as_in_two() -> None:
    """The D step runs D once on cat([real, fake]); that equals the reference's two passes
    only because D treats images independently (no normalisation): keep it so."""
    torch.manual_seed(0)
    method = make(d_repeat_num=4)
    real, fake = batch(3).a, batch(3, seed=1).a
    src, cls = method.D(torch.cat([real, fake]))
    for part, x in ((slice(0, 3), real), (slice(3, 6), fake)):
        src_alone, cls_alone = method.D(x)
        torch.testing.assert_close(src[part], src_alone, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(cls[part], cls_alone, rtol=1e-5, atol=1e-6)


def test_generator_updates_every_n_critic_steps_and_each_optimizer_its_own_net() -> None:
    torch.manual_seed(0)
    method = make()
    optimizers = method.configure_optimizers()
    assert {id(p) for g in optimizers["G"].param_groups for p in g["params"]} == {id(p) for p in method.G.parameters()}
    assert {id(p) for g in optimizers["D"].param_groups for p in g["params"]} == {id(p) for p in method.D.parameters()}
    ctx = FakeContext(optimizers)
    g_changed = []
    for i in range(10):
        g_before, d_before = snapshot(method.G), snapshot(method.D)
        with ctx.autocast():
            method.train_step(batch(seed=i), ctx)
        g_changed.append(changed(g_before, method.G))
        assert changed(d_before, method.D), f"D must update on every step (step {i + 1})"
        # the G update ran with D frozen: no stale gradient left in D for the next critic step
        assert all(p.grad is None for p in method.D.parameters())
        assert all(p.requires_grad for p in method.D.parameters())
    assert g_changed == [False, False, False, False, True] * 2
    assert ctx.stepped == ["D"] * 4 + ["D", "G"] + ["D"] * 4 + ["D", "G"]
    assert method.critic_steps == 10


def test_n_critic_one_updates_generator_every_step() -> None:
    method = make(n_critic=1)
    ctx, _ = run_steps(method, 2)
    assert ctx.stepped == ["D", "G", "D", "G"]


def test_gradient_penalty_finite_under_bf16_and_weighted_by_lambda_gp() -> None:
    torch.manual_seed(0)
    losses = run_steps(make(), 1)[1][0]
    assert torch.isfinite(losses["D/loss_gp"]) and float(losses["D/loss_gp"]) > 0.0

    def d_grad(lambda_gp: float) -> torch.Tensor:
        torch.manual_seed(1)
        method = make(lambda_gp=lambda_gp)
        grads: list[torch.Tensor] = []
        ctx = FakeContext(method.configure_optimizers())
        record = lambda name: grads.append(torch.cat([p.grad.flatten() for p in method.D.parameters()]))
        ctx.step = record  # type: ignore[method-assign]
        with ctx.autocast():
            method.train_step(batch(), ctx)
        return grads[0]

    with_gp, without_gp = d_grad(10.0), d_grad(0.0)
    assert torch.isfinite(with_gp).all()
    assert not torch.allclose(with_gp, without_gp)


def test_classification_loss_multi_hot_is_summed_bce_and_one_hot_cross_entropy() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    one_hot = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert torch.allclose(make().classification_loss(logits, one_hot), F.cross_entropy(logits, torch.tensor([1, 2])))
    multi = make(multi_label=True)
    logits5, labels5 = torch.randn(4, 5), (torch.rand(4, 5) > 0.5).float()
    expected = F.binary_cross_entropy_with_logits(logits5, labels5, reduction="sum") / 4
    assert torch.allclose(multi.classification_loss(logits5, labels5), expected)


def test_bad_batches_are_usage_errors() -> None:
    method = make()
    ctx = FakeContext(method.configure_optimizers())
    with pytest.raises(i2i.UsageError, match="method.image_size is 32"):
        method.train_step(batch(size=64), ctx)
    with pytest.raises(i2i.UsageError, match="3 domains"):
        method.train_step(batch(multi_label=True), ctx)
    with pytest.raises(i2i.UsageError, match="labelled data"):
        method.train_step(i2i.Batch(a=torch.zeros(2, 3, 32, 32)), ctx)


# -- state ----------------------------------------------------------------------------------
def test_checkpoint_round_trip_keeps_weights_and_critic_counter() -> None:
    torch.manual_seed(0)
    method = make()
    run_steps(method, 7)  # G updated at step 5; counter at 7
    buffer = io.BytesIO()
    torch.save(method.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(123)
    restored = make()
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert restored.critic_steps == 7 and restored.state_dict()["_extra_state"] == {"critic_steps": 7}
    assert torch.equal(restored.last_g_losses, method.last_g_losses)
    assert same_state(method, restored)
    ctx, history = run_steps(restored, 3)  # steps 8, 9, 10: the G update comes on 10
    assert ctx.stepped == ["D", "D", "D", "G"]
    assert torch.equal(history[0]["G/loss_rec"], method.last_g_losses[1])


def test_same_seed_same_weights_and_same_training() -> None:
    def trained() -> StarGAN:
        torch.manual_seed(42)
        method = make()
        run_steps(method, 5)
        return method

    a, b = trained(), trained()
    assert same_state(a, b)
    torch.manual_seed(7)
    c = make()
    assert not same_state(make(), c)


# -- inference ------------------------------------------------------------------------------
def _labels_seen(method: StarGAN) -> list[torch.Tensor]:
    """Patch G to record the labels it is called with."""
    seen: list[torch.Tensor] = []
    forward = method.G.forward
    method.G.forward = lambda x, c: (seen.append(c.clone()), forward(x, c))[1]  # type: ignore[method-assign]
    return seen


def test_translate_one_hot_targets() -> None:
    method = make()
    seen = _labels_seen(method)
    x = torch.zeros(2, 3, 32, 32)
    with torch.no_grad():
        out = method.translate(x, target="sepia")
        assert out.shape == x.shape
        assert torch.equal(seen[-1], torch.tensor([[0.0, 1.0, 0.0]] * 2))
        method.translate(x, target=["cool"])
        assert torch.equal(seen[-1], torch.tensor([[0.0, 0.0, 1.0]] * 2))
        variants = method.translate_variants(x, target="all")
        assert list(variants) == list(DOMAINS)
        assert list(method.translate_variants(x)) == list(DOMAINS)  # 'all' is the default
        assert list(method.translate_variants(x, target="cool")) == [""]
        method.translate(torch.zeros(4, 3, 32, 32))  # no target: the batch spreads over the domains
        assert torch.equal(seen[-1], torch.eye(3)[[0, 1, 2, 0]])
    for target, message in [
        ("purple", r"unknown domain 'purple' \(valid: natural, sepia, cool, or 'all'\)"),
        ("sepia,cool", "exactly one"),
        ("-sepia", "one-hot"),
        ("all", "translate_variants"),
    ]:
        with pytest.raises(i2i.UsageError, match=message):
            method.translate(x, target=target)
    with pytest.raises(i2i.UsageError, match="unknown translate option 'colour'"):
        method.translate(x, target="sepia", colour=1)


def test_translate_multi_hot_targets() -> None:
    method = make(multi_label=True)
    seen = _labels_seen(method)
    x = torch.zeros(2, 3, 32, 32)
    source = torch.tensor([[1.0, 0, 0, 1, 0], [0, 0, 1, 0, 1]])
    with torch.no_grad():
        # named attributes are set, -names cleared, the rest kept; a hair colour clears the others
        method.translate(x, target="Blond_Hair, -Male", source_labels=source)
        assert torch.equal(seen[-1], torch.tensor([[0.0, 1, 0, 0, 0], [0, 1, 0, 0, 1]]))
        # source labels as the attribute names every input has
        method.translate(x, target=["Young"], source_labels="Black_Hair,Male")
        assert torch.equal(seen[-1], torch.tensor([[1.0, 0, 0, 1, 1]] * 2))
        # naming every attribute (hair colours through exclusivity) needs no source labels
        method.translate(x, target="Brown_Hair,Male,-Young")
        assert torch.equal(seen[-1], torch.tensor([[0.0, 0, 1, 1, 0]] * 2))
        method.translate(x)  # no target, no source: image i gets attribute i (mod 5) set, as from all-off
        assert torch.equal(seen[-1], torch.tensor([[1.0, 0, 0, 0, 0], [0, 1, 0, 0, 0]]))
        variants = method.translate_variants(x, target="all", source_labels=source)
    assert list(variants) == list(ATTRS)
    # 'all' as the reference's test: hair colours set (others cleared), other attributes flipped
    expected = {
        "Black_Hair": [[1.0, 0, 0, 1, 0], [1, 0, 0, 0, 1]],
        "Blond_Hair": [[0.0, 1, 0, 1, 0], [0, 1, 0, 0, 1]],
        "Brown_Hair": [[0.0, 0, 1, 1, 0], [0, 0, 1, 0, 1]],
        "Male": [[1.0, 0, 0, 0, 0], [0, 0, 1, 1, 1]],
        "Young": [[1.0, 0, 0, 1, 1], [0, 0, 1, 0, 0]],
    }
    assert [c.tolist() for c in seen[-5:]] == list(expected.values())
    for kwargs, message in [
        (
            dict(target="Male"),
            "leaves Black_Hair, Blond_Hair, Brown_Hair, Young unspecified: pass the inputs' own "
            r"attributes with --source-labels \(source_labels= from Python\), e.g. 'Black_Hair,Blond_Hair'",
        ),
        (dict(target="Bald", source_labels=source), r"unknown domain 'Bald' \(valid: Black_Hair"),
        (dict(target="Male,-Male", source_labels=source), "both set and cleared"),
        (dict(target="Male", source_labels=torch.zeros(2, 3)), r"source_labels: expected shape \(2, 5\)"),
        (dict(target="Male", source_labels="Bald"), "--source-labels: unknown attribute 'Bald'"),
    ]:
        with pytest.raises(i2i.UsageError, match=message):
            method.translate(x, **kwargs)
    with pytest.raises(i2i.UsageError, match="needs the inputs' own"):
        method.translate_variants(x, target="all")
    assert {o.name for o in method.translate_options} == {"target", "source_labels", "attribute_file"}


def test_sample_rows_and_export_inputs() -> None:
    method = make()
    b = batch(n=2)
    rows = method.sample(b)
    assert list(rows) == ["input", *DOMAINS]
    assert all(r.shape == b.a.shape and not r.requires_grad for r in rows.values())
    multi_rows = make(multi_label=True).sample(batch(n=2, multi_label=True))
    assert list(multi_rows) == ["input", *ATTRS]
    exported = method.export_inputs(b.a)
    assert list(exported) == ["G"]
    module, records = exported["G"]
    assert [r.name for r in records] == ["image", "label"]
    args = tuple(r.example for r in records)
    assert module is method.G and args[1].shape == (2, 3)
    assert module(*args).shape == b.a.shape


# -- registration and config ----------------------------------------------------------------
def test_registered_with_paper_defaults_and_consistent_demo_sizes() -> None:
    spec = i2i.get_method("stargan")
    assert spec.data_kind == i2i.LABELLED and spec.factory is StarGAN
    paper = i2i.default_config("stargan")
    assert (paper.train.steps, paper.train.decay_fraction, paper.train.batch_size) == (200_000, 0.5, 16)
    assert paper.data.image_size == paper.data.load_size == paper.method.image_size == 128
    assert paper.data.attributes == ATTRS
    m = paper.method
    assert (m.g_conv_dim, m.g_repeat_num, m.n_critic, m.lambda_gp, m.lambda_cls, m.lambda_rec) == (
        64,
        6,
        5,
        10.0,
        1.0,
        10.0,
    )
    assert (m.g_lr, m.d_lr, m.beta1, m.beta2) == (1e-4, 1e-4, 0.5, 0.999)
    demo = i2i.default_config("stargan", demo=True)
    assert demo.data.image_size == demo.method.image_size
    with pytest.raises(i2i.ConfigError, match="n_critic"):
        i2i.load_config(method="stargan", overrides=["method.n_critic=0"])


def test_built_without_data_info_uses_paper_attributes() -> None:
    method = i2i.create_method("stargan", **TINY)
    assert method.domains == ATTRS and method.data_info.multi_label


def _write_image(path: Any, seed: int, shade: float) -> None:
    from PIL import Image

    g = torch.Generator().manual_seed(seed)
    image = (torch.rand(3, 36, 36, generator=g) * 0.3 + shade).clamp(0, 1)
    Image.fromarray((image * 255).byte().permute(1, 2, 0).numpy()).save(path)


def _cli(args: list[str], sets: dict[str, Any]) -> int:
    from i2i.cli.main import main

    flags = [item for k, v in sets.items() for item in ("--set", f"{k}={v}")]
    with pytest.raises(SystemExit) as exit_info:
        main(args + flags)
    return int(exit_info.value.code or 0)


TINY_SETS = {**{f"method.{k}": v for k, v in TINY.items()}, "data.num_workers": 0}


def test_end_to_end_cli_run_on_domain_folders(tmp_path: Any) -> None:
    root = tmp_path / "grades"
    for split in ("train", "test"):
        for k, domain in enumerate(DOMAINS):
            (root / split / domain).mkdir(parents=True)
            for j in range(3):
                _write_image(root / split / domain / f"{j}.png", seed=10 * k + j, shade=0.3 * k)
    out = tmp_path / "run"
    args = [
        "run",
        "--method",
        "stargan",
        "--data",
        str(root),
        "--out",
        str(out),
        "--steps",
        "3",
        "--batch-size",
        "2",
        "--image-size",
        "32",
    ]
    assert _cli(args, TINY_SETS) == 0  # includes the end-of-run held-out summary, which calls translate(x)
    assert (out / "last.pt").is_file() and list((out / "samples").glob("*.png"))
    translator = i2i.load_checkpoint(out)
    assert translator.data_info.domains == tuple(sorted(DOMAINS)) and not translator.data_info.multi_label
    outputs = translator.translate_variants(torch.zeros(1, 3, 32, 32), target="all")
    assert list(outputs) == sorted(DOMAINS)


def test_end_to_end_cli_run_on_attribute_list(tmp_path: Any, capsys: Any) -> None:
    root = tmp_path / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    header = ["Bald", *ATTRS, "Wavy_Hair"]  # the file has attributes beyond the chosen ones
    lines = [str(10), " ".join(header)]
    for j in range(10):
        _write_image(root / "img_align_celeba" / f"{j:06d}.png", seed=j, shade=0.05 * j)
        values = [1 if (j >> b) & 1 else -1 for b in range(len(header))]
        lines.append(f"{j:06d}.png " + " ".join(str(v) for v in values))
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    args = [
        "run",
        "--method",
        "stargan",
        "--data",
        str(root),
        "--out",
        str(out),
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--image-size",
        "32",
    ]
    assert _cli(args, {**TINY_SETS, "train.eval_at_end": "false"}) == 0
    translator = i2i.load_checkpoint(out)
    assert translator.data_info.domains == ATTRS and translator.data_info.multi_label
    y = translator.translate(torch.zeros(1, 3, 32, 32), target="Blond_Hair,-Male", source_labels="Male,Young")
    assert y.shape == (1, 3, 32, 32)
    capsys.readouterr()
    # translate without the inputs' attributes: the message names the real flag and the model's own names,
    # and the failed command leaves no (empty) output folder
    translated = tmp_path / "translated"
    assert (
        _cli(["translate", str(out), str(root / "img_align_celeba"), "--out", str(translated), "--target", "Male"], {})
        == 2
    )
    err = capsys.readouterr().err
    assert "--source-labels" in err and "e.g. 'Black_Hair,Blond_Hair'" in err and "source_labels " not in err
    assert not translated.exists()
    bad = {**TINY_SETS, "data.attributes": "Black_Hair,Red_Hair"}
    bad_args = ["run", "--method", "stargan", "--data", str(root), "--out", str(tmp_path / "bad"), "--steps", "1"]
    bad_args += ["--image-size", "32"]  # as TINY's method.image_size: the attribute is what is wrong
    assert _cli(bad_args, bad) == 2
    err = capsys.readouterr().err
    assert "'Red_Hair' is not in" in err and "(its columns: Bald, Black_Hair, Blond_Hair" in err and "Wavy_Hair)" in err
    assert not (tmp_path / "bad").exists()  # a run that failed before training leaves no folder


def test_imported_reference_generator_rebuilds_the_method(tmp_path: Any) -> None:
    """A yunjey/stargan ``*-G.ckpt`` becomes a stargan checkpoint through the config fields
    ``g_conv_dim``/``g_repeat_num`` and the domain names; it translates as the original does."""
    from i2i.inference.weights_import import import_reference_checkpoint

    torch.manual_seed(0)
    reference = i2i.create_generator("stargan", ngf=8, c_dim=len(ATTRS), n_blocks=2).eval()
    torch.save(reference.state_dict(), tmp_path / "200000-G.ckpt")
    path = import_reference_checkpoint([tmp_path / "200000-G.ckpt"], "stargan-ref", tmp_path / "celeba.pt")
    translator = i2i.load_checkpoint(path)
    method = translator.method
    assert isinstance(method, StarGAN)
    assert (method.config.g_conv_dim, method.config.g_repeat_num, method.domains) == (8, 2, ATTRS)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    y = translator.translate(x, target="Blond_Hair", source_labels="Black_Hair,Male")
    with torch.no_grad():
        expected = reference(x, torch.tensor([[0.0, 1, 0, 1, 0]]))
    assert torch.allclose(y, expected, atol=1e-4)


def test_image_size_other_than_the_crop_is_a_config_error() -> None:
    with pytest.raises(i2i.ConfigError, match=r"method.image_size: 128 differs from data.image_size 64"):
        i2i.load_config(method="stargan", overrides=["method.image_size=128"])  # the demo crops 64 px
    with pytest.raises(i2i.ConfigError, match=r"data.channels_b: stargan "):
        i2i.load_config(method="stargan", overrides=["data.channels_b=1"])
    # unset, it follows the crop, and the critic's depth follows it (6 at the paper's 128 px, 5 at 64)
    fitted = i2i.load_config(method="stargan", demo=False, overrides=["data.image_size=64", "data.load_size=64"])
    assert (fitted.method.image_size, fitted.method.d_repeat_num) == (64, 5)


def test_exclusive_attributes_must_be_labels_unless_left_at_the_reference_default() -> None:
    """A typo in an exclusive attribute would silently leave the hair colours independent."""
    typo = ["method.exclusive_attributes=['Black_Hair', 'Blond_hair']"]
    with pytest.raises(i2i.ConfigError) as info:
        i2i.load_config(method="stargan", demo=False, overrides=typo)
    assert str(info.value) == (
        "method.exclusive_attributes: 'Blond_hair' is not one of data.attributes (Black_Hair, Blond_Hair, "
        "Brown_Hair, Male, Young) (did you mean 'Blond_Hair'?); an attribute that is not a label does nothing"
    )
    with pytest.raises(i2i.ConfigError, match="'Smiling' is not one of data.attributes"):
        i2i.load_config(method="stargan", demo=False, overrides=["method.exclusive_attributes=['Smiling']"])
    with pytest.raises(i2i.ConfigError, match="must name each entry once, got 'Male' twice"):
        i2i.load_config(method="stargan", demo=False, overrides=["data.attributes=['Male', 'Young', 'Male']"])
    # the default names Gray_Hair, which the paper's five attributes leave out: kept as the reference has it
    default = i2i.load_config(method="stargan", demo=False)
    assert "Gray_Hair" in default.method.exclusive_attributes and "Gray_Hair" not in default.data.attributes
    picked = ["data.attributes=['Gray_Hair', 'Male']", "method.exclusive_attributes=['Gray_Hair']"]
    assert i2i.load_config(method="stargan", demo=False, overrides=picked).method.exclusive_attributes == ("Gray_Hair",)
