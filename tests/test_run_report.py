"""What a run tells its user: the start-up overview, honest progress, the sample grids and the
report page (issue 19)."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from train_support import dummy_config, dummy_host, make_paired

from i2i import api
from i2i.train import progress as progress_mod
from i2i.train.progress import Progress, format_losses
from i2i.train.samples import collect_samples, grid
from i2i.train.trainer import Trainer


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_and_eta_are_measured_from_the_first_step(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(progress_mod.time, "monotonic", clock)
    stream = io.StringIO()
    bar = Progress(100, start=40, stream=stream, enabled=False)  # a resumed run at step 40
    clock.now += 60.0  # start-up: building data, networks, reading the checkpoint
    bar.update(41)  # the first step (warm-up) ends here
    assert bar.rate() == 0.0 and "-- it/s" in bar.status()
    for step in range(42, 52):  # then 10 steps at 4 steps per second
        clock.now += 0.25
        bar.update(step)
    assert bar.rate() == pytest.approx(4.0) and bar.steps_timed() == 10 and bar.train_seconds() == pytest.approx(2.5)
    assert "4.00 it/s ETA 00:12" in bar.status()  # 49 steps left at 4 it/s, not 49 / (11 / 62.5)
    assert bar.first_step_seconds() == pytest.approx(60.0)


def test_every_loss_is_shown_grouped_by_player():
    losses = {"G/gan_A": 1.0, "G/cycle_A": 5.5, "G/idt_A": 2.25, "G/idt_B": 2.0, "D/A": 0.4, "D/B": 0.3, "lr": 0.1}
    text = format_losses(losses)
    assert text == "G: gan_A=1 cycle_A=5.5 idt_A=2.25 idt_B=2 | D: A=0.4 B=0.3 | lr=0.1"


def test_terminal_display_has_a_loss_line_and_messages_clear_it():
    class TTY(io.StringIO):
        def isatty(self):
            return True

    stream = TTY()
    bar = Progress(10, stream=stream)
    bar.update(1)
    bar.log(2, {"G/a": 1.0, "G/b": 2.0, "D/c": 3.0})
    bar.message("hello")
    bar.close()
    out = stream.getvalue()
    assert "\n\033[KG: a=1 b=2 | D: c=3\r\033[A" in out  # second line, cursor back up
    assert "\r\033[K\033[B\r\033[K\033[Ahello\n" in out  # both lines erased before a message


def _unpaired(root: Path, n_a: int, n_b: int, size: tuple[int, int] = (24, 16), splits=("train", "test")) -> Path:
    rng = np.random.default_rng(0)
    for split in splits:
        for domain, n in (("A", n_a), ("B", n_b)):
            folder = root / f"{split}{domain}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(
                    folder / f"{domain}{i}.png"
                )
    return root


def test_samples_are_whole_images_at_their_aspect_ratio_without_repeats(tmp_path):
    import torch

    root = _unpaired(tmp_path / "data", n_a=3, n_b=1, size=(24, 16))  # testB shorter than testA: B would repeat
    cfg = api.load_config(
        method="cyclegan",
        overrides={"data.root": str(root), "data.image_size": 8, "data.load_size": 8, "method.n_layers_D": 1},
    )
    samples = collect_samples(cfg.data, "unpaired", 4, torch.device("cpu"), 4)
    assert samples.split == "test" and len(samples.images) == 1  # B0 may appear in one row only
    batch = samples.images[0].batch
    assert batch.a.shape[-2:] == (8, 12) and batch.b.shape[-2:] == (8, 12)  # shorter side 8, 3:2 kept

    root = _unpaired(tmp_path / "wide", n_a=3, n_b=3, size=(24, 16))
    cfg = api.load_config(
        method="cyclegan",
        overrides={"data.root": str(root), "data.image_size": 8, "data.load_size": 8, "method.n_layers_D": 1},
    )
    samples = collect_samples(cfg.data, "unpaired", 4, torch.device("cpu"), 4)
    assert len(samples.images) == 3 and len({im.batch.names_a[0] for im in samples.images}) == 3
    rows = [
        {"x": torch.zeros(3, 8, 12, dtype=torch.uint8), "y": torch.zeros(3, 8, 8, dtype=torch.uint8)},
        {"x": torch.zeros(3, 4, 4, dtype=torch.uint8)},
    ]
    image = grid(rows)
    assert tuple(image.shape) == (3, 2 + 10 + 6, 2 + 2 * 14)  # rows keep their own size, padded white


def test_overview_and_report_say_what_was_read_and_what_was_evaluated_on(tmp_path):
    host = dummy_host()
    root = make_paired(tmp_path / "data", n_train=6, n_test=0)
    shutil.rmtree(root / "test")  # no test split: evaluated on the training images
    (root / "train" / "A" / "007.png").write_bytes(b"")  # an empty file: skipped at the scan
    cfg = dummy_config(host, root, steps=4, log_every=2, sample_every=2)
    err = io.StringIO()
    trainer = Trainer(cfg, out_dir=tmp_path / "out", host=host, progress=False)
    monkey = pytest.MonkeyPatch()
    monkey.setattr(sys, "stderr", err)
    try:
        with pytest.warns(UserWarning):
            trainer.fit()
    finally:
        monkey.undo()
    console = err.getvalue()
    head = console.split("step 2/4")[0]  # the overview comes before the first step
    for fact in (
        "paired_folders",
        "6 pairs",
        "the training images (no test/ or val/ split)",
        "1 (1 empty file (0 bytes)",
        "16 px",
        "G Sequential",
        "cpu",
        "fp32",
        "batch        2",
        "steps        4",
        str(tmp_path / "out"),
    ):
        assert fact in head, (fact, head)
    assert "evaluation on 6 training images (the data has no test/ or val/ split)" in console
    page = (tmp_path / "out" / "index.html").read_text()
    assert "not held out" in page and "held-out test images" not in page
    assert "it/s" in page and "images/s" in page and "start-up" in page
    assert page.count("<img ") == 2 and "earlier samples (1)" in page  # the newest large, the older folded


def test_unpaired_run_reports_swd_with_its_floor_and_the_domain_classifier(tmp_path, monkeypatch):
    from i2i.train import evaluation

    monkeypatch.setattr(evaluation, "CLASSIFIER_STEPS", 5)  # the measures, not the classifier's quality
    root = _unpaired(tmp_path / "data", n_a=6, n_b=6, size=(32, 32))
    overrides = {
        "data.root": str(root),
        "data.image_size": 32,
        "data.load_size": 32,
        "data.num_workers": 0,
        "method.ngf": 4,
        "method.ndf": 4,
        "method.netG": "resnet_6blocks",
        "train.steps": 2,
        "train.device": "cpu",
        "train.precision": "fp32",
        "train.eval_images": 6,
        "train.log_every": 1,
    }
    cfg = api.load_config(method="cyclegan", overrides=overrides)
    trainer = Trainer(cfg, out_dir=tmp_path / "out", progress=False)
    metrics = trainer.fit()
    table = trainer.evaluation.table
    assert {"model", "real", "identity"} <= set(table["swd_a2b"]) and {"model", "real"} <= set(table["accuracy_a2b"])
    assert "swd_b2a" in table and "cycle_a2b" in table
    assert "eval/swd_a2b" in metrics and "eval/swd_a2b/real" in metrics
    assert trainer.evaluation.on.startswith("6 held-out test images")
    page = (tmp_path / "out" / "index.html").read_text()
    assert "swd_a2b" in page and "accuracy_a2b" in page and "real-vs-real" not in page.split("<h2>Evaluation</h2>")[0]
