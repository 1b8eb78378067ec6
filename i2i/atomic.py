"""Atomic file writes: a reader, a browser refresh or a resume after SIGKILL or power loss sees
either the old file or the complete new one, never a torn write.

Every file i2i writes that someone may read meanwhile (checkpoints, sample grids, report pages,
translated images, metrics JSON, exported models) goes through :func:`atomic_file`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO, Iterator


def temp_path(path: Path) -> Path:
    """The hidden temp file beside ``path`` (same filesystem, so the rename is atomic)."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def fsync_dir(directory: Path) -> None:
    """Persist a rename: without it a power loss can forget the new directory entry."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """Open a temp file for binary writing; on success it is flushed, fsynced and renamed over
    ``path``; on any error it is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_file(path) as fh:
        fh.write(data)
    return Path(path)
