"""Augmented CycleGAN's translate options: the direction, diverse samples, their seed, a style
reference image of the output domain, or explicit latent codes (``i2i translate CKPT --help``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

import i2i
from i2i import UsageError

DIRECTIONS = {"a2b": "a2b", "atob": "a2b", "b2a": "b2a", "btoa": "b2a"}
DIRECTION = i2i.TranslateOption(
    "direction",
    choices=("a2b", "b2a"),
    default="a2b",
    help="a2b translates A -> B with G_AB; b2a translates B -> A with G_BA",
    value_aliases={"AtoB": "a2b", "BtoA": "b2a"},
)


def _load_reference(path: Path, method: Any, options: Mapping[str, Any]) -> torch.Tensor:
    """A style image of the direction's *output* domain, ``(1, C, H, W)`` in [-1, 1]."""
    info = method.data_info
    channels = info.channels_a if direction_of(options.get("direction", "a2b")) == "b2a" else info.channels_b
    image, _ = i2i.read_image(path, channels)
    return image[None] * 2 - 1


def _check_codes(z: Any, method: Any, options: Mapping[str, Any]) -> None:
    """A command-line ``--z`` before any image is read (tensors are checked against their batch)."""
    if isinstance(z, str):
        i2i.latent_codes(z, 1, method.config.nlatent)


TRANSLATE_OPTIONS = (
    DIRECTION,
    i2i.TranslateOption(
        "samples", type=int, default=4, minimum=1, help="diverse outputs per input, saved as <name>_s0, _s1, ..."
    ),
    i2i.TranslateOption(
        "seed", type=int, default=0, help="seed of the latent codes (the same seed gives the same outputs)"
    ),
    i2i.TranslateOption(
        "reference",
        is_file=True,
        load=_load_reference,
        help="an image of the output domain whose style (latent code) is transferred",
    ),
    i2i.TranslateOption(
        "z",
        check=_check_codes,
        help="explicit latent code: nlatent comma-separated numbers (Python API: a (N or 1, nlatent) tensor)",
    ),
)


def as_int(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name}: expected an integer, got {value!r}") from None
    if isinstance(value, float) and not value.is_integer():
        raise UsageError(f"{name}: expected an integer, got {value!r}")
    return number


def direction_of(value: Any) -> str:
    key = str(value).lower().replace("_", "").replace("-", "")
    if key not in DIRECTIONS:
        raise UsageError(f"direction: expected a2b or b2a, got {value!r}")
    return DIRECTIONS[key]
