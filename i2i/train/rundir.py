"""The run folder: one run per folder, locked while it trains, never overwritten unasked.

A new run refuses a folder that already holds a run (its checkpoints, config, log, report)
unless the user asks to continue it (``--resume``) or to start over (``--overwrite``, which
deletes that run's own files and nothing else). A run without an explicit ``--out`` goes to
``runs/METHOD``, or the first free ``runs/METHOD-2``, ``-3`` ... so a second demo run never
replaces the first.

While a run trains, its folder is locked (``.i2i.lock``, an advisory ``flock`` that the kernel
drops when the process dies, so a lock left by a killed run is simply taken over); the file
names the holder's pid for the error a second run gets. Everything a run needs from the folder
is checked here, before any training, so a blocked path fails at start, not hours later.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from i2i.config import run as _config
from i2i.errors import UsageError
from i2i.io.atomic import atomic_write_bytes
from i2i.train.metrics import MetricsLog

try:  # POSIX; elsewhere the pid in the lock file decides (a dead holder's lock is taken over)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK = ".i2i.lock"
#: Files (and folders) every run writes at the top of its folder.
RUN_FILES = ("config.toml", "last.pt", "metrics.jsonl", "index.html")
RUN_DIRS = ("samples", "tensorboard")
_STEP_FILE = re.compile(r"^step_\d+\.pt$")
_TEMP = re.compile(r"^\..+\.tmp(\d+)$")


class RunFolderError(UsageError):
    """The run folder is in use, holds another run, or cannot take the run's files."""


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one owned by another user counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class RunLock:
    """An exclusive lock on a run folder, held from start to finish of one run."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK
        self._fh: IO[str] | None = None
        #: this run made the folder (so a run that fails before its first step may remove it)
        self.created = False

    @property
    def held(self) -> bool:
        return self._fh is not None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`RunFolderError` naming the process holding it."""
        if self._fh is not None:
            return
        self.created = self.created or not self.directory.exists()
        make_folder(self.directory)
        try:
            fh = open(self.path, "a+", encoding="utf-8")
        except OSError as exc:
            raise RunFolderError(f"{self.path}: cannot create the run lock: {exc.strerror or exc}") from None
        if fcntl is not None:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.close()
                raise self._busy(self._holder()) from None
        else:  # pragma: no cover - no flock: trust the pid if that process still lives
            holder = self._holder()
            if holder and holder != os.getpid() and pid_alive(holder):
                fh.close()
                raise self._busy(holder)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh

    def _holder(self) -> int:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return 0
        return int(text) if text.isdigit() else 0

    def _busy(self, pid: int) -> RunFolderError:
        who = f"process {pid}" if pid else "another process"
        return RunFolderError(
            f"{self.directory}: in use by another i2i run ({who} holds {self.path}); "
            "wait for it to finish, stop it, or choose another --out"
        )

    def release(self, *, discard: bool = False) -> None:
        """Unlock; with ``discard``, first remove the folder if this run created it and it holds
        no checkpoint (a run that failed before training leaves nothing behind)."""
        if self._fh is None:
            return
        if discard and self.created and not any(self.directory.rglob("*.pt")):
            shutil.rmtree(self.directory, ignore_errors=True)
        try:
            if fcntl is not None:
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
        finally:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def make_folder(directory: Path) -> None:
    """Create ``directory`` (and parents), or raise a one-line error naming what is in the way."""
    if directory.exists() and not directory.is_dir():
        raise RunFolderError(f"--out {directory}: is a file, not a folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"--out {directory}: cannot create the run folder: {exc.strerror or exc}") from None


def run_files(directory: Path) -> list[str]:
    """Names of a run's own files present in ``directory`` (checkpoints, config, log, report)."""
    if not directory.is_dir():
        return []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    return [
        n
        for n in names
        if ((n in RUN_FILES or _STEP_FILE.match(n)) and (directory / n).is_file())
        or (n in RUN_DIRS and _non_empty(directory / n))
    ]


def _non_empty(path: Path) -> bool:
    """A run's sub-folder counts once it holds something (a failed start leaves it empty);
    a file or folder in a wrong place is not a run (:func:`check_writable` names it)."""
    try:
        return path.is_dir() and any(not name.startswith(".") for name in os.listdir(path))
    except OSError:
        return True


def holds_run(directory: Path) -> bool:
    """Whether ``directory`` holds a run's checkpoints or config (not just an empty ``samples/``)."""
    return any(n in ("config.toml", "last.pt", "metrics.jsonl") or _STEP_FILE.match(n) for n in run_files(directory))


def refuse_existing(directory: Path) -> None:
    """A new run into a folder holding another run's files: the two ways forward."""
    found = run_files(directory)
    if not found:
        return
    shown = ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")
    raise RunFolderError(
        f"--out {directory}: already holds a run ({shown}); continue it with --resume, "
        "or start over with --overwrite (deletes that run's checkpoints, samples and logs)"
    )


def clear_run(directory: Path) -> None:
    """Delete a previous run's own files (``--overwrite``); other files in the folder stay."""
    for name in run_files(directory):
        path = directory / name
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as exc:
            raise RunFolderError(f"--overwrite: cannot delete {path}: {exc.strerror or exc}") from None


def check_writable(directory: Path) -> None:
    """Every path a run writes is free to take its file: checked before the first step."""
    make_folder(directory)
    for name in RUN_FILES:
        path = directory / name
        if path.is_dir():
            raise RunFolderError(f"{path}: is a folder; the run writes a file there (move it away)")
    for name in RUN_DIRS[:1]:
        path = directory / name
        if path.exists() and not path.is_dir():
            raise RunFolderError(f"{path}: is a file; the run writes its sample images into a folder there")
    samples = directory / "samples"
    for folder in (directory, samples):
        try:
            folder.mkdir(exist_ok=True)
            probe = folder / f".i2i-write-test.tmp{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise RunFolderError(f"{folder}: cannot write the run's files there: {exc.strerror or exc}") from None


def remove_stale_temps(directory: Path) -> None:
    """Temp files of writes cut short by a killed process; a live process's temps stay."""
    for folder in (directory, directory / "samples"):
        if not folder.is_dir():
            continue
        for name in os.listdir(folder):
            m = _TEMP.match(name)
            if m and (int(m.group(1)) == os.getpid() or not pid_alive(int(m.group(1)))):
                (folder / name).unlink(missing_ok=True)


def numbered(base: Path) -> Iterator[Path]:
    """``base``, ``base-2``, ``base-3`` ...: the candidate default folders of a method."""
    yield base
    n = 2
    while True:
        yield base.with_name(f"{base.name}-{n}")
        n += 1


def latest_numbered(base: Path) -> Path:
    """The highest-numbered existing ``base[-N]`` folder holding a run (``base`` when none)."""
    best, best_n = base, 1 if holds_run(base) else 0
    parent = base.parent
    if parent.is_dir():
        pattern = re.compile(rf"^{re.escape(base.name)}-(\d+)$")
        for name in os.listdir(parent):
            m = pattern.match(name)
            if m and int(m.group(1)) > best_n and holds_run(parent / name):
                best, best_n = parent / name, int(m.group(1))
    return best


def claim_default(base: Path) -> tuple[Path, RunLock]:
    """The first of ``base``, ``base-2`` ... that holds no run and is not in use, locked."""
    for candidate in numbered(base):
        if holds_run(candidate) or run_files(candidate):
            continue
        lock = RunLock(candidate)
        try:
            lock.acquire()
        except RunFolderError:
            continue
        if run_files(candidate):  # another run claimed it between the check and the lock
            lock.release()
            continue
        return candidate, lock
    raise AssertionError("unreachable")  # pragma: no cover


def claim(
    out_dir: Path, *, explicit: bool, resume: bool, overwrite: bool, main: bool
) -> tuple[Path, RunLock, list[str]]:
    """Pick and lock the run's folder; returns it, its lock and notes for the user.

    ``--resume`` without an explicit folder continues the newest numbered default folder; a new
    run into an explicit folder holding a run is refused unless ``overwrite``; a new run into
    the default folder takes the first free number. Only the main process locks and checks.
    """
    if resume and not explicit:
        out_dir = latest_numbered(out_dir)
    lock = RunLock(out_dir)
    if not main:
        return out_dir, lock, []
    if resume or explicit or overwrite:
        lock.acquire()
        try:
            if not (resume or overwrite):
                refuse_existing(out_dir)
        except BaseException:
            lock.release()
            raise
        return out_dir, lock, []
    claimed, lock = claim_default(out_dir)
    notes = [f"note: {out_dir} holds another run; this one goes to {claimed}"] if claimed != out_dir else []
    return claimed, lock, notes


def prepare_out_dir(run: Any) -> None:
    """At the start of a run (new or resumed): clear it for ``--overwrite``, check it is writable,
    clean dead writers' temp files, write ``config.toml``, open the metrics log and, on resume,
    list the sample grids already written up to the resumed step."""
    if not run.is_main:
        return
    if run.overwrite:
        clear_run(run.out_dir)
    check_writable(run.out_dir)
    remove_stale_temps(run.out_dir)
    atomic_write_bytes(run.out_dir / "config.toml", _config.to_toml(run.config).encode("utf-8"))
    resumed_at = run.step if run.resume_state is not None else None
    run.metrics_log = MetricsLog(run.out_dir / "metrics.jsonl", resume_step=resumed_at)
    if resumed_at is not None:
        run.samples = sorted(
            (int(p.stem.split("_")[1]), f"samples/{p.name}")
            for p in (run.out_dir / "samples").glob("step_*.png")
            if p.stem.split("_")[1].isdigit() and int(p.stem.split("_")[1]) <= resumed_at
        )
