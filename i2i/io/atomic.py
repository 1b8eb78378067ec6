"""Atomic file writes: a reader, a browser refresh or a resume after SIGKILL or power loss sees
either the old file or the complete new one, never a torn write.

Every file i2i writes that someone may read meanwhile (checkpoints, sample grids, report pages,
translated images, metrics JSON, exported models) goes through :func:`atomic_file`.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from i2i.errors import UsageError

_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


class DiskFullError(UsageError, OSError):
    """A write failed for lack of space (or quota): the user frees space and resumes. Still an
    :class:`OSError` (``errno`` ENOSPC) for code that catches those."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.errno = errno.ENOSPC


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a full disk or quota. torch's zip writer turns a
    short write into ``RuntimeError: ... unexpected pos``, so that counts too."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL:
            return True
        if isinstance(current, RuntimeError) and ("unexpected pos" in str(current) or "No space left" in str(current)):
            return True
        current = current.__cause__ or current.__context__
    return False


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
    ``path``; on any error it is removed and ``path`` is left as it was (a full disk is a
    :class:`DiskFullError`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except Exception as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"{path}: no space left on device (the previous file is unchanged)") from None
        raise
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_file(path) as fh:
        fh.write(data)
    return Path(path)
