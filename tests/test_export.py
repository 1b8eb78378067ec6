"""``i2i export``: TorchScript and ONNX generators match PyTorch at a size other than the example's."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from inference_support import trained_dummy, write_checkpoint
from train_support import dummy_host as make_dummy_host

from i2i.cli.main import main
from i2i.inference.export import export_generators
from i2i.io.checkpoint import method_from_checkpoint, read_checkpoint
from i2i.method import DataInfo
from i2i.plugins.host import PluginHost, set_host


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_dummy(tmp_path_factory.mktemp("run"), make_dummy_host())


@pytest.fixture
def host() -> PluginHost:
    """The installed methods (the built-in plugins) as the default host."""
    h = PluginHost()
    set_host(h)
    return h


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def load_torchscript(path: Path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
        return torch.jit.load(str(path))


def rebuilt(path: Path, host: PluginHost):
    method, _ = method_from_checkpoint(read_checkpoint(path), host)
    return method


def require_method(host: PluginHost, name: str) -> None:
    if name not in host.registry.names("method"):
        pytest.skip(f"{name} plugin not installed")


def test_torchscript_dummy_via_cli_matches_at_another_size(ckpt: Path, tmp_path: Path, dummy_host, capsys) -> None:
    out = tmp_path / "g.pt"
    code, stdout, err = run_cli(["export", str(ckpt), "--format", "torchscript", "--out", str(out)], capsys)
    assert code == 0, err
    assert out.is_file() and "wrote" in stdout
    meta = json.loads((tmp_path / "g.pt.json").read_text())
    assert meta["inputs"] == [{"name": "image", "shape": ["batch", 3, "height", "width"]}] and meta["range"] == [-1, 1]
    x = torch.rand(3, 3, 12, 20) * 2 - 1  # the example was (2, 3, 16, 16)
    with torch.no_grad():
        expected = rebuilt(ckpt, dummy_host).G(x)
        got = load_torchscript(out)(x)
    assert got.shape == expected.shape and torch.allclose(got, expected, atol=1e-5)


def test_onnx_dummy_runs_in_onnxruntime_at_another_size(ckpt: Path, tmp_path: Path, dummy_host, capsys) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    out = tmp_path / "g.onnx"
    code, _, err = run_cli(["export", str(ckpt), "--format", "onnx", "--out", str(out)], capsys)
    assert code == 0, err
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    x = torch.rand(1, 3, 20, 28) * 2 - 1
    with torch.no_grad():
        expected = rebuilt(ckpt, dummy_host).G(x).numpy()
    got = session.run(None, {"image": x.numpy()})[0]
    assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-4


def test_onnx_stargan_takes_the_label(tmp_path: Path, host: PluginHost) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    require_method(host, "stargan")
    info = DataInfo(kind="labelled", domains=("red", "green", "blue"))
    ckpt = write_checkpoint(tmp_path / "s.pt", "stargan", host, data_info=info)
    method = rebuilt(ckpt, host)
    (path,) = export_generators(method, "onnx", tmp_path / "s.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image", "label"]
    x = torch.rand(3, 3, 24, 32) * 2 - 1
    c = torch.eye(3)
    with torch.no_grad():
        expected = method.G(x, c).numpy()
    got = session.run(None, {"image": x.numpy(), "label": c.numpy()})[0]
    assert np.abs(got - expected).max() < 1e-4
    assert json.loads((tmp_path / "s.onnx.json").read_text())["domains"] == ["red", "green", "blue"]


def test_torchscript_augcyclegan_both_generators_with_latent(tmp_path: Path, host: PluginHost) -> None:
    require_method(host, "augcyclegan")
    ckpt = write_checkpoint(tmp_path / "a.pt", "augcyclegan", host)
    method = rebuilt(ckpt, host)
    paths = export_generators(method, "torchscript", tmp_path / "aug.pt")
    assert [p.name for p in paths] == ["aug_G_AB.pt", "aug_G_BA.pt"]
    x, z = torch.rand(3, 3, 24, 20) * 2 - 1, torch.randn(3, method.config.nlatent)
    for path, gen in zip(paths, (method.G_AB, method.G_BA)):
        with torch.no_grad():
            assert torch.allclose(load_torchscript(path)(x, z), gen(x, z), atol=1e-5)
    meta = json.loads((tmp_path / "aug_G_AB.pt.json").read_text())
    assert [i["name"] for i in meta["inputs"]] == ["image", "z"]


def test_cyclegan_one_generator_and_errors(tmp_path: Path, host: PluginHost, capsys) -> None:
    require_method(host, "cyclegan")
    ckpt = write_checkpoint(tmp_path / "c.pt", "cyclegan", host)
    code, _, err = run_cli(
        ["export", str(ckpt), "--format", "torchscript", "--out", str(tmp_path / "gb.pt"), "--generator", "G_B"], capsys
    )
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.glob("gb*")) == ["gb.pt", "gb.pt.json"]
    method = rebuilt(ckpt, host)
    x = torch.rand(2, 3, 20, 24) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(load_torchscript(tmp_path / "gb.pt")(x), method.G_B(x), atol=1e-5)
    code, _, err = run_cli(
        ["export", str(ckpt), "--format", "torchscript", "--out", str(tmp_path / "x.pt"), "--generator", "D_A"], capsys
    )
    assert code == 2 and err.count("error:") == 1 and "G_A, G_B" in err
    plain = tmp_path / "plain.pt"
    torch.save(method.G_A.state_dict(), plain)
    code, _, err = run_cli(["export", str(plain), "--format", "onnx", "--out", str(tmp_path / "y.onnx")], capsys)
    assert code == 2 and err.count("error:") == 1 and "not an i2i checkpoint" in err


def test_onnx_unet_exports_quietly_with_its_size_multiple(tmp_path: Path, host: PluginHost, capfd) -> None:
    """A U-Net accepts multiples of 2**depth: declared as such, torch.export proves the graph
    instead of printing a constraint violation per guard; the user sees one line."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    ckpt = write_checkpoint(tmp_path / "p.pt", "pix2pix", host, overrides={"netG": "unet_64"}, image_size=64)
    out = tmp_path / "p.onnx"
    with pytest.raises(SystemExit) as exc:
        main(["export", str(ckpt), "--format", "onnx", "--out", str(out)])
    stdout, stderr = capfd.readouterr()
    assert int(exc.value.code or 0) == 0, stderr
    assert stderr.strip() == "" and stdout.strip().splitlines() == [f"wrote {out} (+ p.onnx.json)"]
    assert json.loads((tmp_path / "p.onnx.json").read_text())["inputs"][0]["shape"] == ["batch", 3, "height", "width"]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = torch.rand(1, 3, 128, 192) * 2 - 1  # another multiple of 64 than the example's
    with torch.no_grad():
        expected = rebuilt(ckpt, host).G(x).numpy()
    assert np.abs(session.run(None, {"image": x.numpy()})[0] - expected).max() < 1e-4
