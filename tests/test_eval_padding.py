"""Evaluation never scores the reflect-padded border of a held-out image that is not a multiple
of the network's size multiple: outputs are cropped back to the input size before every metric.

The methods here copy their input except in the padded region (rows/columns past the real
image), which they paint black. Scored at the image's own size they are perfect (target = input),
so any metric that sees the border moves off its perfect value.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import pytest
import torch
from PIL import Image
from train_support import dummy_host as make_dummy_host

import i2i
from i2i.data import DataConfig, build_data
from i2i.eval.runner import EvalSettings, evaluate
from i2i.eval.summary import summarize
from i2i.method import DataInfo

SIDE = 20  # not a multiple of MULTIPLE: padded to 24 for the network
MULTIPLE = 8


@attrs.frozen
class _Config:
    pass


class BorderPainter(i2i.Method):
    """Identity on the real image, black on the padding (output differs only in the border)."""

    data_kind = i2i.PAIRED
    generator_names = ("G",)
    size_multiple = MULTIPLE

    def __init__(self, config: object = None, data_info: DataInfo | None = None) -> None:
        super().__init__(config or _Config(), data_info or DataInfo(kind=self.data_kind))
        self.G = torch.nn.Conv2d(3, 3, 1)  # a parameter, so the method has a device

    def translate(self, x: torch.Tensor, **options: object) -> torch.Tensor:
        assert x.shape[-1] % MULTIPLE == 0 and x.shape[-2] % MULTIPLE == 0, "the network gets padded inputs"
        out = x.clone()
        out[..., SIDE:, :] = -1.0
        out[..., :, SIDE:] = -1.0
        return out

    def baselines(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"painted": self.translate(x)}


class UnpairedBorderPainter(BorderPainter):
    data_kind = i2i.UNPAIRED
    eval_capabilities = i2i.EvalCapabilities(keeps_target_domain=True)


def _images(root: Path, kind: str) -> Path:
    """The same random SIDE x SIDE images as A and as B (the target is the input)."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for i in range(3):
            image = Image.fromarray(rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8))
            for domain in ("A", "B"):
                folder = root / (f"{split}/{domain}" if kind == "paired" else f"{split}{domain}")
                folder.mkdir(parents=True, exist_ok=True)
                image.save(folder / f"{i}.png")
    return root


def _translator(method: i2i.Method, root: Path) -> i2i.Translator:
    config = i2i.load_config(
        method="dummy",
        overrides={"data.root": str(root), "data.preprocess": "none", "data.image_size": SIDE, "data.num_workers": 0},
        host=make_dummy_host(),
    )
    return i2i.Translator(method.eval(), config, device="cpu", precision="fp32")


def test_i2i_eval_paired_metrics_skip_the_padded_border(tmp_path: Path) -> None:
    root = _images(tmp_path / "data", "paired")
    report = evaluate(
        _translator(BorderPainter(), root), settings=EvalSettings(metrics=("psnr", "ssim", "l1"), num_workers=0)
    )
    assert report.table["psnr"]["model"] == 100.0  # identical at the image's size (the cap)
    assert report.table["ssim"]["model"] == pytest.approx(1.0, abs=1e-6)
    assert report.table["l1"]["model"] == 0.0
    assert report.table["psnr"]["identity"] == 100.0


def test_i2i_eval_unpaired_metrics_skip_the_padded_border(tmp_path: Path) -> None:
    root = _images(tmp_path / "data", "unpaired")
    method = UnpairedBorderPainter(data_info=DataInfo(kind=i2i.UNPAIRED))
    report = evaluate(_translator(method, root), settings=EvalSettings(metrics=("idempotence",), num_workers=0))
    assert report.table["idempotence_a2b"]["model"] == 0.0


@pytest.mark.parametrize("kind", ["paired", "unpaired"])
def test_end_of_run_summary_skips_the_padded_border(tmp_path: Path, kind: str) -> None:
    root = _images(tmp_path / "data", kind)
    config = DataConfig(root=str(root), preprocess="none", image_size=SIDE, flip=False, num_workers=0)
    data = build_data(config, kind, split="test", batch_size=2, size_multiple=MULTIPLE, shuffle=False)
    method = BorderPainter() if kind == "paired" else UnpairedBorderPainter(data_info=DataInfo(kind=i2i.UNPAIRED))
    result = summarize(method, data, torch.device("cpu"))
    assert result["images"] == 3
    if kind == "paired":
        assert result["psnr"] == pytest.approx(100.0) and result["psnr_identity"] == pytest.approx(100.0)
        assert result["psnr_painted"] == pytest.approx(100.0)  # the method's baselines are cropped back too
    else:
        assert result["l1_change"] == 0.0


def test_augcyclegan_own_metrics_run_on_images_off_the_multiple(tmp_path: Path) -> None:
    """Its metrics call the networks directly: they pad with i2i.prepare_size and crop back."""
    from eval_support import make_unpaired
    from inference_support import write_checkpoint

    from i2i.plugins.host import PluginHost, set_host

    host = PluginHost()
    set_host(host)
    if "augcyclegan" not in host.registry.names("method"):
        pytest.skip("augcyclegan plugin not installed")
    root = make_unpaired(tmp_path / "data", n_train=4, n_test=3, size=18)  # 18 is not a multiple of 4
    translator = i2i.load_checkpoint(write_checkpoint(tmp_path / "a.pt", "augcyclegan", host))
    translator.config = attrs.evolve(
        translator.config, data=attrs.evolve(translator.config.data, preprocess="none", image_size=18)
    )
    report = evaluate(
        translator,
        data_root=str(root),
        settings=EvalSettings(metrics=("latent_rec", "noise_sensitivity"), num_workers=0),
    )
    assert np.isfinite(report.table["latent_rec_a2b"]["model"]) and report.table["noise_sensitivity_a2b"]["model"] >= 0
