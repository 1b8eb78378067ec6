"""StarGAN v2 export: the generator, the mapping network and the style encoder, each to
TorchScript and ONNX, match PyTorch (ONNX through onnxruntime) at another batch and image size
than the example's, with typed inputs (image + style, z + domain, reference + domain)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from inference_support import write_checkpoint
from stargan_v2_support import DOMAINS

import i2i
from i2i.io.checkpoint import method_from_checkpoint, read_checkpoint
from i2i.plugins.host import PluginHost

TINY = dict(image_size=32, dim_in=8, max_conv_dim=16, hidden_dim=16, style_dim=8, latent_dim=4)


def _method() -> Any:
    torch.manual_seed(0)
    info = i2i.DataInfo(kind=i2i.LABELLED, domains=DOMAINS)
    return i2i.create_method("stargan_v2", data_info=info, **TINY).eval()


def _probe() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch 3 (the export example has 2), a 24x40 image (the example is 32x32)."""
    torch.manual_seed(1)
    x, ref, z = torch.rand(3, 3, 24, 40) * 2 - 1, torch.rand(3, 3, 32, 32) * 2 - 1, torch.randn(3, 4)
    return x, ref, z, torch.tensor([2, 0, 1])


def test_torchscript_generator_mapping_network_and_style_encoder_with_parity(tmp_path: Path) -> None:
    from i2i.inference.export import export_generators

    method = _method()
    paths = export_generators(method, "torchscript", tmp_path / "v2.pt", example=torch.rand(2, 3, 32, 32) * 2 - 1)
    assert [p.name for p in paths] == ["v2_G.pt", "v2_F.pt", "v2_E.pt"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        g, f, e = (torch.jit.load(str(p)) for p in paths)
    x, ref, z, y = _probe()
    with torch.no_grad():
        s = method.F(z, y)
        assert torch.allclose(f(z, y), s, atol=1e-5)
        assert torch.allclose(e(ref, y), method.E(ref, y), atol=1e-5)
        assert torch.allclose(g(x, s), method.G(x, s), atol=1e-5)


def test_onnx_export_cli_of_g_f_e_runs_in_onnxruntime_with_parity(tmp_path: Path, capsys: Any) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from i2i.cli.main import main

    host = PluginHost()
    info = i2i.DataInfo(kind=i2i.LABELLED, domains=DOMAINS)
    ckpt = write_checkpoint(tmp_path / "v2.pt", "stargan_v2", host, data_info=info, image_size=32)
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(ckpt), "--format", "onnx", "--out", str(tmp_path / "out" / "v2.onnx")])
    out, err = capsys.readouterr()
    assert int(exit_info.value.code or 0) == 0, err
    assert [line.split()[1] for line in out.strip().splitlines()] == [
        str(tmp_path / "out" / f"v2_{n}.onnx") for n in ("G", "F", "E")
    ]
    meta = {n: json.loads((tmp_path / "out" / f"v2_{n}.onnx.json").read_text()) for n in ("G", "F", "E")}
    assert meta["G"]["inputs"] == [
        {"name": "image", "shape": ["batch", 3, "height", "width"]},
        {"name": "style", "shape": ["batch", 8]},
    ]
    assert meta["F"]["inputs"] == [{"name": "z", "shape": ["batch", 4]}, {"name": "domain", "shape": ["batch"]}]
    # the style encoder reads image_size images only (4x4 before its heads): a fixed size
    assert meta["E"]["inputs"] == [
        {"name": "reference", "shape": ["batch", 3, 32, 32]},
        {"name": "domain", "shape": ["batch"]},
    ]
    assert meta["G"]["domains"] == list(DOMAINS) and meta["G"]["size_multiple"] == 2

    sessions = {
        n: ort.InferenceSession(str(tmp_path / "out" / f"v2_{n}.onnx"), providers=["CPUExecutionProvider"])
        for n in ("G", "F", "E")
    }
    method, _ = method_from_checkpoint(read_checkpoint(ckpt), host)
    x, ref, z, y = _probe()
    with torch.no_grad():
        s_latent, s_ref = method.F(z, y), method.E(ref, y)
        expected = method.G(x, s_latent)
        translated = method.translate(x, target="wild", z=z)
    s_f = sessions["F"].run(None, {"z": z.numpy(), "domain": y.numpy()})[0]
    s_e = sessions["E"].run(None, {"reference": ref.numpy(), "domain": y.numpy()})[0]
    got = sessions["G"].run(None, {"image": x.numpy(), "style": s_f})[0]
    assert np.abs(s_f - s_latent.numpy()).max() < 1e-4
    assert np.abs(s_e - s_ref.numpy()).max() < 1e-4
    assert got.shape == (3, 3, 24, 40) and np.abs(got - expected.numpy()).max() < 1e-4
    # a deployment without i2i: F then G, clamped, is translate(x, target, z)
    wild = np.full(3, DOMAINS.index("wild"), dtype=np.int64)
    style = sessions["F"].run(None, {"z": z.numpy(), "domain": wild})[0]
    deployed = np.clip(sessions["G"].run(None, {"image": x.numpy(), "style": style})[0], -1, 1)
    assert np.abs(deployed - translated.numpy()).max() < 1e-4
