"""Checkpoints: atomic, self-describing, weights_only-safe, clear one-line errors."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_support import dummy_config, dummy_host, make_paired

from i2i.errors import CheckpointError
from i2i.io import checkpoint as ck
from i2i.train.trainer import Trainer


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished 8-step run with an EMA: step files at 4 and 8, last.pt."""
    tmp = tmp_path_factory.mktemp("ckpt")
    host = dummy_host()
    cfg = dummy_config(host, make_paired(tmp / "data"), steps=8, checkpoint_every=4, keep_checkpoints=5, ema=0.5)
    trainer = Trainer(cfg, out_dir=tmp / "out", host=host, progress=False)
    trainer.fit()
    return trainer, host


def test_checkpoint_is_self_describing_and_weights_only(run):
    trainer, _ = run
    out = trainer.out_dir
    assert sorted(p.name for p in out.glob("*.pt")) == ["last.pt", "step_00000004.pt", "step_00000008.pt"]
    data = torch.load(out / "last.pt", weights_only=True)  # no arbitrary objects inside
    assert data["format"] == "i2i-checkpoint" and data["version"] == 1
    assert data["method"] == "dummy" and data["step"] == 8
    assert data["config"]["method"]["name"] == "dummy"
    assert data["config"]["train"]["steps"] == 8
    assert data["data_info"] == {
        "kind": "paired",
        "channels_a": 3,
        "channels_b": 3,
        "domains": [],
        "multi_label": False,
    }
    assert set(data["optimizers"]) == {"G", "D"} and set(data["schedulers"]) == {"G", "D"}
    assert set(data["ema"]) == {"G"}
    assert {"python", "numpy", "torch"} <= set(data["rng"][0])
    assert data["versions"]["torch"] == torch.__version__
    for key, value in trainer.method.state_dict().items():
        assert torch.equal(data["model"][key], value), key


def test_method_from_checkpoint_prefers_ema(run):
    trainer, host = run
    ckpt = ck.read_checkpoint(trainer.out_dir / "last.pt")
    method, config = ck.method_from_checkpoint(ckpt, host)
    assert config == trainer.config
    assert not method.training
    for key, value in ckpt["ema"]["G"].items():
        assert torch.equal(method.G.state_dict()[key], value)
    for key, value in method.D.state_dict().items():
        assert torch.equal(ckpt["model"][f"D.{key}"], value)
    raw, _ = ck.method_from_checkpoint(ckpt, host, prefer_ema=False)
    assert torch.equal(raw.G[0].weight, ckpt["model"]["G.0.weight"])
    assert not torch.equal(raw.G[0].weight, method.G[0].weight)  # decay 0.5 differs from the last iterate
    # a run directory reads as its newest checkpoint
    assert ck.read_checkpoint(trainer.out_dir)["step"] == 8


def test_rebuilding_from_a_checkpoint_skips_the_initialisers_it_overwrites(run):
    trainer, host = run
    ckpt = ck.read_checkpoint(trainer.out_dir / "last.pt")
    torch.manual_seed(0)
    method, _ = ck.method_from_checkpoint(ckpt, host, prefer_ema=False)
    after_build = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(after_build, torch.rand(3))  # no layer drew its (overwritten) initial weights
    state = method.state_dict()
    assert set(state) == set(ckpt["model"])
    for key, value in ckpt["model"].items():
        assert torch.equal(state[key], value), key


def test_a_parameter_the_checkpoint_does_not_write_is_initialised_as_built(run, monkeypatch):
    """A method whose own load leaves a parameter alone (a plugin's custom ``load_state_dict``)
    gets that parameter's usual initialisation, not the skipped one's empty memory."""
    trainer, host = run
    ckpt = ck.read_checkpoint(trainer.out_dir / "last.pt")
    method_class = type(trainer.method)
    full_load = method_class.load_state_dict

    def load_all_but_d(self, state, strict=True):
        return full_load(self, {k: v for k, v in state.items() if not k.startswith("D.")}, strict=False)

    monkeypatch.setattr(method_class, "load_state_dict", load_all_but_d)
    torch.manual_seed(5)
    method, config = ck.method_from_checkpoint(ckpt, host, prefer_ema=False)
    torch.manual_seed(5)
    built = host.build_method(host.registry.get("method", "dummy"), config.method, trainer.method.data_info)
    assert torch.equal(method.D.weight, built.D.weight)  # drawn as the build draws it
    assert torch.equal(method.G[0].weight, ckpt["model"]["G.0.weight"])


@pytest.mark.parametrize("mmap", [False, True])
def test_read_checkpoint_errors(run, tmp_path, mmap):
    trainer, _ = run
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        ck.read_checkpoint(tmp_path / "nope.pt", mmap=mmap)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        ck.read_checkpoint(text, mmap=mmap)
    plain = tmp_path / "plain.pt"
    torch.save(trainer.method.state_dict(), plain)
    with pytest.raises(CheckpointError, match="not an i2i checkpoint"):
        ck.read_checkpoint(plain, mmap=mmap)
    truncated = tmp_path / "cut.pt"
    full = (trainer.out_dir / "last.pt").read_bytes()
    truncated.write_bytes(full[: len(full) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        ck.read_checkpoint(truncated, mmap=mmap)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        ck.read_checkpoint(junk, mmap=mmap)
    newer = tmp_path / "newer.pt"
    torch.save({"format": "i2i-checkpoint", "version": 99}, newer)
    with pytest.raises(CheckpointError, match="newer"):
        ck.read_checkpoint(newer, mmap=mmap)
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"format": "i2i-checkpoint", "obj": Path("x")}, unsafe)
    with pytest.raises(CheckpointError, match="weights_only"):
        ck.read_checkpoint(unsafe, mmap=mmap)
    for err in (text, plain, truncated):  # every message is one line naming the file
        try:
            ck.read_checkpoint(err, mmap=mmap)
        except CheckpointError as exc:
            assert "\n" not in str(exc) and str(err) in str(exc)
    mapped = ck.read_checkpoint(trainer.out_dir / "last.pt", mmap=mmap)
    for key, value in trainer.method.state_dict().items():
        assert torch.equal(mapped["model"][key], value), key


def test_find_resume_checkpoint_skips_a_corrupt_newest(run, tmp_path):
    trainer, _ = run
    import shutil

    for name in ("step_00000004.pt", "step_00000008.pt", "last.pt"):
        shutil.copyfile(trainer.out_dir / name, tmp_path / name)
    assert ck.find_resume_checkpoint(tmp_path) == tmp_path / "last.pt"
    (tmp_path / "last.pt").write_bytes(b"PK\x03\x04garbage")
    with pytest.warns(UserWarning, match=f"skipping a damaged checkpoint: {tmp_path / 'last.pt'}: corrupt"):
        assert ck.find_resume_checkpoint(tmp_path) == tmp_path / "step_00000008.pt"
    data = (tmp_path / "step_00000008.pt").read_bytes()
    (tmp_path / "step_00000008.pt").write_bytes(data[:100])
    with pytest.warns(UserWarning) as passed_over:  # the user learns how far back the run goes
        assert ck.find_resume_checkpoint(tmp_path) == tmp_path / "step_00000004.pt"
    assert {str(w.message).split(": ")[1] for w in passed_over} >= {
        str(tmp_path / "last.pt"),
        str(tmp_path / "step_00000008.pt"),
    }
    assert ck.find_resume_checkpoint(tmp_path / "empty") is None


def test_save_is_atomic_and_rotates(tmp_path):
    ck.save_checkpoint(tmp_path / "a.pt", {"x": torch.ones(2)})
    assert not list(tmp_path.glob(".*tmp*"))  # no temp file left behind
    for step in range(1, 6):
        ck.save_checkpoint(tmp_path / ck.step_filename(step), {"step": step})
    ck.rotate(tmp_path, 2)
    assert sorted(p.name for p in tmp_path.glob("step_*.pt")) == ["step_00000004.pt", "step_00000005.pt"]


def test_rng_roundtrip_is_weights_only_safe(tmp_path):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    state = ck.capture_rng()
    torch.save(state, tmp_path / "rng.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1))
    ck.restore_rng(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(1), expected[2])


def test_resume_applies_run_control_changes_and_says_what_it_ignored(run, tmp_path, capsys):
    """A resumed run may train longer (or elsewhere, or log differently), but stays the same
    experiment: method, data, optimisation and seed come from its checkpoint."""
    trainer, host = run
    import shutil

    import attrs

    shutil.copytree(trainer.out_dir, tmp_path / "out")
    longer = attrs.evolve(trainer.config, train=attrs.evolve(trainer.config.train, steps=10, seed=5, log_every=3))
    resumed = Trainer(longer, out_dir=tmp_path / "out", resume=True, host=host, progress=False)
    assert resumed.config.train.steps == 10 and resumed.config.train.log_every == 3
    assert resumed.config.train.seed == trainer.config.train.seed
    assert attrs.evolve(resumed.config, train=trainer.config.train) == trainer.config
    resumed.fit()
    assert resumed.step == 10
    err = capsys.readouterr().err
    assert "resuming from" in err and "changed on resume: train.log_every=3, train.steps=10" in err
    assert "ignored: train.seed=5" in err
