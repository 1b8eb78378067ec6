"""Finding image files in folders, cheaply.

A scan only lists directory entries (one ``os.scandir`` per folder): it never opens an
image, so a folder of 200k photos is ready in a second. Files that cannot be decoded are
found lazily, when a worker loads them (see :mod:`i2i.data.decode`). Zero-byte files are
the one kind of bad file a scan sees for free, so they are reported here already.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from i2i.errors import DataError

#: File name suffixes treated as images (lower-case); anything else in a folder is ignored.
IMAGE_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".ppm",
    ".pgm",
    ".pbm",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".gif",
)


class SkippedImageWarning(UserWarning):
    """An image file was skipped because it is empty, corrupt, truncated or too large."""


def is_image_name(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def require_dir(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else a one-line :class:`DataError` naming it."""
    if not path.exists():
        raise DataError(f"{what} {path} does not exist")
    if not path.is_dir():
        raise DataError(f"{what} {path} is not a folder")
    return path


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    """``os.scandir(folder)`` as a list; an unreadable folder is a one-line :class:`DataError`."""
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except PermissionError:
        raise DataError(f"cannot read data folder {folder}: permission denied") from None
    except OSError as exc:
        raise DataError(f"cannot read data folder {folder}: {exc.strerror or exc}") from None


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a symlink loop (ELOOP) or a link into an unreadable place: not a folder
        return False


def _dir_key(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def list_images(
    folder: Path, *, strict: bool = False, skipped: list[tuple[str, str]] | None = None, recursive: bool = False
) -> list[Path]:
    """Image files in ``folder`` (and its sub-folders if ``recursive``, as the reference
    ``make_dataset`` walks them), sorted by relative path.

    Symlinked folders are followed, each real folder once: a link loop (``ln -s . loop``) or
    a link to an ancestor (``ln -s / root``) is not walked again. Zero-byte files are left out
    and appended to ``skipped`` as ``(path, reason)`` with a :class:`SkippedImageWarning`, or
    raise :class:`DataError` when ``strict``.
    """
    require_dir(folder, "data folder")
    found: list[Path] = []
    others = 0
    root = os.path.realpath(folder)
    visited = {_dir_key(str(folder))}
    pending = [folder]
    while pending:
        for entry in _entries(pending.pop()):
            if _is_dir(entry):
                if recursive and not entry.name.startswith("."):
                    key = _dir_key(entry.path)
                    real = os.path.realpath(entry.path)
                    if key is None or key in visited or os.path.commonpath([root, real]) == real:
                        continue  # seen already, or an ancestor of the data folder (a loop)
                    visited.add(key)
                    pending.append(Path(entry.path))
                continue
            try:
                if not entry.is_file():
                    continue
                size = entry.stat().st_size
            except OSError:  # a dangling or looping link
                continue
            if not is_image_name(entry.name):
                others += 1
                continue
            path = Path(entry.path)
            if size == 0:
                report_skip(str(path), "empty file (0 bytes)", strict=strict, skipped=skipped)
                continue
            found.append(path)
    if not found:
        extra = f" (only {others} other files)" if others else ""
        raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS[:4])}, ...) in {folder}{extra}")
    found.sort(key=lambda p: p.relative_to(folder).parts)
    return found


def subfolders(folder: Path) -> list[Path]:
    """Visible sub-folders of ``folder``, sorted by name."""
    dirs = [Path(e.path) for e in _entries(folder) if _is_dir(e) and not e.name.startswith(".")]
    return sorted(dirs, key=lambda p: p.name)


def has_images(folder: Path) -> bool:
    """Whether ``folder`` directly holds at least one file with an image suffix."""
    if not folder.is_dir():
        return False
    return any(is_image_name(e.name) and _is_file(e) for e in _entries(folder))


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


#: Skipped files named one by one; past this, they are counted (the run's end gives the total).
WARN_LIMIT = 20


def warn_skip(path: str, reason: str, count: int, stacklevel: int = 3) -> None:
    """Warn about the ``count``-th skipped file of a scan or data module: one warning each up
    to :data:`WARN_LIMIT`, then a single line saying the rest are counted, so a folder of 100k
    bad files does not print 100k lines."""
    if count <= WARN_LIMIT:
        warnings.warn(f"skipping image {path}: {reason}", SkippedImageWarning, stacklevel=stacklevel)
    elif count == WARN_LIMIT + 1:
        warnings.warn(
            f"skipping image {path}: {reason}; more than {WARN_LIMIT} image files skipped, the rest are "
            "counted, not listed",
            SkippedImageWarning,
            stacklevel=stacklevel,
        )


def report_skip(path: str, reason: str, *, strict: bool, skipped: list[tuple[str, str]] | None) -> None:
    """Record a skipped file, or raise :class:`DataError` in strict mode (``data.strict``)."""
    if strict:
        raise DataError(f"bad image {path}: {reason} (data.strict = true)")
    if skipped is not None:
        skipped.append((path, reason))
    warn_skip(path, reason, len(skipped) if skipped is not None else 1)
