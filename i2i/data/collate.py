"""Stacking item dicts into one CPU uint8 batch dict (runs in the workers).

Modes that keep each image's own size (``crop``, ``none``, ``scale_width``) can produce
items of different sizes; they are centre-cropped to the smallest height and width in the
batch so they stack (deterministic, and the device crop that follows is smaller anyway).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch


def center_crop(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The central ``height x width`` window of a ``(..., H, W)`` tensor."""
    h, w = image.shape[-2:]
    top, left = (h - height) // 2, (w - width) // 2
    return image[..., top : top + height, left : left + width]


def stack_images(images: Sequence[torch.Tensor]) -> torch.Tensor:
    """Stack ``(C, H, W)`` tensors, centre-cropping to the smallest size if they differ.

    uint8 images stay uint8; a batch that holds a full-depth (float ``[0, 1]``) image, e.g. a
    16-bit scan, is float32 throughout, the 8-bit images of it divided by 255."""
    height = min(t.shape[-2] for t in images)
    width = min(t.shape[-1] for t in images)
    if any(t.is_floating_point() for t in images):
        images = [t if t.is_floating_point() else t.float().div_(255.0) for t in images]
    return torch.stack([center_crop(t, height, width) for t in images])


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``{"a": uint8 (N,C,H,W), "b"?, "labels"?, "names_a", "names_b", "skipped"}``."""
    batch: dict[str, Any] = {
        "a": stack_images([item["a"] for item in items]),
        "names_a": [item.get("name_a", "") for item in items],
        "names_b": [item.get("name_b", "") for item in items],
        "skipped": [entry for item in items for entry in item.get("skipped", ())],
    }
    if "b" in items[0]:
        batch["b"] = stack_images([item["b"] for item in items])
    if "label" in items[0]:
        batch["labels"] = torch.stack([torch.as_tensor(item["label"], dtype=torch.float32) for item in items])
    return batch
