"""StarGAN's translate options, declared for ``i2i translate`` and :class:`i2i.Translator`.

``--target`` names the output domain(s); ``--source-labels`` the attributes every input has;
``--attribute-file`` a CelebA-style list giving each input its own attributes (by file name,
read by the same reader the data layer and ``i2i eval`` use), handed to the method as
``source_labels`` one row per image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

import i2i


def load_attribute_file(path: Path, method: Any, options: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """``{file name: (D,) 0/1 labels}`` in the model's attribute order, from a CelebA-style list."""
    names, rows = i2i.read_attribute_file(path)
    domains = list(method.domains)
    missing = [d for d in domains if d not in names]
    if missing:
        raise i2i.UsageError(
            f"the file has no column {missing[0]!r} (the model's attributes: {', '.join(domains)}; "
            f"the file's: {', '.join(names)})"
        )
    columns = [names.index(d) for d in domains]
    return {name: torch.tensor([1.0 if values[c] > 0 else 0.0 for c in columns]) for name, values in rows}


def check_target(value: Any, method: Any, options: Mapping[str, Any]) -> None:
    """``--target`` against the checkpoint's labels, with the inputs' own labels the call gives."""
    method.check_labels(value, options.get("source_labels"), per_image_labels="attribute_file" in options)


def check_source_labels(value: Any, method: Any, options: Mapping[str, Any]) -> None:
    method.check_labels(source_labels=value)


TARGET = i2i.TranslateOption(
    "target",
    default="all",
    check=check_target,
    help="domain (or attribute) to translate to; attributes: several comma-separated, -NAME turns one off "
    "(Blond_Hair,-Male); 'all' writes one output per domain",
)
SOURCE_LABELS = i2i.TranslateOption(
    "source_labels",
    check=check_source_labels,
    help="attribute checkpoints: the attributes every input has (comma-separated names); "
    "attributes the target does not name keep these",
)
ATTRIBUTE_FILE = i2i.TranslateOption(
    "attribute_file",
    is_file=True,
    load=load_attribute_file,
    per_image=True,
    dest="source_labels",
    help="attribute checkpoints: a CelebA-style attribute list (list_attr_celeba.txt) giving each input's "
    "own attributes, by file name",
)
OPTIONS = (TARGET, SOURCE_LABELS, ATTRIBUTE_FILE)
