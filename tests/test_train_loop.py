"""The training loop end to end on the dummy method: outputs, hooks, schedules, precision, robustness."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import attrs
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import dummy_plugin
from train_support import dummy_config, dummy_host, make_paired

from i2i import (
    MethodSpec,
    hookimpl,
)
from i2i.config import run as config
from i2i.errors import ConfigError, UsageError
from i2i.plugins.host import PluginHost
from i2i.train import context
from i2i.train.config import TrainConfig
from i2i.train.context import NonFiniteError, TrainContext
from i2i.train.precision import Precision, resolve_precision
from i2i.train.progress import Progress
from i2i.train.schedule import lr_factor
from i2i.train.trainer import Trainer


class Recorder:
    """A plugin that records every lifecycle hook call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None]] = []
        self.images: dict[str, torch.Tensor] = {}

    @hookimpl
    def i2i_train_start(self, run):
        assert run.is_main and run.method is not None
        self.calls.append(("start", run.step))

    @hookimpl
    def i2i_step_end(self, run, step, metrics):
        assert all(isinstance(v, float) for v in metrics.values())
        self.calls.append(("step", step))

    @hookimpl
    def i2i_sample_images(self, run, step, path, images):
        assert Path(path).is_file()
        self.images = dict(images)
        self.calls.append(("sample", step))

    @hookimpl
    def i2i_checkpoint_saved(self, run, step, path):
        assert Path(path).is_file()
        self.calls.append(("checkpoint", step))

    @hookimpl
    def i2i_eval_result(self, run, step, metrics):
        self.calls.append(("eval", step))

    @hookimpl
    def i2i_train_end(self, run, step, status):
        self.calls.append((status, step))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_paired(tmp_path_factory.mktemp("data"))


def test_run_writes_everything_and_calls_hooks(data, tmp_path):
    host = dummy_host()
    recorder = Recorder()
    host.register(recorder, "recorder")
    cfg = dummy_config(host, data, steps=12, log_every=4, sample_every=6, checkpoint_every=6, keep_checkpoints=1)
    out = tmp_path / "out"
    metrics = Trainer(cfg, out_dir=out, host=host, progress=False).fit()

    assert recorder.calls == [
        ("start", 0),
        ("step", 4),
        ("sample", 6),
        ("checkpoint", 6),
        ("step", 8),
        ("step", 12),
        ("sample", 12),
        ("checkpoint", 12),
        ("eval", 12),
        ("finished", 12),
    ]
    assert set(recorder.images) == {"input", "output", "target"}
    assert recorder.images["output"].dtype == torch.uint8 and recorder.images["output"].shape[0] == 3

    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [4, 8, 12, 12]
    assert set(rows[0]["losses"]) == {"G/loss", "D/loss"} and set(rows[0]["lr"]) == {"G", "D"}
    assert {"time", "epoch"} <= set(rows[0])
    ev = rows[-1]["eval"]
    assert ev["images"] == 4 and ev["psnr"] > 0 and "psnr_identity" in ev and "psnr_mean_color" in ev
    assert metrics["eval/psnr"] == pytest.approx(ev["psnr"]) and "G/loss" in metrics

    # step files rotate (keep 1), last.pt stays; config.toml reads back as the same config
    assert sorted(p.name for p in out.glob("*.pt")) == ["last.pt", "step_00000012.pt"]
    from i2i import api

    assert api.load_config(out / "config.toml", host=host) == cfg
    grid = Image.open(out / "samples" / "step_000012.png")
    assert grid.mode == "RGB" and grid.size == (2 + 3 * 18, 2 + 4 * 18)  # 4 rows of input | output | target
    page = (out / "index.html").read_text()
    assert page.index("step_000012.png") < page.index("step_000006.png")  # newest first
    assert "<svg" in page and "<script" in page and "columns: input | output | target" in page
    # the page says what the run was and keeps training losses and evaluation apart
    for fact in ("paired_folders", "8 pairs", "4 pairs", "fp32", "config.toml", f"i2i translate {out / 'last.pt'}"):
        assert fact in page, fact
    losses, evaluation = page.index("<h2>Training losses at step 12</h2>"), page.index("<h2>Evaluation</h2>")
    assert losses < evaluation and "4 held-out test images" in page[evaluation:] and "mean_color" in page[evaluation:]
    assert "report-check images=" not in page and '<p id="report-check" hidden>' in page  # no visible debug text
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing external


def test_sample_images_zero_draws_no_grids_and_the_run_still_finishes(data, tmp_path):
    host = dummy_host()
    recorder = Recorder()
    host.register(recorder, "recorder")
    cfg = dummy_config(host, data, steps=4, sample_every=2, sample_images=0)
    out = tmp_path / "out"
    Trainer(cfg, out_dir=out, host=host, progress=False).fit()
    assert ("sample", 2) not in recorder.calls and ("finished", 4) in recorder.calls
    assert not list((out / "samples").glob("*.png")) and (out / "last.pt").is_file()
    assert "step_000004.png" not in (out / "index.html").read_text()


def test_linear_schedule_and_lr_in_metrics(data, tmp_path):
    train = TrainConfig(steps=10, decay_fraction=0.5)
    f = lr_factor(train, batches_per_epoch=4)
    assert [round(f(s), 3) for s in range(11)] == [1, 1, 1, 1, 1, 1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
    # epochs mode: constant for `epochs`, then linear over `epochs_decay` (reference default)
    f = lr_factor(TrainConfig(epochs=2, epochs_decay=2), batches_per_epoch=5)
    assert f(9) == 1.0 and f(10) == 1.0 and f(15) == pytest.approx(0.5) and f(20) == 0.0
    f = lr_factor(TrainConfig(steps=100, schedule="cosine"), 4)
    assert f(0) == 1.0 and f(50) == pytest.approx(0.5) and f(100) == pytest.approx(0.0, abs=1e-12)
    f = lr_factor(TrainConfig(steps=100, schedule="step", step_size=2, gamma=0.5), 4)
    assert f(7) == 1.0 and f(8) == 0.5 and f(16) == 0.25

    host = dummy_host()
    cfg = dummy_config(host, data, steps=8, log_every=1, decay_fraction=0.5, eval_at_end=False)
    Trainer(cfg, out_dir=tmp_path, host=host, progress=False).fit()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["lr"]["G"] for r in rows]
    assert lrs[:4] == [1e-3] * 4 and lrs[4:] == pytest.approx([7.5e-4, 5e-4, 2.5e-4, 0.0])


def test_plateau_schedule_runs(data, tmp_path):
    host = dummy_host()
    cfg = dummy_config(
        host, data, steps=12, schedule="plateau", plateau_patience=0, plateau_factor=0.5, eval_at_end=False
    )
    trainer = Trainer(cfg, out_dir=tmp_path, host=host, progress=False)
    trainer.fit()
    assert trainer.epoch == 2  # 4 batches per epoch; plateau stepped at the two epoch ends
    assert set(trainer.schedules.lrs()) == {"G", "D"}


def _final_state(data, tmp_path, precision):
    host = dummy_host()
    cfg = dummy_config(host, data, steps=30, precision=precision, log_every=30, eval_at_end=False)
    trainer = Trainer(cfg, out_dir=tmp_path / precision, host=host, progress=False)
    losses = trainer.fit()
    return trainer, losses


def test_bf16_and_fp32_stay_finite_and_close(data, tmp_path):
    fp32, l32 = _final_state(data, tmp_path, "fp32")
    bf16, l16 = _final_state(data, tmp_path, "bf16")
    assert bf16.precision.name == "bf16" and fp32.precision.name == "fp32"
    for key in l32:
        assert math.isfinite(l16[key]) and l16[key] == pytest.approx(l32[key], rel=0.1), key
    s32, s16 = fp32.method.state_dict(), bf16.method.state_dict()
    for key, value in s32.items():
        assert torch.isfinite(s16[key]).all() and s16[key].dtype == value.dtype, key
        assert (s16[key] - value).abs().max() < 0.05, key
    assert fp32.ctx.skipped == {"G": 0, "D": 0} and bf16.ctx.skipped == {"G": 0, "D": 0}


def test_gradient_penalty_is_sound_under_bf16_autocast():
    """A WGAN-GP style double backward under the run's bf16 autocast gives finite gradients."""
    D = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.LeakyReLU(0.2), torch.nn.Conv2d(4, 1, 3))
    opt = torch.optim.Adam(D.parameters())
    precision = Precision.create("bf16", torch.device("cpu"))
    ctx = TrainContext({"D": opt}, precision, device=torch.device("cpu"))
    x = torch.randn(2, 3, 12, 12, requires_grad=True)
    with precision.autocast():
        out = D(x)
        (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
        gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
        ctx.backward(gp + out.mean())
    before = D[0].weight.detach().clone()
    ctx.step("D")
    assert torch.isfinite(D[0].weight).all() and not torch.equal(before, D[0].weight)
    assert ctx.skipped["D"] == 0 and ctx.global_step == 0


def test_a_second_forward_after_an_update_sees_the_new_weights_under_bf16():
    """Two updates of one net in one train_step (e.g. two critic steps): autocast caches bf16
    copies of the weights by tensor, so without the context clearing it the second forward
    would run on the weights from before the first update."""
    torch.manual_seed(0)
    D = torch.nn.Conv2d(3, 4, 3)
    opt = torch.optim.SGD(D.parameters(), lr=0.5)
    precision = Precision.create("bf16", torch.device("cpu"))
    ctx = TrainContext({"D": opt}, precision, device=torch.device("cpu"))
    x = torch.randn(2, 3, 8, 8)
    with precision.autocast():
        first = D(x)
        ctx.backward(first.float().square().mean())
        ctx.step("D")
        second = D(x)
    with precision.autocast():  # a fresh region: casts the updated weights
        fresh = D(x)
    assert not torch.equal(first, fresh)
    assert torch.equal(second, fresh)


def test_grad_clip_and_nonfinite_skip():
    w = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.SGD([w], lr=1.0)
    ctx = TrainContext(
        {"G": opt}, Precision.create("fp32", torch.device("cpu")), device=torch.device("cpu"), grad_clip=1.0
    )
    ctx.backward((w * torch.tensor([30.0, 40.0, 0.0])).sum())  # gradient norm 50
    ctx.step("G")
    assert w.detach().norm().item() == pytest.approx(1.0, rel=1e-4)  # clipped to norm 1
    ctx.backward(w.sum() * float("nan"))
    ctx.step("G")
    assert ctx.skipped["G"] == 1 and ctx.bad_this_step and torch.isfinite(w).all()
    assert w.grad is None
    with pytest.raises(KeyError, match="no optimizer named 'X'"):
        ctx.step("X")


@pytest.mark.parametrize(
    "bad", [{0: float("nan")}, {5: float("inf")}, {1: float("inf"), 7: float("-inf")}], ids=["nan", "inf", "+inf-inf"]
)
def test_without_clipping_one_non_finite_gradient_element_skips_the_update(bad):
    """The finite check without grad_clip sums each gradient instead of taking the norm: one
    NaN or inf element anywhere (opposite infinities included, which sum to NaN) still skips the
    whole update, and finite gradients, however large, update."""
    a, b = torch.nn.Parameter(torch.zeros(4, 4)), torch.nn.Parameter(torch.zeros(1000))
    opt = torch.optim.SGD([a, b], lr=1.0)
    ctx = TrainContext({"G": opt}, Precision.create("fp32", torch.device("cpu")), device=torch.device("cpu"))
    scale = torch.ones(1000)
    for i, v in bad.items():
        scale[i] = v
    ctx.backward(a.sum() + (b * scale).sum())
    ctx.step("G")
    assert ctx.skipped["G"] == 1 and torch.equal(a.detach(), torch.zeros(4, 4)) and torch.equal(b, torch.zeros(1000))
    ctx.backward(a.sum() * 1e30 + (b * 1e30).sum())  # huge but finite: a norm would overflow, a sum does not
    ctx.step("G")
    assert ctx.skipped["G"] == 1 and a.detach().eq(-1e30).all()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_the_finite_check_of_low_precision_gradients_keeps_fp32s_range(dtype):
    """Weight copies hand the check bf16 gradients, summed in their own dtype: a NaN or inf
    still reads as non-finite, and finite elements whose sum exceeds the dtype's largest value
    (fp16's 65504) are not mistaken for an overflow."""
    big = torch.full((3000,), 60000.0).to(dtype)  # each finite in fp16 too; the sum is 1.8e8
    assert context._all_finite([big, torch.ones(5, dtype=torch.float32)])
    for value in (float("nan"), float("inf")):
        bad = big.clone()
        bad[1234] = value
        assert not context._all_finite([torch.ones(5), bad])


@attrs.frozen
class NanConfig(dummy_plugin.DummyConfig):
    nan_from: int = 3


class NanDummy(dummy_plugin.Dummy):
    """The dummy method whose losses turn NaN from step ``nan_from`` on."""

    def train_step(self, batch, ctx):
        if ctx.global_step >= self.config.nan_from:
            batch.b = batch.b * float("nan")
        return super().train_step(batch, ctx)


class NanPlugin:
    @hookimpl
    def i2i_register_methods(self):
        yield MethodSpec(name="nan", config=NanConfig, factory=NanDummy, data_kind="paired")


def test_nonfinite_losses_stop_with_a_clear_error(data, tmp_path):
    host = PluginHost(autoload=False, plugins=[("dummy", dummy_plugin), ("nan", NanPlugin())])
    from i2i import api

    cfg = api.load_config(
        method="nan",
        host=host,
        overrides={
            "data.root": str(data),
            "data.image_size": 16,
            "data.load_size": 16,
            "data.num_workers": 0,
            "train.device": "cpu",
            "train.precision": "fp32",
            "train.steps": 50,
            "train.max_bad_steps": 4,
            "train.log_every": 1,
            "train.batch_size": 2,
        },
    )
    trainer = Trainer(cfg, out_dir=tmp_path, host=host, progress=False)
    with pytest.raises(NonFiniteError, match=r"4 consecutive steps .*train.max_bad_steps"):
        trainer.fit()
    assert trainer.step == 7 and trainer.bad_total == 4
    assert all(torch.isfinite(p).all() for p in trainer.method.parameters())  # bad updates were skipped
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(v) for r in rows for v in r["losses"].values())


def test_config_errors(data, tmp_path):
    assert resolve_precision("auto", torch.device("cpu")) in ("bf16", "fp32")
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(ConfigError, match="train.precision: unknown"):
        resolve_precision("fp8", torch.device("cpu"))
    host = dummy_host()
    with pytest.raises(ConfigError, match="train.schedule"):
        Trainer(dummy_config(host, data, schedule="wobbly"), out_dir=tmp_path, host=host)
    with pytest.raises(ConfigError, match="fp16"):
        Trainer(dummy_config(host, data, precision="fp16"), out_dir=tmp_path, host=host).fit()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORLD_SIZE", "3")
        with pytest.raises(ConfigError, match="batch_size: 2 is not divisible by the 3 processes"):
            Trainer(dummy_config(host, data), out_dir=tmp_path, host=host).fit()
    with pytest.raises(UsageError, match="nothing to resume"):
        Trainer(dummy_config(host, data), out_dir=tmp_path / "empty", resume=True, host=host)


def test_progress_bar_on_a_tty_and_lines_elsewhere():
    class TTY(io.StringIO):
        def isatty(self):
            return True

    tty, plain = TTY(), io.StringIO()
    for stream in (tty, plain):
        bar = Progress(10, stream=stream)
        for step in range(1, 11):
            bar.update(step)
            if step % 5 == 0:
                bar.log(step, {"G/loss": 1.5})
        bar.close()
    assert "\r" in tty.getvalue() and "10/10" in tty.getvalue() and "it/s" in tty.getvalue()
    assert plain.getvalue().splitlines()[0].startswith("step 5/10") and "\r" not in plain.getvalue()
    assert "G: loss=1.5" in plain.getvalue() and "ETA" in plain.getvalue()


def test_gradient_scaler_logic_without_a_gpu():
    """The fp16 path's bookkeeping, with torch's CPU GradScaler standing in for CUDA's."""
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([w], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8, growth_interval=1000)
    ctx = TrainContext({"D": opt}, Precision(torch.device("cpu"), "fp16", scaler), device=torch.device("cpu"))
    ctx.backward((w * 3).sum())
    ctx.step("D")
    ctx.backward((w * 3).sum())
    ctx.step("D")  # the same optimizer twice in one train step: the scaler is updated in between
    ctx.end_step()
    assert torch.allclose(w.detach(), torch.full((2,), 1 - 2 * 0.3))  # gradients were unscaled
    ctx.backward(w.sum() * float("inf"))
    ctx.step("D")
    ctx.end_step()
    assert ctx.skipped["D"] == 1 and scaler.get_scale() == 2.0**7  # skipped, scale backed off
    assert torch.allclose(w.detach(), torch.full((2,), 0.4))


def test_ema_averages_parameters_copies_buffers_and_swaps_back():
    from i2i.train.ema import EMA

    g = torch.nn.BatchNorm2d(2)
    ema = EMA({"G": g}, decay=0.75)
    with torch.no_grad():
        g.weight.fill_(5.0)
        g.running_mean.fill_(3.0)
    ema.update()
    assert torch.allclose(ema.shadow["G"]["weight"], torch.full((2,), 0.75 * 1 + 0.25 * 5))
    assert torch.equal(ema.shadow["G"]["running_mean"], torch.full((2,), 3.0))  # buffers copied
    with ema.swapped():
        assert torch.allclose(g.weight, torch.full((2,), 2.0))
    assert torch.equal(g.weight.detach(), torch.full((2,), 5.0))  # the live weights come back
    with pytest.raises(ConfigError, match=r"train.ema: must be in \(0.0, 1.0\), got 1.5"):  # the config's rule
        config.structure({"ema": 1.5}, TrainConfig, "train")


def test_ctx_global_step_and_the_deprecated_int_spelling():
    import warnings

    from i2i.method import StepContext

    ctx = TrainContext({}, Precision(torch.device("cpu"), "fp32"), device=torch.device("cpu"))
    ctx.begin_step(6)
    assert isinstance(ctx, StepContext)  # the protocol no longer declares step twice
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ctx.global_step == 6 and callable(ctx.step)  # the new spellings never warn
    with pytest.warns(DeprecationWarning, match="use ctx.global_step"):
        assert ctx.step % 4 == 2
    with pytest.warns(DeprecationWarning):
        assert int(ctx.step) == 6
