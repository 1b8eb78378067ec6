"""Exact resume: a run killed at any moment (SIGKILL) or stopped (SIGTERM) and resumed with
``i2i run --resume --out DIR`` ends with weights bit-identical to an uninterrupted run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_support import make_paired, subprocess_env

from i2i.io import checkpoint as ckpt_io

STEPS = 120


def _run_args(data: Path, out: Path) -> list[str]:
    sets = {
        "data.image_size": 16,
        "data.load_size": 16,
        "data.flip": "false",
        "data.num_workers": 0,
        "train.batch_size": 2,
        "train.device": "cpu",
        "train.precision": "fp32",
        "train.steps": STEPS,
        "train.log_every": 7,
        "train.sample_every": 50,
        "train.checkpoint_every": 10,
        "train.ema": 0.9,
        "train.eval_at_end": "false",
    }
    args = [sys.executable, "-m", "i2i", "run", "--method", "dummy", "--data", str(data), "--out", str(out)]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    return args


def _resume(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "i2i", "run", "--resume", "--out", str(out)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )


def _final(out: Path) -> dict:
    return torch.load(out / "last.pt", weights_only=True)


def _assert_identical(a: dict, b: dict) -> None:
    assert a["step"] == b["step"] == STEPS
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for key in a["ema"]["G"]:
        assert torch.equal(a["ema"]["G"][key], b["ema"]["G"][key]), key
    for name in a["optimizers"]:
        for pid, state in a["optimizers"][name]["state"].items():
            for key, value in state.items():
                assert torch.equal(value, b["optimizers"][name]["state"][pid][key]), (name, pid, key)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_paired(tmp_path_factory.mktemp("data"), n_train=9)  # 4 batches/epoch, one image left over


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    proc = subprocess.run(_run_args(data, out), env=subprocess_env(), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    return _final(out)


def _wait_for_checkpoint(proc: subprocess.Popen, out: Path, after: int = 0) -> None:
    """Poll until a checkpoint newer than step ``after`` exists."""
    deadline = time.monotonic() + 120
    while not [p for p in out.glob("step_*.pt") if int(p.stem.split("_")[1]) > after]:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.005)


def _popen(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(args, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_and_sigterm_then_resume_is_bit_identical(data, reference, tmp_path):
    out = tmp_path / "run"
    # 1. killed without warning somewhere after its first checkpoint (mid-step or mid-write)
    proc = _popen(_run_args(data, out))
    _wait_for_checkpoint(proc, out)
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    # the checkpoint the resume starts from: a kill between writing step_N.pt and copying it to
    # last.pt leaves step_N.pt the newer one (waiting for a checkpoint after last.pt's step then
    # returned at once, and SIGTERM reached the resumed run before it had started)
    killed_at = torch.load(ckpt_io.find_resume_checkpoint(out), weights_only=True)["step"]
    assert 0 < killed_at < STEPS, "the run finished before it was killed; make it longer"

    # 2. resumed, then stopped politely: finishes its step, checkpoints, exits 0 saying how to resume
    proc = _popen([sys.executable, "-m", "i2i", "run", "--resume", "--out", str(out)])
    _wait_for_checkpoint(proc, out, after=killed_at)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert f"resuming from {out}" in stderr
    assert f"i2i run --resume --out {out}" in stderr
    stopped_at = torch.load(out / "last.pt", weights_only=True)["step"]
    assert killed_at < stopped_at < STEPS

    # 3. resumed to the end: the same weights, EMA and optimizer state as never stopping
    resumed = _resume(out)
    assert resumed.returncode == 0, resumed.stderr
    _assert_identical(reference, _final(out))
    # the log continues without duplicates or gaps
    import json

    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(7, STEPS, 7)) + [STEPS]


def test_resume_of_an_empty_folder_is_a_usage_error(tmp_path, capsys, monkeypatch):
    from train_support import dummy_host

    import i2i.plugins.host
    from i2i.cli.main import main

    monkeypatch.setattr(i2i.plugins.host, "_default_host", dummy_host())  # the CLI's process-wide host
    (tmp_path / "config.toml").write_text('[method]\nname = "dummy"\n')
    with pytest.raises(SystemExit) as exc:
        main(["run", "--resume", "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "nothing to resume" in err and str(tmp_path) in err and len(err.strip().splitlines()) == 1
