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
    ".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".pbm", ".bmp", ".tif", ".tiff", ".webp", ".gif",
)  # fmt: skip


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


def list_images(folder: Path, *, strict: bool = False, skipped: list[tuple[str, str]] | None = None,
                recursive: bool = False) -> list[Path]:  # fmt: skip
    """Image files in ``folder`` (and its sub-folders if ``recursive``, as the reference
    ``make_dataset`` walks them), sorted by relative path.

    Zero-byte files are left out and appended to ``skipped`` as ``(path, reason)`` with a
    :class:`SkippedImageWarning`, or raise :class:`DataError` when ``strict``.
    """
    require_dir(folder, "data folder")
    found: list[Path] = []
    others = 0
    pending = [folder]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir():
                    if recursive and not entry.name.startswith("."):
                        pending.append(Path(entry.path))
                    continue
                if not entry.is_file():
                    continue
                if not is_image_name(entry.name):
                    others += 1
                    continue
                path = Path(entry.path)
                if entry.stat().st_size == 0:
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
    with os.scandir(folder) as entries:
        dirs = [Path(e.path) for e in entries if e.is_dir() and not e.name.startswith(".")]
    return sorted(dirs, key=lambda p: p.name)


def has_images(folder: Path) -> bool:
    """Whether ``folder`` directly holds at least one file with an image suffix."""
    if not folder.is_dir():
        return False
    with os.scandir(folder) as entries:
        return any(e.is_file() and is_image_name(e.name) for e in entries)


def report_skip(path: str, reason: str, *, strict: bool, skipped: list[tuple[str, str]] | None) -> None:
    """Record a skipped file, or raise :class:`DataError` in strict mode (``data.strict``)."""
    if strict:
        raise DataError(f"bad image {path}: {reason} (data.strict = true)")
    if skipped is not None:
        skipped.append((path, reason))
    warnings.warn(f"skipping image {path}: {reason}", SkippedImageWarning, stacklevel=2)
