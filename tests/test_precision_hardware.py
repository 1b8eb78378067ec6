"""bf16 on a CPU without bf16 hardware: ``auto`` picks fp32, and an explicit ``bf16`` (which runs
in software, about ten times slower) is said once by ``i2i run``, ``i2i translate`` and ``i2i eval``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from inference_support import save_rgb, trained_dummy
from train_support import dummy_config, make_paired

from i2i.cli.main import main
from i2i.train import precision as precision_module
from i2i.train.precision import emulation_note, resolve_precision
from i2i.train.trainer import Trainer

CPU = torch.device("cpu")


@pytest.fixture(params=[False, True], ids=["no_bf16_hardware", "bf16_hardware"])
def hardware(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(precision_module, "cpu_supports_bf16", lambda: request.param)
    return bool(request.param)


def test_auto_follows_the_hardware_and_only_emulated_bf16_is_flagged(hardware: bool) -> None:
    assert resolve_precision("auto", CPU) == ("bf16" if hardware else "fp32")
    note = emulation_note("bf16", CPU)
    assert (note is None) == hardware
    if note:
        assert "emulated" in note and "fp32" in note and "\n" not in note
    assert emulation_note("fp32", CPU) is None
    assert emulation_note(resolve_precision("auto", CPU), CPU) is None  # auto never picks an emulated precision
    assert emulation_note("bf16", torch.device("cuda")) is None  # GPUs are judged by torch.cuda.is_bf16_supported


def test_run_overview_warns_of_emulated_bf16(hardware: bool, dummy_host, tmp_path: Path) -> None:
    root = make_paired(tmp_path / "data", n_train=2, n_test=2, size=16)
    trainer = Trainer(
        dummy_config(dummy_host, root, steps=1, precision="bf16"), out_dir=tmp_path / "run", host=dummy_host
    )
    trainer.fit()
    warning = trainer.overview.get("warning")
    assert (warning is None) == hardware
    assert warning is None or "bf16 is emulated on this CPU" in warning


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from train_support import dummy_host  # a module-scoped checkpoint needs its own host, not the per-test fixture

    return trained_dummy(tmp_path_factory.mktemp("run"), dummy_host())


@pytest.mark.parametrize("command", ["translate", "eval"])
def test_translate_and_eval_warn_of_emulated_bf16(
    command: str, hardware: bool, ckpt: Path, tmp_path: Path, dummy_host, capsys: pytest.CaptureFixture[str]
) -> None:
    if command == "translate":
        args = ["translate", str(ckpt), str(save_rgb(tmp_path / "a.png", 16, 16)), "--out", str(tmp_path / "out")]
    else:
        args = ["eval", str(ckpt), "--metrics", "l1"]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--precision", "bf16"])
    out, err = capsys.readouterr()
    assert exc.value.code in (0, None), err
    warned = "warning: bf16 is emulated on this CPU" in err
    assert warned != hardware
    assert "Traceback" not in err
