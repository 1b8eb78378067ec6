"""CycleGAN: the shared method conformance suite plus what the paper specifies.

Everything runs tiny (ngf/ndf 8, six residual blocks, 32 px) on the CPU.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

import i2i
import i2i_cyclegan.plugin
from i2i.plugins.host import PluginHost, set_host
from i2i.testing import MethodConformance, make_context, run_steps, smooth_images
from i2i_cyclegan import CycleGAN, CycleGANConfig

TINY = dict(next(iter(i2i_cyclegan.plugin.i2i_register_methods())).test_overrides)
UNPAIRED = i2i.DataInfo(kind=i2i.UNPAIRED)


def _host() -> PluginHost:
    host = PluginHost(autoload=False, plugins=[("cyclegan", i2i_cyclegan.plugin)])
    set_host(host)  # the method builds its networks through the default host
    return host


@pytest.fixture
def host() -> PluginHost:
    return _host()


def tiny(seed: int = 0, data_info: i2i.DataInfo = UNPAIRED, **overrides) -> CycleGAN:
    torch.manual_seed(seed)
    return i2i.create_method("cyclegan", data_info=data_info, **{**TINY, **overrides})


def unpaired_batch(n: int = 2, size: int = 32) -> i2i.Batch:
    """Two different domains, so the cycle and GAN terms are not trivially zero."""
    return i2i.Batch(a=smooth_images(n, 3, size, size, seed=0), b=smooth_images(n, 3, size, size, seed=1))


class TestCycleGANConformance(MethodConformance):
    """Finite losses with stable keys, optimizers touching only their own nets, checkpoint
    round trip (pools included), seed determinism, translate shapes on odd sizes, bf16."""

    method_name = "cyclegan"

    def make_host(self) -> PluginHost:
        return _host()


def test_paper_defaults(host: PluginHost) -> None:
    cfg = i2i.default_config("cyclegan")
    m = cfg.method
    assert isinstance(m, CycleGANConfig)
    assert (m.netG, m.netD, m.n_layers_D, m.norm, m.use_dropout) == ("resnet_9blocks", "patchgan", 3, "instance", False)
    assert (m.gan_mode, m.lambda_A, m.lambda_B, m.lambda_identity, m.pool_size) == ("lsgan", 10.0, 10.0, 0.5, 50)
    assert (m.lr, m.beta1, m.beta2) == (2e-4, 0.5, 0.999)
    assert (cfg.train.batch_size, cfg.train.epochs, cfg.train.epochs_decay, cfg.train.schedule) == (
        1,
        100,
        100,
        "linear",
    )
    assert cfg.train.steps is None  # epochs rule unless steps are given
    assert (cfg.data.image_size, cfg.data.load_size) == (256, 286)
    demo = i2i.default_config("cyclegan", demo=True)
    assert demo.train.steps is not None and demo.data.image_size <= 64


def test_networks_pools_and_optimizers(host: PluginHost) -> None:
    method = tiny(
        pool_size=7, data_info=i2i.DataInfo(kind=i2i.UNPAIRED, channels_a=1, channels_b=3), lambda_identity=0.0
    )
    assert method.generator_names == ("G_A", "G_B") and method.size_multiple == 4
    first_conv = lambda net: next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv(method.G_A).in_channels == 1 and first_conv(method.G_B).in_channels == 3
    assert first_conv(method.D_A).in_channels == 3 and first_conv(method.D_B).in_channels == 1  # D_A judges B
    assert method.fake_A_pool.pool_size == method.fake_B_pool.pool_size == 7
    opts = method.configure_optimizers()
    assert set(opts) == {"G", "D"}
    for name, nets in (("G", (method.G_A, method.G_B)), ("D", (method.D_A, method.D_B))):
        held = {id(p) for g in opts[name].param_groups for p in g["params"]}
        assert held == {id(p) for net in nets for p in net.parameters()}
        assert opts[name].defaults["betas"] == (0.5, 0.999)


def test_loss_weights(host: PluginHost) -> None:
    batch = unpaired_batch(n=1)
    base = run_steps(tiny(), batch, 1)[0]
    doubled = run_steps(tiny(lambda_A=20.0, lambda_B=20.0), batch, 1)[0]
    for key in ("G/cycle_A", "G/cycle_B", "G/idt_A", "G/idt_B"):
        assert doubled[key] == pytest.approx(2 * base[key], rel=1e-4)
    # the identity weight is lambda_identity * lambda: 0.5 * 10 = 5 times the plain L1
    method = tiny()
    with torch.no_grad():
        plain = torch.nn.functional.l1_loss(method.G_A(batch.b), batch.b)
    assert base["G/idt_A"] == pytest.approx(5 * float(plain), rel=1e-4)
    assert "G/idt_A" not in run_steps(tiny(lambda_identity=0.0, pool_size=0), batch, 1)[0]


@pytest.mark.parametrize("gan_mode", ["vanilla", "hinge", "wgangp"])
def test_other_gan_objectives_train(host: PluginHost, gan_mode: str) -> None:
    history = run_steps(tiny(gan_mode=gan_mode, pool_size=0), unpaired_batch(n=1), 1)
    assert all(torch.isfinite(torch.tensor(list(h.values()))).all() for h in history)


def test_steps_fill_the_pools_and_the_checkpoint_keeps_them(host: PluginHost) -> None:
    method = tiny(seed=0)
    initial = {k: v.clone() for k, v in method.state_dict().items() if isinstance(v, torch.Tensor)}
    ctx = make_context(method)  # checks that ctx.step("G") / ("D") change only their own nets
    history = run_steps(method, unpaired_batch(), 2, ctx)
    ctx.raise_problems("cyclegan")
    assert sorted(history[0]) == ["D/A", "D/B", "G/cycle_A", "G/cycle_B", "G/gan_A", "G/gan_B", "G/idt_A", "G/idt_B"]
    assert history[0].keys() == history[1].keys()
    state = method.state_dict()
    changed = {k.split(".")[0] for k, v in initial.items() if not torch.equal(v, state[k])}
    assert changed == {"G_A", "G_B", "D_A", "D_B"}
    assert len(method.fake_A_pool) == len(method.fake_B_pool) == 4  # 2 steps x batch 2
    assert "fake_A_pool._extra_state" in state and "fake_B_pool._extra_state" in state
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    restored = tiny(seed=1)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    for pool, other in ((method.fake_A_pool, restored.fake_A_pool), (method.fake_B_pool, restored.fake_B_pool)):
        assert len(other) == len(pool) == 4
        assert all(torch.equal(x, y) for x, y in zip(pool.images, other.images))
    x = unpaired_batch().a
    method.eval(), restored.eval()
    with torch.no_grad():
        for direction in ("a2b", "b2a"):
            assert torch.equal(method.translate(x, direction=direction), restored.translate(x, direction=direction))
    # the same history means the same next discriminator batch
    torch.manual_seed(5)
    q1 = method.fake_B_pool.query(x)
    torch.manual_seed(5)
    assert torch.equal(q1, restored.fake_B_pool.query(x))


def test_same_seed_same_weights_other_seed_other_weights(host: PluginHost) -> None:
    a, b, c = tiny(seed=3).state_dict(), tiny(seed=3).state_dict(), tiny(seed=4).state_dict()
    tensors = [k for k in a if isinstance(a[k], torch.Tensor)]
    assert all(torch.equal(a[k], b[k]) for k in tensors)
    assert not all(torch.equal(a[k], c[k]) for k in tensors)


@pytest.mark.parametrize("size", [(36, 44), (20, 52)])
def test_translate_both_directions_keeps_shape(host: PluginHost, size: tuple[int, int]) -> None:
    method = tiny(data_info=i2i.DataInfo(kind=i2i.UNPAIRED, channels_a=1, channels_b=3), lambda_identity=0.0).eval()
    with torch.no_grad():
        assert method.translate(torch.zeros(2, 1, *size)).shape == (2, 3, *size)
        assert method.translate(torch.zeros(2, 3, *size), direction="b2a").shape == (2, 1, *size)
        assert method.translate(torch.zeros(2, 3, *size), direction="BtoA").shape == (2, 1, *size)  # data.direction's
    assert [o.name for o in method.translate_options] == ["direction"]
    assert method.input_channels(direction="BtoA") == 3 and method.input_channels() == 1


def test_unet_generator_sets_size_multiple(host: PluginHost) -> None:
    assert tiny(netG="unet_64").size_multiple == 64


def test_sample_rows_show_both_cycles(host: PluginHost) -> None:
    method = tiny().eval()
    batch = unpaired_batch()
    with torch.no_grad():
        rows = method.sample(batch)
    assert list(rows) == ["real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B"]
    assert all(r.shape == batch.a.shape for r in rows.values())
    with torch.no_grad():
        assert torch.equal(rows["rec_A"], method.G_B(method.G_A(batch.a)))


def test_bad_input_is_a_clear_error(host: PluginHost) -> None:
    method = tiny()
    with pytest.raises(i2i.UsageError, match="direction"):
        method.translate(torch.zeros(1, 3, 32, 32), direction="sideways")
    with pytest.raises(i2i.UsageError, match="unknown options"):
        method.translate(torch.zeros(1, 3, 32, 32), target="x")
    with pytest.raises(i2i.DataError, match="B images"):
        method.train_step(i2i.Batch(a=torch.zeros(1, 3, 32, 32)), make_context(method))
    with pytest.raises(i2i.ConfigError, match="lambda_identity"):
        tiny(data_info=i2i.DataInfo(kind=i2i.UNPAIRED, channels_a=1, channels_b=3))
    with pytest.raises(i2i.ConfigError, match="pool_size"):
        i2i.load_config(method="cyclegan", overrides=["method.pool_size=-1"])


def test_cli_run_writes_checkpoint_and_samples(tmp_path: Path, host: PluginHost) -> None:
    from i2i.cli.main import main

    out = tmp_path / "run"
    args = ["run", "--method", "cyclegan", "--steps", "2", "--image-size", "32", "--out", str(out)]
    args += [f"--set=method.{k}={v!r}".replace("'", '"') for k, v in TINY.items()]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code in (0, None)
    assert list(out.rglob("*.pt")), "no checkpoint written"
    assert list(out.rglob("*.png")), "no sample images written"


@pytest.mark.parametrize("batch_size", [1, 2])
def test_images_of_several_sizes_uncropped_train_save_and_resume(tmp_path: Path, host: PluginHost, batch_size) -> None:
    """``data.preprocess = "none"`` on a folder of several image sizes: the pools hold every
    size, and the checkpoint that stores them is written and resumed from (it used to fail at
    the first save, losing the run)."""
    from PIL import Image

    from i2i.cli.main import main

    # a batch of two is cropped to its smaller image (i2i.data.collate): squares keep it varied
    for side, sizes in (("A", [(24, 24), (32, 32), (40, 40)]), ("B", [(40, 40), (24, 24), (32, 32)])):
        (tmp_path / f"train{side}").mkdir()
        for i, (w, h) in enumerate(sizes * 2):
            Image.new("RGB", (w, h), (40 * i, 80, 200 - 30 * i)).save(tmp_path / f"train{side}" / f"{i}.png")
    out = tmp_path / "run"
    args = ["run", "--method", "cyclegan", "--data", str(tmp_path), "--image-size", "24", "--out", str(out)]
    args += [f"--set=method.{k}={v!r}".replace("'", '"') for k, v in TINY.items()]
    args += ["--batch-size", str(batch_size), "--set", "data.preprocess=none", "--set", "train.eval_at_end=false"]
    for extra in (["--steps", "8", "--set", "train.checkpoint_every=4"], ["--resume", "--steps", "10"]):
        with pytest.raises(SystemExit) as exit_info:
            main([*args, *extra] if extra[0] != "--resume" else ["run", "--resume", "--out", str(out), *extra[1:]])
        assert exit_info.value.code in (0, None)
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["step"] == 10
    stored = ckpt["model"]["fake_B_pool._extra_state"]["images"]
    assert len({tuple(im.shape) for im in stored}) > 1  # several sizes kept, as a list
