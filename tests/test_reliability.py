"""The adversarial corpus of issue 15 as a table: command, exit code, message fragment, and the
files that must come out byte-for-byte unchanged (or must not appear). Every case runs ``i2i``
in-process on a copy of one finished tiny run (the dummy method, 16 px, 2 steps). The cases
that need real processes (a process-group signal, two live runs) are in test_run_folder.py."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path
from typing import Callable

import attrs
import numpy as np
import pytest
import torch
from PIL import Image
from train_support import make_paired

from i2i.cli.main import main


@attrs.frozen
class Case:
    id: str
    argv: tuple[str, ...]  # {data}, {run}, {tmp} are filled in
    code: int
    fragment: str
    setup: Callable[[Path], object] | None = None  # may return a lock held during the case
    unchanged: tuple[str, ...] = ()  # paths under tmp that must keep their bytes
    env: tuple[tuple[str, str], ...] = ()
    host: str = "dummy"  # "fresh": the CLI builds its host from the environment (entry points + dummy)
    patch: Callable[[pytest.MonkeyPatch], None] | None = None
    absent: tuple[str, ...] = ()  # paths under tmp that must not exist afterwards
    max_lines: int | None = None  # stderr lines at most


# -- setups ---------------------------------------------------------------------------------------
def _lock_run(tmp: Path):
    from i2i.train.rundir import RunLock

    lock = RunLock(tmp / "run")
    lock.acquire()
    return lock


def _stale_lock(tmp: Path) -> None:
    (tmp / "run" / ".i2i.lock").write_text("999999999\n")  # no such process


def _dir_at(name: str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        (tmp / "fresh" / name).mkdir(parents=True)

    return setup


def _file_at(name: str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        (tmp / "fresh").mkdir()
        (tmp / "fresh" / name).write_text("mine")

    return setup


def _edit_checkpoints(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    """Rewrite every checkpoint of the run as another i2i version might have written it."""

    def setup(tmp: Path) -> None:
        for path in (tmp / "run").glob("*.pt"):
            state = torch.load(path, weights_only=True)
            edit(state)
            torch.save(state, path)

    return setup


def _future_field(state: dict) -> None:
    state["data_info"]["patch_size"] = 7


def _string_step(state: dict) -> None:
    state["step"] = "2"


def _bad_rng(state: dict) -> None:
    state["rng"] = [{"python": "junk"}]


def _renamed_key(state: dict) -> None:
    state["model"]["G.9.weight"] = state["model"].pop("G.0.weight")


def _no_config(tmp: Path) -> None:
    (tmp / "run" / "config.toml").unlink()


def _moved_smaller(tmp: Path) -> None:
    make_paired(tmp / "moved", n_train=4)  # the run was trained on 8 pairs


def _loop_links(tmp: Path) -> None:
    data = make_paired(tmp / "linked", n_train=4)
    for split in ("A", "B"):
        os.symlink(".", data / "train" / split / "loop")
        os.symlink("/", data / "train" / split / "root")


def _many_empty(tmp: Path) -> None:
    data = make_paired(tmp / "empties", n_train=4)
    for i in range(40):
        (data / "train" / "A" / f"empty{i:02d}.png").write_bytes(b"")


def _nan_tiff(tmp: Path) -> None:
    data = make_paired(tmp / "nan", n_train=4)
    for split in ("A", "B"):
        Image.fromarray(np.full((16, 16), np.nan, dtype=np.float32)).save(data / "train" / split / "zz_nan.tif")


def _stargan_missing_domain(tmp: Path) -> None:
    rng = np.random.default_rng(0)
    for split, domains in (("train", "abc"), ("test", "ab")):
        for domain in domains:
            folder = tmp / "grades" / split / domain
            folder.mkdir(parents=True)
            for j in range(2):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{j}.png")


# -- patches --------------------------------------------------------------------------------------
def _unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a folder without read permission does for a non-root user."""
    real = os.scandir

    def scandir(path="."):
        if str(path).endswith(os.path.join("train", "A")):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def _disk_full(kind: str) -> Callable[[pytest.MonkeyPatch], None]:
    def patch(monkeypatch: pytest.MonkeyPatch) -> None:
        def save(obj, f, *args, **kwargs):
            f.write(b"PK\x03\x04 partial")
            if kind == "oserror":
                raise OSError(errno.ENOSPC, "No space left on device")
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 320 vs 310")

        monkeypatch.setattr(torch, "save", save)

    return patch


def _inf_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    import dummy_plugin

    step = dummy_plugin.Dummy.train_step

    def train_step(self, batch, ctx):
        out = step(self, batch, ctx)
        with torch.no_grad():
            self.G[0].weight.fill_(float("inf"))
        return out

    monkeypatch.setattr(dummy_plugin.Dummy, "train_step", train_step)


# -- the table ------------------------------------------------------------------------------------
TINY = ("--set", "data.num_workers=0", "--set", "train.eval_at_end=false", "--image-size", "16")
NEW_RUN = ("run", "--method", "dummy", "--data", "{data}", "--steps", "2", *TINY)
RESUME = ("run", "--resume", "--out", "{run}")
SAVE_EACH = ("--set", "train.checkpoint_every=1")
RUN_FILES = ("run/last.pt", "run/config.toml", "run/metrics.jsonl", "run/step_00000002.pt")
CKPTS = ("run/last.pt", "run/step_00000002.pt")
STARGAN = (
    "run",
    "--method",
    "stargan",
    "--data",
    "{tmp}/grades",
    "--out",
    "{tmp}/sg",
    "--steps",
    "2",
    "--batch-size",
    "2",
    "--image-size",
    "32",
    "--set",
    "method.g_conv_dim=8",
    "--set",
    "method.d_conv_dim=8",
    "--set",
    "method.g_repeat_num=1",
    "--set",
    "method.d_repeat_num=3",
    "--set",
    "data.num_workers=0",
)
DIST = (("WORLD_SIZE", "2"), ("RANK", "0"), ("MASTER_ADDR", "127.0.0.1"))

# fmt: off
CASES = [
    # -- data loss: a run folder is never replaced unasked, nor shared by two runs
    Case("new-run-into-a-run", (*NEW_RUN, "--out", "{run}"), 2, "already holds a run", unchanged=RUN_FILES),
    Case("resume-and-overwrite", (*RESUME, "--overwrite"), 2, "choose one", unchanged=RUN_FILES),
    Case("locked-by-a-live-run", (*RESUME, "--steps", "4"), 2, f"in use by another i2i run (process {os.getpid()}",
         setup=_lock_run, unchanged=RUN_FILES),
    Case("overwrite-when-locked", (*NEW_RUN, "--out", "{run}", "--overwrite"), 2, "in use by another i2i run",
         setup=_lock_run, unchanged=RUN_FILES),
    Case("stale-lock-is-taken-over", (*RESUME, "--steps", "3"), 0, "resuming from", setup=_stale_lock),
    # -- resume refuses what it cannot do, before rewriting anything
    Case("resume-past-steps", (*RESUME, "--steps", "1"), 2, "already at step 2, past the 1 steps asked for",
         unchanged=RUN_FILES),
    Case("resume-finished", RESUME, 2, "already finished at step 2", unchanged=RUN_FILES),
    # -- fail before training: the out folder and the held-out batches are checked at start
    Case("last-pt-is-a-folder", (*NEW_RUN, "--out", "{tmp}/fresh"), 2, "last.pt: is a folder", setup=_dir_at("last.pt")),
    Case("config-is-a-folder", (*NEW_RUN, "--out", "{tmp}/fresh"), 2, "config.toml: is a folder",
         setup=_dir_at("config.toml")),
    Case("samples-is-a-file", (*NEW_RUN, "--out", "{tmp}/fresh"), 2, "samples: is a file", setup=_file_at("samples"),
         unchanged=("fresh/samples",)),
    Case("out-is-a-file", (*NEW_RUN, "--out", "{tmp}/fresh/samples"), 2, "is a file", setup=_file_at("samples"),
         unchanged=("fresh/samples",)),
    Case("stargan-test-lacks-a-domain", STARGAN, 2, "test has 3->3 channels, domains a, b", host="fresh",
         setup=_stargan_missing_domain, absent=("sg/last.pt", "sg/config.toml")),
    # -- a full disk or a broken result never passes for success, and the last good checkpoint stays
    Case("disk-full", (*RESUME, "--steps", "4", *SAVE_EACH), 2, "no space left on device",
         patch=_disk_full("oserror"), unchanged=CKPTS),
    Case("disk-full-torch-zip-writer", (*RESUME, "--steps", "4", *SAVE_EACH), 2, "run/last.pt is kept",
         patch=_disk_full("runtime"), unchanged=CKPTS),
    Case("non-finite-weights-never-done", (*RESUME, "--steps", "4", *SAVE_EACH), 2, "weights are not finite",
         patch=_inf_weights, unchanged=CKPTS),
    # -- environment and user errors: exit 2 with the reason, never "internal error"
    Case("symlink-loop-and-link-to-root", ("run", "--method", "dummy", "--data", "{tmp}/linked", "--steps", "1",
         *TINY, "--out", "{tmp}/o"), 0, "done: step 1", setup=_loop_links),
    Case("unreadable-data-folder", (*NEW_RUN, "--out", "{tmp}/o"), 2, "cannot read data folder", patch=_unreadable),
    Case("seed-beyond-64-bits", (*NEW_RUN, "--out", "{tmp}/o", "--seed", str(2**64)), 2, "train.seed"),
    Case("device-meta", (*NEW_RUN, "--out", "{tmp}/o", "--device", "meta"), 2, "train.device: must be auto, cpu, cuda, cuda:N or mps, got 'meta'"),
    Case("device-mps", (*NEW_RUN, "--out", "{tmp}/o", "--device", "mps"), 2, "train.device: 'mps' is not available"),
    Case("i2i-plugins-names-a-loaded-plugin", ("plugins",), 0, "", host="fresh",
         env=(("I2I_PLUGINS", "i2i_cyclegan.plugin,dummy_plugin"),)),
    Case("disabled-plugin-is-named", ("--disable-plugin", "cyclegan", "run", "--method", "cyclegan"), 2,
         "plugin 'cyclegan' is disabled by --disable-plugin", host="fresh"),
    Case("unusable-cache-dir", ("run", "--method", "dummy", "--out", "{tmp}/o", "--steps", "1"), 2, "I2I_CACHE_DIR",
         env=(("I2I_CACHE_DIR", "/dev/null/cache"),)),
    Case("bad-world-size", (*NEW_RUN, "--out", "{tmp}/o"), 2, "WORLD_SIZE='two'", env=(("WORLD_SIZE", "two"),)),
    Case("rank-not-below-world-size", (*NEW_RUN, "--out", "{tmp}/o"), 2, "RANK=5 is not below WORLD_SIZE=2",
         env=(("WORLD_SIZE", "2"), ("RANK", "5"))),
    Case("bad-local-rank", (*NEW_RUN, "--out", "{tmp}/o"), 2, "LOCAL_RANK='-1'", env=(("LOCAL_RANK", "-1"),)),
    Case("world-size-without-master", (*NEW_RUN, "--out", "{tmp}/o"), 2, "MASTER_ADDR/MASTER_PORT",
         env=(("WORLD_SIZE", "2"),)),
    Case("stray-distributed-env-is-bounded", (*NEW_RUN, "--out", "{tmp}/o"), 2, "gave up after",
         env=(*DIST, ("MASTER_PORT", "29517"), ("I2I_RENDEZVOUS_TIMEOUT", "1"))),
    Case("nul-in-data-path", ("run", "--method", "dummy", "--data", "da\0ta", "--out", "{tmp}/o"), 2, "NUL"),
    Case("nul-in-out-path", ("run", "--method", "dummy", "--out", "{tmp}/o\0x"), 2, "NUL"),
    Case("checkpoint-with-a-future-data-info-field", ("translate", "{run}/last.pt", "{data}/test/A", "--out",
         "{tmp}/t"), 0, "patch_size unknown to this i2i", setup=_edit_checkpoints(_future_field)),
    Case("checkpoint-with-a-string-step", (*RESUME, "--steps", "3"), 2, "entry 'step' is '2'",
         setup=_edit_checkpoints(_string_step), unchanged=RUN_FILES),
    Case("checkpoint-with-a-bad-rng-state", (*RESUME, "--steps", "3"), 2, "RNG state is unreadable",
         setup=_edit_checkpoints(_bad_rng), unchanged=CKPTS),
    # -- clearer messages
    Case("state-dict-keys-are-listed", (*RESUME, "--steps", "3"), 2,
         "missing keys: G.0.weight; unexpected keys: G.9.weight", setup=_edit_checkpoints(_renamed_key),
         unchanged=RUN_FILES),
    Case("resume-without-config-toml", (*RESUME, "--steps", "3"), 0, "resuming from", setup=_no_config),
    Case("resume-with-moved-smaller-data", (*RESUME, "--steps", "3", "--data", "{tmp}/moved"), 0,
         "the training data shrank since the checkpoint: 2 batches per epoch, was 4", setup=_moved_smaller),
    Case("extending-says-what-the-schedule-does", (*RESUME, "--steps", "4"), 0,
         "the learning-rate schedule now spans 4 steps"),
    Case("skipped-files-are-summarised", ("run", "--method", "dummy", "--data", "{tmp}/empties", "--steps", "1",
         *TINY, "--out", "{tmp}/o"), 0, "the rest are counted, not listed", setup=_many_empty, max_lines=40),
    Case("all-nan-tiff-is-named", ("run", "--method", "dummy", "--data", "{tmp}/nan", "--steps", "2", *TINY,
         "--set", "train.batch_size=5", "--out", "{tmp}/o"), 0, "zz_nan.tif: no finite pixel values",
         setup=_nan_tiff),
]
# fmt: on


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 2-step dummy run (8 training pairs, batch 2) with a checkpoint at each step."""
    from train_support import dummy_host

    import i2i.plugins.host

    root = tmp_path_factory.mktemp("finished")
    data = make_paired(root / "data")
    i2i.plugins.host.set_host(dummy_host())
    with pytest.raises(SystemExit) as exc:
        main([*[a.format(data=data) for a in NEW_RUN], "--out", str(root / "run"), *SAVE_EACH])
    i2i.plugins.host.set_host(None)
    assert exc.value.code == 0
    return root


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_corpus(case: Case, finished: Path, tmp_path: Path, capsys, dummy_host, monkeypatch):
    import i2i.plugins.host

    shutil.copytree(finished / "run", tmp_path / "run")
    for name, value in case.env:
        monkeypatch.setenv(name, value)
    if case.host == "fresh":
        monkeypatch.setenv("I2I_PLUGINS", dict(case.env).get("I2I_PLUGINS", "dummy_plugin"))
        i2i.plugins.host.set_host(None)
    held = case.setup(tmp_path) if case.setup else None
    if case.patch:
        case.patch(monkeypatch)
    before = {p: _digest(tmp_path / p) for p in case.unchanged}
    argv = [a.format(data=finished / "data", run=tmp_path / "run", tmp=tmp_path) for a in case.argv]
    try:
        with pytest.raises(SystemExit) as exc:
            main(argv)
    finally:
        if hasattr(held, "release"):
            held.release()
    err = capsys.readouterr().err
    assert exc.value.code == case.code, err
    assert case.fragment in err, err
    assert "Traceback" not in err and "internal error" not in err, err
    if case.code == 2:
        assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1, err
    for p, digest in before.items():
        assert _digest(tmp_path / p) == digest, f"{p} changed"
    for p in case.absent:
        assert not (tmp_path / p).exists(), f"{p} was written"
    if case.max_lines is not None:
        assert len(err.splitlines()) <= case.max_lines, err
