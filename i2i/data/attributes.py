"""CelebA-style attribute lists (``list_attr_celeba.txt``) for multi-label data.

The format: a count line, a header line of attribute names, then one line per image,
``000001.jpg  -1  1  1 -1 ...`` (``1`` = has it; ``-1`` or ``0`` = has not). The test split
follows StarGAN's reference: shuffle the lines with Python's ``random.seed(1234)`` and hold
out the first ones (2000 for CelebA; a tenth for small lists).
"""

from __future__ import annotations

import difflib
import random
from pathlib import Path
from typing import Sequence

from i2i.errors import DataError

#: Names tried in the data root when ``data.attribute_file`` is not set.
ATTRIBUTE_FILE_NAMES = ("list_attr_celeba.txt", "attributes.txt", "list_attr.txt")


def find_attribute_file(root: Path, configured: str | None) -> Path | None:
    """``data.attribute_file`` (relative to the root unless absolute), else a known name in the root."""
    if configured:
        path = Path(configured).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise DataError(f"data.attribute_file: {path} does not exist")
        return path
    for name in ATTRIBUTE_FILE_NAMES:
        if (root / name).is_file():
            return root / name
    return None


def read_attribute_file(path: Path) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """Attribute names and ``(file name, values)`` rows; a malformed line is a :class:`DataError`."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read attribute file {path}: {exc.strerror or exc}") from None
    if len(lines) < 2:
        raise DataError(f"attribute file {path}: expected a count line and a header line of attribute names")
    names = lines[1].split()
    rows: list[tuple[str, list[int]]] = []
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(names) + 1:
            raise DataError(
                f"attribute file {path}, line {number}: expected a file name and {len(names)} values, got {len(fields)} fields"
            )
        try:
            rows.append((fields[0], [int(v) for v in fields[1:]]))
        except ValueError:
            raise DataError(f"attribute file {path}, line {number}: values must be 1, -1 or 0") from None
    if not rows:
        raise DataError(f"attribute file {path} lists no images")
    return names, rows


def select_attributes(path: Path, names: Sequence[str], wanted: Sequence[str]) -> list[int]:
    """Column indices of ``wanted`` (``data.attributes``); an unknown name is a :class:`DataError`."""
    if not wanted:
        raise DataError("data.attributes is empty: name the attributes to use as labels")
    columns = []
    for attribute in wanted:
        if attribute not in names:
            close = difflib.get_close_matches(attribute, names, n=2)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise DataError(f"data.attributes: {attribute!r} is not in {path}{hint} (its columns: {', '.join(names)})")
        columns.append(names.index(attribute))
    return columns


#: The reference ``CelebA.preprocess``: ``if (i+1) < 2000`` -> test, i.e. 1999 test images.
REFERENCE_TEST_SIZE = 1999


def split_rows(rows: list[tuple[str, list[int]]], split: str) -> list[tuple[str, list[int]]]:
    """StarGAN's split: shuffled with seed 1234 (``random.seed(1234); random.shuffle(lines)``),
    then the reference's ``if (i+1) < 2000`` puts the first 1999 rows in the test set. Lists
    too small for that hold out a tenth (at least one row) instead."""
    shuffled = list(rows)
    random.Random(1234).shuffle(shuffled)
    n_test = min(REFERENCE_TEST_SIZE, max(1, len(shuffled) // 10)) if len(shuffled) > 1 else 0
    return shuffled[:n_test] if split == "test" and n_test else shuffled[n_test:]
