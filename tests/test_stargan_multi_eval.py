"""``i2i eval`` of a StarGAN trained on several labelled datasets: one domain classifier per
dataset, each dataset's accuracy (and the cross-dataset control) with the dataset named, every
dataset's images read once from its own folder; and the two-dataset demo config end to end.

Tiny networks (8 wide, 32 px), a few steps, the demos shrunk to a few images per domain.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import i2i
from i2i.cli import main
from i2i.data.sources import own_labels
from i2i.eval import EvalSettings, evaluate
from i2i.eval.runner import Evaluation

CONFIG = Path(__file__).resolve().parents[1] / "examples" / "configs" / "demo_two_datasets_stargan.toml"
TINY = {"g_conv_dim": 8, "d_conv_dim": 8, "g_repeat_num": 1, "d_repeat_num": 3, "image_size": 32}
COLUMNS = {"model", "identity", "mean_image", "real"}


def ok(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code in (0, None)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped two-dataset demo config, trained 4 steps at test size on shrunk demos."""
    from i2i.data import demo

    tmp = tmp_path_factory.mktemp("two")
    patch = pytest.MonkeyPatch()
    patch.setenv("I2I_CACHE_DIR", str(tmp / "cache"))
    patch.setattr(demo, "TRAIN_PER_DOMAIN", 4)
    patch.setattr(demo, "TEST_PER_DOMAIN", 2)
    out = tmp / "run"
    args = ["run", "--config", str(CONFIG), "--steps", "4", "--batch-size", "2", "--out", str(out)]
    args += ["--set=data.image_size=32", "--set=data.load_size=32", "--set=data.num_workers=0"]
    args += ["--set=train.eval_at_end=false", "--set=method.n_critic=1"]
    args += [f"--set=method.{k}={v}" for k, v in TINY.items()]
    ok(args)
    yield out
    patch.undo()


def test_the_demo_config_trains_evaluates_per_dataset_and_translates_both_families(
    demo_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    report = tmp_path / "eval.json"
    ok(["eval", str(demo_run / "last.pt"), "--device", "cpu", "--classifier-steps", "3", "--json", str(report)])
    printed = capsys.readouterr().out
    table = json.loads(report.read_text())["table"]
    accuracy = sorted(m for m in table if m.startswith("accuracy"))
    # one row per dataset, and the other dataset's images translated to its labels beside it
    assert accuracy == [
        "accuracy_frames",
        "accuracy_frames_from_inversions",
        "accuracy_inversions",
        "accuracy_inversions_from_frames",
    ]
    for row in accuracy:
        assert set(table[row]) == COLUMNS and row in printed
        assert all(0.0 <= v <= 1.0 for v in table[row].values())
    assert {"swd_inversions", "swd_frames", "cycle_inversions", "cycle_frames"} <= set(table)
    for row in ("kept_inversions_under_frames", "kept_frames_under_inversions"):  # independence of the two families
        assert set(table[row]) == COLUMNS and row in printed
        assert table[row]["identity"] == pytest.approx(table[row]["real"])
    assert "8 inversions + 6 frames images (each used once)" in printed  # each dataset's own test split
    # translate: one output per label of both families, and a combined target applying both
    photo = tmp_path / "in" / "p.png"
    photo.parent.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(photo)
    grid = tmp_path / "grid"
    ok(["translate", str(demo_run / "last.pt"), str(photo), "--out", str(grid), "--target", "all", "--device", "cpu"])
    labels = ("blue_inverted", "mono", "natural", "red_inverted", "dark_frame", "light_frame", "unframed")
    assert {f"p_{name}.png" for name in labels} <= {p.name for p in grid.iterdir()}
    both = tmp_path / "both"
    ok(
        [
            "translate",
            str(demo_run / "last.pt"),
            str(photo),
            "--out",
            str(both),
            "--target",
            "blue_inverted,dark_frame",
            "--device",
            "cpu",
        ]
    )
    assert Image.open(both / "p.png").size == (48, 40)


def test_every_dataset_is_read_once_from_its_own_folder(demo_run: Path) -> None:
    """The training sampler hands out whole batches of one dataset and repeats the smaller one:
    read through it, a split can miss a dataset entirely (the cause of "no training images")."""
    translator = i2i.load_checkpoint(demo_run / "last.pt", device="cpu")
    ev = Evaluation(translator, None, EvalSettings(batch_size=16, num_workers=0), lambda _: None)
    sources = translator.method.data_info.sources
    for split, per_domain in (("train", 4), ("test", 2)):
        pooled = ev.collect(split, 1000)
        parts = own_labels(pooled.labels, sources)
        assert [len(rows) for rows, _ in parts] == [4 * per_domain, 3 * per_domain]
        for rows, own in parts:  # every domain of every dataset, each image once
            assert own.sum(0).tolist() == [per_domain] * own.shape[1]
            assert len({tuple(pooled.a[i].flatten().tolist()) for i in rows.tolist()}) == len(
                rows
            )  # whole images: framed ones share a border
    assert [len(rows) for rows, _ in own_labels(ev.collect("train", 5).labels, sources)] == [5, 5]
    with pytest.raises(i2i.UsageError, match="--data"):
        Evaluation(translator, "/some/folder", EvalSettings(), lambda _: None)


def test_each_dataset_is_judged_by_its_own_classifier_against_its_own_labels(
    demo_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An oracle translator that answers every target with real held-out images of that label
    must score exactly the classifier's accuracy on real images, on every row: the rows pair
    each target with the right dataset's classifier and class index."""
    translator = i2i.load_checkpoint(demo_run / "last.pt", device="cpu")
    sources = translator.method.data_info.sources
    real: dict[str, torch.Tensor] = {}

    def oracle(self: Evaluation, x: torch.Tensor, *, single: bool = True, per_sample=None, **options):
        if not real:
            for source, (rows, own) in zip(sources, own_labels(self.test.labels, sources)):
                for k, name in enumerate(source.domains):
                    real[name] = self.test.a[rows[own[:, k] == 1]]
        return {name: images[torch.arange(len(x)) % len(images)] for name, images in real.items()}

    monkeypatch.setattr(Evaluation, "translate", oracle)
    settings = EvalSettings(metrics=("accuracy",), classifier_steps=5, classifier_cache=False, num_workers=0)
    report = evaluate(translator, settings=settings)
    rows = {m: r for m, r in report.table.items() if m.startswith("accuracy")}
    assert len(rows) == 4
    for row in rows.values():
        assert row["model"] == pytest.approx(row["real"])


def test_kept_rows_judge_each_image_against_its_own_label_under_the_other_familys_labels() -> None:
    """``kept_<s>_under_<other>``: s's images translated to each of the other family's labels,
    judged by s's classifier against each image's own s label. A classifier that reads the
    label off the pixels: translations that change nothing keep every label (model = identity
    = real = 1); translations that hand each row its neighbour's image keep only those rows
    whose neighbour shares the label; the other family's labels missing from the outputs add
    no row."""
    from types import SimpleNamespace

    from i2i.eval.labelled import LabelSet, kept_accuracy
    from i2i.eval.report import EvalReport
    from i2i.eval.runner import Split

    own = torch.tensor([0, 0, 1, 2, 2, 2])  # tones of six held-out images
    x = own.float()[:, None, None, None].expand(-1, 3, 4, 4) / 10
    tones = LabelSet("tones", ("a", "b", "c"), ("a", "b", "c"), False, Split(x, labels=torch.eye(3)[own]), Split(x))
    frames = LabelSet("frames", ("f", "g"), ("f", "g"), False, Split(x[:2]), Split(x[:2]))
    reader = SimpleNamespace(predict=lambda images: (images.mean((1, 2, 3)) * 10).round().long())
    ev = SimpleNamespace(report=EvalReport(method="m", checkpoint="c", data="d", step=0, images=6))
    kept_accuracy(ev, "kept_tones_under_frames", reader, {"f": x, "g": x}, frames, tones, x * 0 + 0.9, 1.0)
    assert ev.report.table["kept_tones_under_frames"] == {"model": 1.0, "identity": 1.0, "mean_image": 0.0, "real": 1.0}
    kept_accuracy(ev, "shuffled", reader, {"f": x.roll(1, 0), "a": x * 0}, frames, tones, x, 1.0)
    assert ev.report.table["shuffled"]["model"] == pytest.approx(3 / 6)  # rows 1, 4, 5 keep their label
    kept_accuracy(ev, "none", reader, {"a": x}, frames, tones, x, 1.0)
    assert "none" not in ev.report.table


def test_a_shared_label_name_needs_the_declared_qualified_target(demo_run: Path) -> None:
    from types import SimpleNamespace

    from i2i.eval.labelled import source_sets
    from i2i.eval.runner import Split

    translator = i2i.load_checkpoint(demo_run / "last.pt", device="cpu")
    ev = Evaluation(translator, None, EvalSettings(num_workers=0), lambda _: None)
    sets = source_sets(ev, ev.collect("test", 100), translator.method.data_info.sources)
    assert [(s.name, s.keys, len(s.test.a), len(s.train.a)) for s in sets] == [
        ("inversions", ("blue_inverted", "mono", "natural", "red_inverted"), 8, 16),
        ("frames", ("dark_frame", "light_frame", "unframed"), 6, 12),
    ]
    assert translator.method.eval_capabilities.qualified_target == "{source}:{label}"
    shared = (i2i.LabelSource("day", ("sunny", "plain")), i2i.LabelSource("focus", ("blurred", "plain")))
    labels = torch.tensor([[1.0, 0, 0, 0, 1, 0], [0, 0, 0, 1, 0, 1]])  # [day(2), focus(2), mask(2)]
    split = Split(a=torch.zeros(2, 3, 32, 32), labels=labels)
    fake = SimpleNamespace(
        data_config=translator.config.data,
        train_split=lambda: split,
        caps=translator.method.eval_capabilities,
        report=SimpleNamespace(method="m", counts={}),
    )
    keys = [(s.keys, s.test.labels.tolist()) for s in source_sets(fake, split, shared)]
    assert keys == [(("sunny", "day:plain"), [[1.0, 0.0]]), (("blurred", "focus:plain"), [[0.0, 1.0]])]
    fake.caps = i2i.EvalCapabilities(target="target")
    with pytest.raises(i2i.UsageError, match="'plain' is shared by two data sources.*qualified_target"):
        source_sets(fake, split, shared)


def test_the_demo_colour_families_are_visible_to_the_rank_normalised_classifier() -> None:
    """Why the two-dataset demo's colour family is ``inversions`` (and was ``tones``), never
    ``grades``: the domain classifier equalises each channel, which erases a per-channel gain
    (``grades``' cool) but not a change in how the channels relate (grey, one channel inverted,
    red/blue swapped)."""
    # function-local: the demo builders and the classifier are only this test's subject
    from i2i.data.demo import INVERSIONS, TONES, grade, inversion, tone
    from i2i.eval.classifier import rank_normalize

    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1
    seen = {name: rank_normalize(tone(x, name) * 2 - 1) for name in TONES}
    assert (rank_normalize(grade(x, "cool") * 2 - 1) - seen["natural"]).abs().mean() < 0.02  # ties aside, equal
    for name in ("mono", "negative", "swapped"):
        assert (seen[name] - seen["natural"]).abs().mean() > 0.2
    assert torch.equal(tone(x, "swapped"), x.flip(1)) and torch.allclose(tone(x, "negative"), 1 - x)
    assert torch.equal(tone(x, "mono")[:, 0], tone(x, "mono")[:, 2])
    looks = {name: rank_normalize(inversion(x, name) * 2 - 1) for name in INVERSIONS}
    for name in ("mono", "red_inverted", "blue_inverted"):
        assert (looks[name] - looks["natural"]).abs().mean() > 0.2, name
    assert (looks["red_inverted"] - looks["blue_inverted"]).abs().mean() > 0.2
