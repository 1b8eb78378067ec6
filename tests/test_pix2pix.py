"""pix2pix: the shared method conformance suite plus what the paper specifies.

Everything runs tiny (ngf/ndf 8, a 5-level U-Net, 32 px) on the CPU.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

import i2i
import i2i_pix2pix.plugin
from i2i.plugins.host import PluginHost, set_host
from i2i.testing import MethodConformance, dummy_batch, make_context, run_steps
from i2i_pix2pix import Pix2Pix, Pix2PixConfig

TINY = dict(next(iter(i2i_pix2pix.plugin.i2i_register_methods())).test_overrides)


def _host() -> PluginHost:
    host = PluginHost(autoload=False, plugins=[("pix2pix", i2i_pix2pix.plugin)])
    set_host(host)  # the method builds its networks through the default host
    return host


@pytest.fixture
def host() -> PluginHost:
    return _host()


def tiny(seed: int = 0, data_info: i2i.DataInfo | None = None, **overrides) -> Pix2Pix:
    torch.manual_seed(seed)
    info = data_info or i2i.DataInfo(kind=i2i.PAIRED)
    return i2i.create_method("pix2pix", data_info=info, **{**TINY, **overrides})


class TestPix2PixConformance(MethodConformance):
    """Finite losses with stable keys, optimizers touching only their own nets, checkpoint
    round trip, seed determinism, translate shapes on odd sizes, bf16."""

    method_name = "pix2pix"

    def make_host(self) -> PluginHost:
        return _host()


def test_paper_defaults(host: PluginHost) -> None:
    cfg = i2i.default_config("pix2pix")
    m = cfg.method
    assert isinstance(m, Pix2PixConfig)
    assert (m.netG, m.netD, m.n_layers_D, m.norm, m.use_dropout) == ("unet_256", "patchgan", 3, "batch", True)
    assert (m.gan_mode, m.lambda_L1, m.lr, m.beta1, m.beta2) == ("vanilla", 100.0, 2e-4, 0.5, 0.999)
    assert m.train_mode_at_test is False
    assert (cfg.train.batch_size, cfg.train.epochs, cfg.train.epochs_decay, cfg.train.schedule) == (
        1,
        100,
        100,
        "linear",
    )
    assert (cfg.data.image_size, cfg.data.load_size, cfg.data.flip) == (256, 286, True)


def test_demo_defaults_build_a_net_sized_for_the_demo(host: PluginHost) -> None:
    cfg = i2i.default_config("pix2pix", demo=True)
    assert cfg.train.steps is not None and cfg.data.image_size <= 64
    method = Pix2Pix(cfg.method, i2i.DataInfo(kind=i2i.PAIRED))
    # a 1x1 bottleneck exactly at the demo size: no padding, no wasted levels
    assert method.size_multiple == cfg.data.image_size


def test_unet_dropout_and_conditional_discriminator(host: PluginHost) -> None:
    # dropout sits in the ngf*8 blocks between the 5 outer levels and the bottleneck
    method = tiny(netG="unet_64", data_info=i2i.DataInfo(kind=i2i.PAIRED, channels_a=1, channels_b=3))
    assert sum(isinstance(m, torch.nn.Dropout) for m in method.G.modules()) == 1
    assert not any(isinstance(m, torch.nn.Dropout) for m in tiny(netG="unet_64", use_dropout=False).G.modules())
    first_conv = next(m for m in method.D.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.in_channels == 1 + 3  # D sees cat(input, output)
    assert isinstance(next(m for m in method.G.modules() if "BatchNorm" in type(m).__name__), torch.nn.BatchNorm2d)
    method.eval()
    with torch.no_grad():
        assert method.translate(torch.zeros(2, 1, 32, 32)).shape == (2, 3, 32, 32)


def test_optimizers_hold_exactly_their_own_network(host: PluginHost) -> None:
    method = tiny()
    opts = method.configure_optimizers()
    assert set(opts) == {"G", "D"}
    for name, net in (("G", method.G), ("D", method.D)):
        held = {id(p) for g in opts[name].param_groups for p in g["params"]}
        assert held == {id(p) for p in net.parameters()}
        assert opts[name].defaults["betas"] == (0.5, 0.999) and opts[name].defaults["lr"] == 2e-4


def test_steps_update_only_their_own_network_and_round_trip(host: PluginHost) -> None:
    method = tiny()
    batch = dummy_batch(method.data_info)
    before = {k: v.clone() for k, v in method.state_dict().items() if isinstance(v, torch.Tensor)}
    ctx = make_context(method)
    history = run_steps(method, batch, 2, ctx)
    ctx.raise_problems("pix2pix")
    assert list(history[0]) == ["G/gan", "G/l1", "D/real", "D/fake"]
    assert history[0].keys() == history[1].keys()
    after = method.state_dict()
    changed = {k.split(".")[0] for k, v in before.items() if not torch.equal(v, after[k])}
    assert changed == {"G", "D"}

    # a state-dict round trip (weights and batch-norm statistics) gives identical outputs
    buffer = io.BytesIO()
    torch.save(after, buffer)
    buffer.seek(0)
    restored = tiny(seed=1)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    method.eval(), restored.eval()
    with torch.no_grad():
        assert torch.equal(method.translate(batch.a), restored.translate(batch.a))


def test_l1_weight_is_lambda_l1(host: PluginHost) -> None:
    batch = dummy_batch(i2i.DataInfo(kind=i2i.PAIRED))
    losses = [run_steps(tiny(lambda_L1=w), batch, 1)[0]["G/l1"] for w in (100.0, 1.0)]
    assert losses[0] == pytest.approx(100 * losses[1], rel=1e-4)


@pytest.mark.parametrize("gan_mode", ["lsgan", "hinge", "wgangp"])
def test_other_gan_objectives_train(host: PluginHost, gan_mode: str) -> None:
    history = run_steps(tiny(gan_mode=gan_mode), dummy_batch(i2i.DataInfo(kind=i2i.PAIRED)), 1)
    assert all(torch.isfinite(torch.tensor(list(h.values()))).all() for h in history)


def test_train_mode_at_test_keeps_dropout_and_batch_statistics(host: PluginHost) -> None:
    x = dummy_batch(i2i.DataInfo(kind=i2i.PAIRED), batch_size=2).a
    method = tiny(netG="unet_64")
    run_steps(method, dummy_batch(method.data_info), 1)
    method.eval()
    with torch.no_grad():
        assert torch.equal(method.translate(x), method.translate(x))  # default: eval mode

    paper = tiny(netG="unet_64", train_mode_at_test=True)
    paper.load_state_dict(method.state_dict())
    paper.eval()
    stats = {k: v.clone() for k, v in paper.state_dict().items() if "running" in k or "num_batches" in k}
    with torch.no_grad():
        first, second = paper.translate(x), paper.translate(x)
    assert not torch.equal(first, second)  # dropout is active
    assert all(torch.equal(v, paper.state_dict()[k]) for k, v in stats.items())  # running stats untouched
    assert not any(m.training for m in paper.modules())  # modes restored
    assert all(m.track_running_stats for m in paper.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_same_seed_same_weights_other_seed_other_weights(host: PluginHost) -> None:
    a, b, c = tiny(seed=3).state_dict(), tiny(seed=3).state_dict(), tiny(seed=4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("size", [(32, 96), (96, 32), (64, 160)])
def test_translate_keeps_shape(host: PluginHost, size: tuple[int, int]) -> None:
    method = tiny().eval()
    assert size[0] % method.size_multiple == 0 and size[1] % method.size_multiple == 0
    with torch.no_grad():
        assert method.translate(torch.zeros(1, 3, *size)).shape == (1, 3, *size)


def test_bad_input_is_a_clear_error(host: PluginHost) -> None:
    method = tiny()
    with pytest.raises(i2i.UsageError, match="no options"):
        method.translate(torch.zeros(1, 3, 32, 32), direction="b2a")
    with pytest.raises(i2i.DataError, match="paired"):
        method.train_step(i2i.Batch(a=torch.zeros(1, 3, 32, 32)), make_context(method))
    with pytest.raises(i2i.ConfigError, match="lambda_L1"):
        i2i.load_config(method="pix2pix", overrides=["method.lambda_L1=-1"])
    with pytest.raises(i2i.UsageError, match="unknown generator"):
        tiny(netG="unet_999")


def test_cli_run_writes_checkpoint_and_samples(tmp_path: Path, host: PluginHost) -> None:
    from i2i.cli.main import main

    out = tmp_path / "run"
    args = ["run", "--method", "pix2pix", "--steps", "2", "--image-size", "32", "--out", str(out)]
    args += [f"--set=method.{k}={v!r}".replace("'", '"') for k, v in TINY.items()]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code in (0, None)
    assert list(out.rglob("*.pt")), "no checkpoint written"
    assert list(out.rglob("*.png")), "no sample images written"
