"""``i2i eval`` and its metrics: definitions checked on known cases, baselines beside every number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from eval_support import make_domains, make_unpaired
from inference_support import trained_dummy, write_checkpoint
from torch import nn
from train_support import dummy_host as make_dummy_host

import i2i
from i2i.cli.main import main
from i2i.errors import UsageError
from i2i.eval.classifier import accuracy, rank_normalize, train_classifier
from i2i.eval.distances import frechet_distance, kid
from i2i.eval.inception import fid_inception_v3, load_fid_inception
from i2i.eval.pixels import l1, psnr, ssim
from i2i.eval.runner import EvalSettings, evaluate
from i2i.eval.swd import swd
from i2i.method import DataInfo
from i2i.plugins.host import PluginHost, set_host

FAST = dict(classifier_steps=20, classifier_size=16, num_workers=0, samples=3, batch_size=8, max_train_images=24)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_dummy(tmp_path_factory.mktemp("run"), make_dummy_host())


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random FID-Inception weights in the pytorch-fid key layout (wide enough init that the
    features are not all ~0, so distinct sets really differ)."""
    torch.manual_seed(0)
    net = fid_inception_v3()
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight)
    path = tmp_path_factory.mktemp("inception") / "pt_inception-random.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture
def small_inception(monkeypatch) -> None:
    """Run the FID network at 75 px (its minimum) instead of 299: same code path, 16x cheaper."""
    monkeypatch.setattr("i2i.eval.inception.INPUT_SIZE", 75)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


# -- metric definitions --------------------------------------------------------------------------------
def test_paired_metrics_on_known_cases() -> None:
    x = torch.rand(2, 3, 24, 24)
    assert torch.allclose(psnr((x + 0.1).clamp(max=2), x + 0.1), torch.full((2,), 100.0))  # identical: capped
    offset = torch.full((1, 3, 24, 24), 0.5)
    assert torch.allclose(psnr(offset + 0.1, offset), torch.tensor([20.0]), atol=1e-4)  # MSE 0.01 -> 20 dB
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-5)
    assert ssim(x, torch.rand(2, 3, 24, 24)).max() < 0.2
    assert torch.allclose(l1(offset + 0.1, offset), torch.tensor([0.1]))


def test_frechet_distance_and_kid() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 6, generator=g, dtype=torch.float64)
    shift = torch.tensor([1.0, 2.0, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(x, x + shift) == pytest.approx(5.0, abs=1e-6)  # equal covariances: |mu1 - mu2|^2
    same, _ = kid(x[:200], x[200:], subset_size=100, subsets=50)
    different, _ = kid(x[:200], x[200:] + shift, subset_size=100, subsets=50)
    assert abs(same) < 0.05 < different


def test_swd_is_zero_for_one_set_and_sees_blur() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(16, 3, 32, 32, generator=g), torch.rand(16, 3, 32, 32, generator=g)
    blurred = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(b, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    same = swd(a, a)  # different random patches of one set: small, not zero
    assert set(same) == {"swd", "swd_32px", "swd_16px"}
    assert same["swd"] == pytest.approx(swd(a, a)["swd"])  # seeded: reproducible
    assert same["swd"] < swd(a, blurred)["swd"]
    assert swd(a, b)["swd"] < swd(a, blurred)["swd"]


def test_rank_normalisation_ignores_colour_statistics() -> None:
    levels = torch.randint(0, 80, (2, 3, 8, 8))  # a dull 8-bit image ...
    brighter = levels * 3 + torch.tensor([10, 0, 5]).view(1, 3, 1, 1)  # ... with contrast and a colour cast
    x, y = levels / 127.5 - 1, brighter / 127.5 - 1
    assert torch.equal(rank_normalize(x), rank_normalize(y))
    assert not torch.equal(x, y)
    flat = torch.zeros(1, 1, 4, 4)
    assert torch.equal(rank_normalize(flat), torch.ones(1, 1, 4, 4))  # ties share one value: flat stays flat


def test_domain_classifier_learns_structure_not_colour(tmp_path: Path) -> None:
    import numpy as np
    from eval_support import pattern

    rng = np.random.default_rng(0)

    def images(kind: str, n: int) -> torch.Tensor:
        return torch.stack(
            [torch.from_numpy(pattern(kind, 16, rng)).permute(2, 0, 1).float() / 127.5 - 1 for _ in range(n)]
        )

    train = torch.cat([images("horizontal", 24), images("vertical", 24)])
    labels = torch.cat([torch.zeros(24), torch.ones(24)])
    model = train_classifier(lambda: [(train[i::3], labels[i::3]) for i in range(3)], 2, steps=30, input_size=16)
    test = torch.cat([images("horizontal", 8), images("vertical", 8)])
    truth = torch.cat([torch.zeros(8), torch.ones(8)])
    assert accuracy(model, test, truth) == 1.0
    tinted = (test * 0.5 + torch.tensor([0.4, -0.3, 0.0]).view(1, 3, 1, 1)).clamp(-1, 1)  # a colour cast
    assert accuracy(model, tinted, truth) == 1.0


def test_fid_inception_plumbing(inception_file: Path, tmp_path: Path, small_inception) -> None:
    net = load_fid_inception(inception_file)
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1, torch.rand(4, 1, 40, 24, generator=g) * 2 - 1
    fa, fb = net.embed(a), net.embed(b)
    assert fa.shape == (4, 2048) and fb.shape == (4, 2048) and fa.std(0).mean() > 0
    assert frechet_distance(fa, fa) < 1e-6 * max(1.0, float(fa.var(0).sum()))
    assert frechet_distance(fa, fb) > 1e-3 * float(fa.var(0).sum())
    with pytest.raises(UsageError, match="pytorch-fid.*--inception-weights"):
        load_fid_inception(None)
    with pytest.raises(UsageError, match="not found"):
        load_fid_inception(tmp_path / "missing.pth")
    other = tmp_path / "other.pth"
    torch.save(nn.Linear(2, 2).state_dict(), other)
    with pytest.raises(UsageError, match="not the FID Inception weights"):
        load_fid_inception(other)


# -- whole evaluations -----------------------------------------------------------------------------------
def test_eval_paired_cli_table_json_and_hook(ckpt: Path, tmp_path: Path, dummy_host, capsys) -> None:
    seen: list[tuple[object, int, dict]] = []

    class Recorder:
        @i2i.hookimpl
        def i2i_eval_result(self, run, step, metrics):
            seen.append((run, step, dict(metrics)))

    dummy_host.pm.register(Recorder(), name="recorder")
    out = tmp_path / "report.json"
    code, stdout, err = run_cli(["eval", str(ckpt), "--json", str(out), "--workers", "0"], capsys)
    assert code == 0, err
    header = next(line for line in stdout.splitlines() if line.startswith("metric"))
    assert header.split() == ["metric", "model", "identity", "mean_image", "real"]
    assert "ssim: kornia SSIM, Gaussian window 11, sigma 1.5" in stdout
    assert "--inception-weights" in stdout  # says how to get FID
    data = json.loads(out.read_text())
    metrics = data["metrics"]
    for key in (
        "psnr",
        "psnr/identity",
        "psnr/mean_image",
        "ssim",
        "ssim/identity",
        "l1",
        "l1/mean_image",
        "swd",
        "swd/real",
    ):
        assert key in metrics, key
    assert data["images"] == 4 and data["step"] == 2 and data["method"] == "dummy"
    assert "fid" not in metrics and "kid_classifier" not in metrics  # never a self-trained "FID"
    # the numbers are the definitions applied to the model's outputs on the test split
    t = i2i.load_checkpoint(ckpt)
    from i2i.data.pipeline import build_data

    module = build_data(t.config.data, "paired", split="test", batch_size=8, shuffle=False)
    batch = module.augment(next(iter(module.loader)), "cpu", train=False)
    expected = psnr((t.translate(batch.a) + 1) / 2, (batch.b + 1) / 2).mean()
    assert metrics["psnr"] == pytest.approx(float(expected), abs=1e-3)
    assert seen and seen[0][0] is None and seen[0][1] == 2 and seen[0][2]["psnr"] == metrics["psnr"]


def test_eval_with_inception_weights_reports_fid_with_floor(
    ckpt: Path, inception_file: Path, tmp_path: Path, dummy_host, capsys, small_inception
) -> None:
    out = tmp_path / "r.json"
    code, _, err = run_cli(
        [
            "eval",
            str(ckpt),
            "--metrics",
            "fid,kid",
            "--inception-weights",
            str(inception_file),
            "--json",
            str(out),
            "--workers",
            "0",
            "--max-images",
            "3",
        ],
        capsys,
    )
    assert code == 0, err
    metrics = json.loads(out.read_text())["metrics"]
    assert {"fid", "fid/identity", "fid/mean_image", "fid/real", "kid", "kid/real"} <= set(metrics)
    assert "psnr" not in metrics  # --metrics restricts
    assert all(v >= 0 for k, v in metrics.items() if k.startswith("fid"))


def test_eval_unpaired_and_multimodal(tmp_path: Path) -> None:
    host = PluginHost()
    set_host(host)
    for name in ("cyclegan", "augcyclegan"):
        if name not in host.registry.names("method"):
            pytest.skip(f"{name} plugin not installed")
    root = make_unpaired(tmp_path / "data")
    settings = EvalSettings(**FAST)
    cyc = evaluate(
        i2i.load_checkpoint(write_checkpoint(tmp_path / "c.pt", "cyclegan", host)),
        data_root=str(root),
        settings=settings,
    )
    table = cyc.table
    for direction in ("a2b", "b2a"):
        assert (
            set(table[f"cycle_{direction}"]) == {"model", "identity"} and table[f"cycle_{direction}"]["identity"] == 0
        )
        assert set(table[f"swd_{direction}"]) == {"model", "identity", "mean_image", "real"}
        assert set(table[f"accuracy_{direction}"]) == {"model", "identity", "mean_image", "real"}
        assert table[f"accuracy_{direction}"]["real"] == 1.0  # held-out real accuracy of the classifier
        assert table[f"accuracy_{direction}"]["identity"] == 0.0  # the untouched input is the source domain
        assert "kid_classifier" not in {k.split("_a2b")[0] for k in table} or f"kid_classifier_{direction}" in table
    assert not any(k.startswith("diversity") for k in table)  # CycleGAN is not multimodal
    aug = evaluate(
        i2i.load_checkpoint(write_checkpoint(tmp_path / "a.pt", "augcyclegan", host)),
        data_root=str(root),
        settings=settings,
    )
    t = aug.table
    assert t["diversity_a2b"]["model"] > 0 and t["diversity_a2b"]["identity"] == 0 and t["diversity_a2b"]["real"] > 0
    # the folder's stems match, so it also reads as aligned pairs: best-of-K <= mean-of-K
    assert t["best_of_k_a2b"]["model"] <= t["mean_of_k_a2b"]["model"] + 1e-9
    assert {"identity", "mean_image"} <= set(t["best_of_k_b2a"])


def test_eval_stargan_target_accuracy(tmp_path: Path) -> None:
    host = PluginHost()
    set_host(host)
    if "stargan" not in host.registry.names("method"):
        pytest.skip("stargan plugin not installed")
    root = make_domains(tmp_path / "data")
    info = DataInfo(kind="labelled", domains=("checker", "horizontal", "vertical"))
    translator = i2i.load_checkpoint(write_checkpoint(tmp_path / "s.pt", "stargan", host, data_info=info))
    report = evaluate(translator, data_root=str(root), settings=EvalSettings(**FAST))
    acc = report.table["accuracy"]
    assert acc["real"] == 1.0
    assert acc["identity"] == pytest.approx(1 / 3, abs=1e-6)  # each input is right for one of three targets
    assert 0.0 <= acc["model"] <= 1.0
    assert report.table["cycle"]["identity"] == 0.0 and report.table["cycle"]["model"] > 0
    assert set(report.table["kid_classifier"]) == {"model", "identity", "mean_image", "real"}


def test_eval_without_data_uses_the_runs_demo_test_split(tmp_path: Path, dummy_host, capsys) -> None:
    from i2i import api
    from i2i.train.trainer import Trainer

    cfg = api.load_config(
        method="dummy",
        host=dummy_host,
        overrides={
            "train.steps": 1,
            "train.device": "cpu",
            "train.precision": "fp32",
            "data.num_workers": 0,
            "data.image_size": 16,
            "data.load_size": 16,
        },
    )
    assert cfg.data.root is None  # trained on the built-in demo
    Trainer(cfg, out_dir=tmp_path / "run", host=dummy_host, progress=False).fit()
    code, stdout, err = run_cli(["eval", str(tmp_path / "run"), "--max-images", "3", "--metrics", "psnr,l1"], capsys)
    assert code == 0, err
    assert "on the built-in demo" in stdout and ": 3 images" in stdout
    assert "psnr " in stdout and "swd" not in stdout.split("psnr:")[0]


@pytest.mark.parametrize("case", ["plain", "metric", "fid_without_weights", "not_applicable"])
def test_eval_cli_errors(case: str, ckpt: Path, tmp_path: Path, dummy_host, capsys) -> None:
    args = ["eval", str(ckpt)]
    if case == "plain":
        torch.save({"w": torch.zeros(1)}, tmp_path / "p.pt")
        args = ["eval", str(tmp_path / "p.pt")]
    elif case == "metric":
        args += ["--metrics", "psnr,fidd"]
    elif case == "not_applicable":  # a known metric that cannot score this (paired) method
        args += ["--metrics", "psnr,cycle"]
    else:
        args += ["--metrics", "fid"]
    code, _, err = run_cli(args, capsys)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1, err
    expected = {
        "plain": "not an i2i checkpoint",
        "metric": "unknown metric 'fidd'",
        "fid_without_weights": "pytorch-fid",
        "not_applicable": "--metrics: cycle cannot score a paired method",
    }[case]
    assert expected in errors[0]
