"""End-of-run held-out metrics (i2i.eval.summary) and the TensorBoard logger plugin."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from train_support import dummy_config, dummy_host, make_paired

from i2i.data.batch import Batch
from i2i.eval.summary import format_table, summarize
from i2i.method import DataInfo
from i2i.train import loggers
from i2i.train.trainer import Trainer


class FakeData:
    """A held-out DataModule stand-in: pre-made batches, ``augment`` passes them through."""

    def __init__(self, kind: str, batches: list[Batch]) -> None:
        self.info = DataInfo(kind=kind)
        self.loader = batches

    def augment(self, raw, device, train=True, pad=True):
        assert train is False and pad is False  # unpadded: summarize pads and crops back itself
        return raw.to(device)


class Fixed(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def translate(self, x):
        return self.fn(x)


def _batches(n: int, paired: bool) -> list[Batch]:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        a = torch.rand(3, 3, 8, 8, generator=g) * 2 - 1
        out.append(Batch(a=a, b=(-a if paired else None)))
    return out


def test_paired_psnr_with_baselines():
    data = FakeData("paired", _batches(3, paired=True))
    perfect = summarize(Fixed(lambda x: -x), data, torch.device("cpu"), None, max_images=64)
    assert perfect["images"] == 9 and perfect["psnr"] == pytest.approx(100.0)  # mse clamped at 1e-10
    identity = summarize(Fixed(lambda x: x), data, torch.device("cpu"), None, max_images=5)
    assert identity["images"] == 5
    assert identity["psnr"] == pytest.approx(identity["psnr_identity"])
    # the mean-colour baseline: a constant image of the targets' mean colour scores exactly that
    mean = torch.cat([b.b for b in data.loader])[:5].mean(dim=(0, 2, 3)).view(1, 3, 1, 1)
    flat = summarize(
        Fixed(lambda x: mean.expand_as(x)),
        data,
        torch.device("cpu"),
        torch.autocast("cpu", enabled=False),
        max_images=5,
    )
    assert flat["psnr"] == pytest.approx(identity["psnr_mean_color"], rel=1e-6)
    assert 0 < identity["psnr_identity"] < identity["psnr_mean_color"] < perfect["psnr"]
    table = format_table(identity)
    assert "psnr_identity" in table and len(table.splitlines()) == 2 + len(identity)


def test_unpaired_change():
    data = FakeData("unpaired", _batches(2, paired=False))
    same = summarize(Fixed(lambda x: x), data, torch.device("cpu"), None)
    assert same == {"images": 6.0, "l1_change": 0.0}
    inverted = summarize(Fixed(lambda x: -x), data, torch.device("cpu"), None)
    assert 0.3 < inverted["l1_change"] < 0.7 and "psnr" not in inverted


def test_tensorboard_logger_is_inactive_without_tensorboard(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import fails
    assert not loggers.tensorboard_available()
    host = dummy_host()
    cfg = dummy_config(host, make_paired(tmp_path / "data"), steps=4, eval_at_end=False)
    Trainer(cfg, out_dir=tmp_path / "out", host=host, progress=False).fit()
    assert not (tmp_path / "out" / "tensorboard").exists()
    assert "i2i.loggers" in host.plugin_names()


def test_tensorboard_logger_writes_through_the_hooks(tmp_path, monkeypatch):
    events: list[tuple] = []

    class FakeWriter:
        def __init__(self, log_dir):
            events.append(("open", log_dir))

        def add_scalar(self, tag, value, step):
            events.append(("scalar", tag, step))

        def add_image(self, tag, image, step):
            assert image.dtype == torch.uint8 and image.dim() == 3
            events.append(("image", tag, step))

        def flush(self):
            pass

        def close(self):
            events.append(("close",))

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = FakeWriter
    monkeypatch.setitem(sys.modules, "tensorboard", types.ModuleType("tensorboard"))
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    host = dummy_host()
    cfg = dummy_config(host, make_paired(tmp_path / "data"), steps=4, log_every=2, sample_every=4)
    Trainer(cfg, out_dir=tmp_path / "out", host=host, progress=False).fit()
    assert events[0] == ("open", str(tmp_path / "out" / "tensorboard"))
    assert ("scalar", "G/loss", 2) in events and ("scalar", "lr/G", 4) in events
    assert ("image", "samples/output", 4) in events and ("scalar", "eval/psnr", 4) in events
    assert events[-1] == ("close",)
