"""``Method.eval_capabilities``: what a method declares decides what ``i2i eval`` measures.

The evaluator reads no option names of its own: a method whose direction option is called
``way`` (values ``forward``/``backward``) gets both directions and the cycle because it says so,
and loses them when it declares nothing. Also: unpaired test splits count each image once, the
domain classifier is cached per training set, and a method's own metrics run through the
read-only ``EvalContext``.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import attrs
import pytest
import torch
from eval_support import make_unpaired
from inference_support import write_checkpoint
from torch import nn

import i2i
from i2i import EvalCapabilities, EvalMetric
from i2i.eval.runner import EvalSettings, check_metrics, evaluate
from i2i.plugins.host import PluginHost, set_host

FAST = dict(classifier_steps=10, classifier_size=16, num_workers=0, samples=3, batch_size=8, max_train_images=24)


@attrs.frozen
class SwapConfig:
    width: int = 4


def _mean_brightness(ctx) -> dict[str, dict[str, float]]:
    """A method's own metric: mean output brightness on held-out A images, vs the inputs'."""
    out = ctx.translate(ctx.test().a, way="forward")[""]
    ctx.note("brightness: a test metric")
    return {"brightness_a2b": {"model": float(out.mean()), "identity": float(ctx.test().a.mean())}}


class Swap(i2i.Method):
    """Two 1x1-conv generators; the direction option is called ``way``."""

    data_kind = i2i.UNPAIRED
    generator_names = ("G_A", "G_B")
    eval_capabilities = EvalCapabilities(
        directions=EvalCapabilities.two_directions("way", "forward", "backward"),
        keeps_target_domain=True,
        metrics=(EvalMetric("brightness", "mean output value in [-1, 1] (a test metric)", _mean_brightness),),
    )

    def __init__(self, config: SwapConfig, data_info: i2i.DataInfo) -> None:
        super().__init__(config, data_info)
        self.G_A = nn.Sequential(nn.Conv2d(data_info.channels_a, data_info.channels_b, 1), nn.Tanh())
        self.G_B = nn.Sequential(nn.Conv2d(data_info.channels_b, data_info.channels_a, 1), nn.Tanh())

    def translate(self, x: torch.Tensor, way: str = "forward", **options) -> torch.Tensor:
        return (self.G_A if way == "forward" else self.G_B)(x)

    translate_options = (
        i2i.TranslateOption("way", choices=("forward", "backward"), help="forward (A -> B) or backward"),
    )


class Plain(Swap):
    """The same networks, declaring nothing: one direction, the kind's metrics only."""

    eval_capabilities = EvalCapabilities()


@i2i.hookimpl
def _register():
    for name, cls in (("swap", Swap), ("plain", Plain)):
        yield i2i.MethodSpec(
            name=name, config=SwapConfig, factory=cls, data_kind=i2i.UNPAIRED, description="test method"
        )


@pytest.fixture
def host() -> PluginHost:
    host = PluginHost(autoload=False, plugins=[("swap", SimpleNamespace(i2i_register_methods=_register))])
    set_host(host)
    return host


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("I2I_CACHE_DIR", str(tmp_path / "cache"))


def test_declared_capabilities_decide_the_metrics(host, tmp_path: Path) -> None:
    root = make_unpaired(tmp_path / "data", n_train=8, n_test=4)
    swap = evaluate(
        i2i.load_checkpoint(write_checkpoint(tmp_path / "s.pt", "swap", host)),
        data_root=str(root),
        settings=EvalSettings(**FAST),
    )
    table = swap.table
    for direction in ("a2b", "b2a"):
        assert set(table[f"cycle_{direction}"]) == {"model", "identity"}
        assert {"model", "identity", "mean_image", "real"} <= set(table[f"accuracy_{direction}"])
        assert table[f"idempotence_{direction}"]["identity"] == 0.0 and table[f"idempotence_{direction}"]["model"] > 0
    # the method's own metric: its rows, its definition under the table, its note
    assert set(table["brightness_a2b"]) == {"model", "identity"}
    text = swap.format()
    assert (
        "brightness: mean output value in [-1, 1] (a test metric)" in text and "note: brightness: a test metric" in text
    )
    assert "idempotence: L1 on [0,1] between a target-domain image" in text

    plain = evaluate(
        i2i.load_checkpoint(write_checkpoint(tmp_path / "p.pt", "plain", host)),
        data_root=str(root),
        settings=EvalSettings(**FAST),
    )
    assert "accuracy_a2b" in plain.table and not any(k.endswith("_b2a") for k in plain.table)
    assert not any(k.startswith(("cycle", "idempotence", "brightness")) for k in plain.table)
    assert any("cycle not computed" in note for note in plain.notes)


def test_a_methods_own_metric_names_are_accepted_only_for_it(host, tmp_path: Path) -> None:
    root = make_unpaired(tmp_path / "data", n_train=4, n_test=3)
    translator = i2i.load_checkpoint(write_checkpoint(tmp_path / "s.pt", "swap", host))
    report = evaluate(translator, data_root=str(root), settings=EvalSettings(metrics=("brightness",), **FAST))
    assert list(report.table) == ["brightness_a2b"]
    with pytest.raises(i2i.UsageError, match="unknown metric 'brightness'"):
        check_metrics(("brightness",))
    plain = i2i.load_checkpoint(write_checkpoint(tmp_path / "p.pt", "plain", host))
    with pytest.raises(i2i.UsageError, match="unknown metric 'brightness'"):
        evaluate(plain, data_root=str(root), settings=EvalSettings(metrics=("brightness",), **FAST))


def test_unpaired_test_images_are_each_used_once(host, tmp_path: Path) -> None:
    root = make_unpaired(tmp_path / "data", n_train=6, n_test=7)
    for i in range(3, 7):  # testB: 3 images, testA: 7
        (root / "testB" / f"{i:03d}.png").unlink()
    translator = i2i.load_checkpoint(write_checkpoint(tmp_path / "s.pt", "swap", host))
    report = evaluate(translator, data_root=str(root), settings=EvalSettings(metrics=("cycle", "idempotence"), **FAST))
    assert report.counts == {"a": 7, "b": 3}
    assert "7 A + 3 B images (each used once)" in report.format().splitlines()[0]
    assert report.to_json()["counts"] == {"a": 7, "b": 3}
    capped = evaluate(
        translator, data_root=str(root), settings=EvalSettings(metrics=("cycle",), **{**FAST, "max_images": 2})
    )
    assert capped.counts == {"a": 2, "b": 2}


def test_the_domain_classifier_is_trained_once_per_training_set(host, tmp_path: Path) -> None:
    root = make_unpaired(tmp_path / "data", n_train=8, n_test=4)
    translator = i2i.load_checkpoint(write_checkpoint(tmp_path / "s.pt", "swap", host))
    settings = EvalSettings(metrics=("accuracy",), **FAST)
    logs: list[list[str]] = [[], [], []]
    first = evaluate(translator, data_root=str(root), settings=settings, log=logs[0].append)
    second = evaluate(translator, data_root=str(root), settings=settings, log=logs[1].append)
    assert any(m.startswith("training the domain classifier") and "cached in" in m for m in logs[0])
    assert any(m.startswith("domain classifier: trained before") for m in logs[1])
    assert not any(m.startswith("training the domain classifier") for m in logs[1])
    assert first.table == second.table
    assert list((tmp_path / "cache" / "eval-classifiers").glob("*.pt"))
    again = evaluate(
        translator, data_root=str(root), settings=attrs.evolve(settings, classifier_cache=False), log=logs[2].append
    )
    assert any(m.startswith("training the domain classifier") for m in logs[2]) and again.table == first.table
    # other training images (or settings) are another classifier
    other = evaluate(
        translator,
        data_root=str(make_unpaired(tmp_path / "other", n_train=8, n_test=4, seed=1)),
        settings=settings,
        log=logs[0].append,
    )
    assert sum(m.startswith("training the domain classifier") for m in logs[0]) == 2 and other.table


def test_augcyclegan_reports_its_papers_measures(tmp_path: Path) -> None:
    host = PluginHost()
    set_host(host)
    if "augcyclegan" not in host.registry.names("method"):
        pytest.skip("augcyclegan plugin not installed")
    root = make_unpaired(tmp_path / "data", n_train=4, n_test=4)  # matching stems: also aligned pairs
    translator = i2i.load_checkpoint(write_checkpoint(tmp_path / "a.pt", "augcyclegan", host))
    metrics = ("latent_rec", "noise_sensitivity")
    report = evaluate(translator, data_root=str(root), settings=EvalSettings(metrics=metrics, **FAST))
    for direction in ("a2b", "b2a"):
        row = report.table[f"latent_rec_{direction}"]
        assert set(row) == {"model", "prior", "identity"} and all(0 <= v <= 1 for v in row.values())
        assert report.table[f"noise_sensitivity_{direction}"]["model"] >= 0
    assert "latent_rec: L1 on [0,1] of the target rebuilt" in report.format()
    # without aligned pairs the target is rebuilt from the model's own translation
    for i in range(4):
        (root / "testB" / f"{i:03d}.png").rename(root / "testB" / f"b{i:03d}.png")
    unaligned = evaluate(translator, data_root=str(root), settings=EvalSettings(metrics=("latent_rec",), **FAST))
    assert set(unaligned.table["latent_rec_a2b"]) == {"model", "prior"}
    assert any("model's own translation" in note for note in unaligned.notes)
