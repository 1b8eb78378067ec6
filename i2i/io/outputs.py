"""Output folders of commands: a command that fails leaves no empty folder behind.

A command creates its output folder before it knows whether the first input will go
through (``i2i translate`` with a wrong option, an unreadable checkpoint input...). When it
then fails, an empty folder named like a result is worse than none: the next attempt, or a
script testing for the folder, takes it for output.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator


def remove_empty_tree(folder: Path) -> bool:
    """Remove ``folder`` if it and all its sub-folders hold no file; returns whether it went."""
    if not folder.is_dir():
        return False
    for root, dirs, files in os.walk(folder, topdown=False):
        if files:
            return False
        for name in dirs:
            with contextlib.suppress(OSError):
                (Path(root) / name).rmdir()
    try:
        folder.rmdir()
    except OSError:  # something appeared meanwhile, or a sub-folder could not go
        return False
    return True


@contextlib.contextmanager
def removed_if_left_empty(folder: Path) -> Iterator[None]:
    """Run the body; if it raises and ``folder`` did not exist before, remove it when it holds
    no file (anything written is kept)."""
    existed = folder.exists()
    try:
        yield
    except BaseException:
        if not existed:
            remove_empty_tree(folder)
        raise


__all__ = ["remove_empty_tree", "removed_if_left_empty"]
