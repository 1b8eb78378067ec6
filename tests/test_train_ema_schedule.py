"""EMA warm-up (and the end-of-run evaluation of both weight sets) and the plateau schedule's
reference defaults."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_support import dummy_config, dummy_host, make_paired

from i2i.errors import ConfigError
from i2i.train.config import TrainConfig
from i2i.train.ema import EMA
from i2i.train.schedule import Schedules
from i2i.train.trainer import Trainer


def test_ema_decay_warms_up_like_timm_and_tensorflow():
    g = torch.nn.Linear(1, 1)
    ema = EMA({"G": g}, decay=0.999)
    assert ema.decay_at(0) == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    assert ema.decay_at(90) == pytest.approx(91 / 100)
    assert ema.decay_at(10**6) == 0.999  # capped at the configured decay
    assert EMA({"G": g}, decay=0.999, warmup=False).decay_at(0) == 0.999


def test_short_run_ema_tracks_the_weights_instead_of_the_random_init():
    """800 updates at 0.999 without warm-up keep 45% of the initial weights; with it, ~1%."""
    torch.manual_seed(0)
    g = torch.nn.Linear(4, 4)
    init = g.weight.detach().clone()
    warm, plain = EMA({"G": g}, 0.999), EMA({"G": g}, 0.999, warmup=False)
    with torch.no_grad():
        g.weight.add_(1.0)  # the trained weights: init + 1
    for step in range(800):
        warm.update(step)
        plain.update(step)
    share = lambda e: ((e.shadow["G"]["weight"] - init - 1.0).abs().mean()).item()
    assert share(plain) == pytest.approx(0.999**800, rel=1e-3)  # ~0.45: mostly the init
    assert share(warm) < 0.02


def test_ema_update_without_step_uses_the_plain_decay():
    g = torch.nn.Linear(1, 1, bias=False)
    ema = EMA({"G": g}, decay=0.5)
    with torch.no_grad():
        g.weight.fill_(2.0)
    start = ema.shadow["G"]["weight"].clone()
    ema.update()
    assert torch.allclose(ema.shadow["G"]["weight"], 0.5 * start + 0.5 * 2.0)


def test_end_of_run_eval_reports_ema_and_raw_weights(tmp_path):
    host = dummy_host()
    cfg = dummy_config(host, make_paired(tmp_path / "data"), steps=4, ema=0.999, eval_images=4)
    trainer = Trainer(cfg, out_dir=tmp_path / "run", host=host, progress=False)
    final = trainer.fit()
    ema_keys = {k for k in final if k.startswith("eval/") and not k.startswith("eval/raw/")}
    raw_keys = {k for k in final if k.startswith("eval/raw/")}
    assert ema_keys and {k.replace("eval/raw/", "eval/") for k in raw_keys} == ema_keys
    # after 4 warmed-up updates the average is close to, but not equal to, the raw weights
    assert any(final[k] != final[k.replace("eval/", "eval/raw/")] for k in ema_keys)


def test_end_of_run_eval_without_ema_has_no_raw_rows(tmp_path):
    host = dummy_host()
    cfg = dummy_config(host, make_paired(tmp_path / "data"), steps=2, eval_images=4)
    final = Trainer(cfg, out_dir=tmp_path / "run", host=host, progress=False).fit()
    assert any(k.startswith("eval/") for k in final) and not any(k.startswith("eval/raw/") for k in final)


def test_plateau_defaults_are_the_references():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=1.0)
    sched = Schedules({"G": opt}, TrainConfig(schedule="plateau"), 4).schedulers["G"]
    assert (sched.mode, sched.factor, sched.threshold, sched.patience, sched.threshold_mode) == (
        "min",
        0.2,
        0.01,
        5,
        "rel",
    )


def test_plateau_reduces_by_the_factor_after_patience_stalled_epochs():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=1.0)
    schedules = Schedules({"G": opt}, TrainConfig(schedule="plateau"), 4)
    # improvements smaller than 1% relative do not count (threshold 0.01)
    for loss in [1.0, 0.995, 0.992, 0.991, 0.99, 0.995]:
        schedules.epoch_end({"G/loss": loss})
    assert schedules.lrs()["G"] == 1.0
    schedules.epoch_end({"G/loss": 0.995})  # the 6th epoch without a 1% improvement
    assert schedules.lrs()["G"] == pytest.approx(0.2)


@pytest.mark.parametrize("key, value", [("plateau_factor", 1.5), ("plateau_threshold", -1.0)])
def test_bad_plateau_settings_are_config_errors(key, value):
    from i2i.config import run as config

    with pytest.raises(ConfigError, match=f"train.{key}: must be"):  # the config class's own rule
        config.structure({"schedule": "plateau", key: value}, TrainConfig, "train")
