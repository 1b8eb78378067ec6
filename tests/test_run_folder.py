"""A run folder is never lost: no silent overwrite, one run at a time, each checkpoint in its
own run's lineage, ``last.pt`` its own file, and a stop signal to the whole process group
(DataLoader workers included) saves and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from train_support import dummy_config, dummy_host, make_paired, subprocess_env

from i2i.io import checkpoint as ck
from i2i.train import rundir
from i2i.train.trainer import Trainer


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_paired(tmp_path_factory.mktemp("data"), n_train=8)


def _args(data: Path, out: Path | None, steps: int = 4000, workers: int = 0, every: int = 1) -> list[str]:
    args = [
        sys.executable,
        "-m",
        "i2i",
        "run",
        "--method",
        "dummy",
        "--data",
        str(data),
        "--steps",
        str(steps),
        "--image-size",
        "16",
        "--set",
        f"data.num_workers={workers}",
        "--set",
        "train.eval_at_end=false",
        "--set",
        f"train.checkpoint_every={every}",
        "--set",
        "train.sample_every=100000",
    ]
    return args + (["--out", str(out)] if out is not None else [])


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_to_the_whole_process_group_saves_and_exits_0(data, tmp_path, sig):
    """What `timeout`, `scancel` and a closed SSH session do: every process of the group,
    the DataLoader workers too, gets the signal."""
    out = tmp_path / "run"
    proc = subprocess.Popen(
        _args(data, out, workers=2, every=5),
        env=subprocess_env(),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(out / "last.pt", proc)
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "interrupted at step" in err and "internal error" not in err
    stopped = torch.load(out / "last.pt", weights_only=True)["step"]
    assert 0 < stopped < 4000


def test_a_second_run_on_a_live_runs_folder_is_refused_and_harms_nothing(data, tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen(
        _args(data, out, every=20), env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for(out / "last.pt", first)
        # (plain runs and --resume meet the same lock: see test_reliability's corpus)
        second = subprocess.run(
            _args(data, out) + ["--overwrite"], env=subprocess_env(), capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 2, second.stderr
        assert f"in use by another i2i run (process {first.pid}" in second.stderr
        assert first.poll() is None  # the first run goes on
    finally:
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err  # no FileNotFoundError: its temp files were left alone


def test_default_folders_are_numbered_and_resume_takes_the_newest(data, tmp_path, capsys, monkeypatch):
    from i2i.cli.main import main

    monkeypatch.chdir(tmp_path)
    import i2i.plugins.host

    i2i.plugins.host.set_host(dummy_host())
    for _ in range(2):
        with pytest.raises(SystemExit) as exc:
            main(_args(data, None, steps=2)[3:])
        assert exc.value.code == 0
    err = capsys.readouterr().err
    assert "runs/dummy holds another run; this one goes to runs/dummy-2" in err
    first = torch.load(tmp_path / "runs/dummy/last.pt", weights_only=True)
    second = torch.load(tmp_path / "runs/dummy-2/last.pt", weights_only=True)
    assert first["run_id"] != second["run_id"]
    with pytest.raises(SystemExit) as exc:
        main(["run", "--method", "dummy", "--resume", "--steps", "3"])
    assert exc.value.code == 0
    assert "resuming from runs/dummy-2/last.pt" in capsys.readouterr().err
    assert torch.load(tmp_path / "runs/dummy/last.pt", weights_only=True)["step"] == 2


def test_overwrite_starts_over_and_resume_follows_the_new_runs_lineage(data, tmp_path):
    host = dummy_host()
    out = tmp_path / "run"
    Trainer(
        dummy_config(host, data, steps=6, checkpoint_every=2),
        out_dir=out,
        host=host,
        progress=False,
    ).fit()
    old = ck.read_checkpoint(out / "step_00000006.pt")
    Trainer(
        dummy_config(host, data, steps=2, checkpoint_every=2), out_dir=out, host=host, overwrite=True, progress=False
    ).fit()
    assert sorted(p.name for p in out.glob("step_*.pt")) == ["step_00000002.pt"]
    # an older run's higher-numbered file (left by an older i2i) never wins over the run's own
    torch.save(old, out / "step_00000006.pt")
    assert ck.find_resume_checkpoint(out) == out / "last.pt"
    resumed = Trainer(
        dummy_config(host, data, steps=4),
        out_dir=out,
        resume=True,
        host=host,
        progress=False,
    )
    assert resumed.resume_path == out / "last.pt" and resumed.run_id != old["run_id"]
    resumed.close()


def test_last_pt_is_an_independent_file_and_keep_one_leaves_two(data, tmp_path):
    host = dummy_host()
    out = tmp_path / "run"
    Trainer(
        dummy_config(host, data, steps=4, checkpoint_every=2, keep_checkpoints=1),
        out_dir=out,
        host=host,
        progress=False,
    ).fit()
    step, last = out / "step_00000004.pt", out / "last.pt"
    assert sorted(p.name for p in out.glob("step_*.pt")) == [step.name]
    assert os.stat(step).st_ino != os.stat(last).st_ino and step.read_bytes() == last.read_bytes()
    with open(last, "r+b") as fh:  # an in-place edit of last.pt ...
        fh.seek(200)
        fh.write(b"\0" * 64)
    with pytest.warns(UserWarning, match="skipping a damaged checkpoint"):
        assert ck.find_resume_checkpoint(out) == step  # ... leaves the step file to resume from


def test_start_up_removes_only_temps_no_live_process_owns(tmp_path):
    dead = 999999999
    live = tmp_path / f".step_00000004.pt.tmp{os.getppid()}"
    stale = tmp_path / f".last.pt.tmp{dead}"
    for path in (live, stale):
        path.write_bytes(b"partial")
    rundir.remove_stale_temps(tmp_path)
    assert live.exists() and not stale.exists()


def test_a_stale_lock_is_taken_over_and_a_live_one_names_its_pid(tmp_path):
    (tmp_path / ".i2i.lock").write_text("999999999\n")
    with rundir.RunLock(tmp_path):
        assert (tmp_path / ".i2i.lock").read_text().strip() == str(os.getpid())
        with pytest.raises(rundir.RunFolderError, match=f"process {os.getpid()}"):
            rundir.RunLock(tmp_path).acquire()
    rundir.RunLock(tmp_path).acquire()  # released at the end of the run
