"""Folder datasets, decoding, samplers and device-side kornia augmentation.

The trainer needs only :func:`build_data` (see :mod:`i2i.data.pipeline`).

A dataset item (what a layout registered with ``i2i_register_datasets`` returns from
``dataset[i]``) is a dict: ``"a"`` uint8 ``(C, H, W)``; ``"b"`` uint8 with the same ``H, W``
for paired data (any size for unpaired); ``"label"`` float ``(D,)`` for labelled data;
optional ``"name_a"``, ``"name_b"`` (file names) and ``"skipped"`` (``(path, reason)`` of bad
files replaced while making the item). A dataset may set ``info`` (a
:class:`~i2i.method.DataInfo`) and ``accepts_keys = True`` to receive ``(index, token)``
keys from the sampler. Names resolve
lazily: :mod:`i2i.method` imports :mod:`i2i.data.batch`, and the pipeline imports
:mod:`i2i.method`, so this package must not import the pipeline eagerly.
"""

from __future__ import annotations

from i2i._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Batch": "i2i.data.batch",
    "DataConfig": "i2i.data.config",
    "build_data": "i2i.data.pipeline",
    "build_dataset": "i2i.data.pipeline",
    "DataModule": "i2i.data.pipeline",
    "ResumableSampler": "i2i.data.sampler",
    "DeviceAugment": "i2i.data.augment",
    "LAYOUTS": "i2i.data.layouts",
    "detect_layout": "i2i.data.layouts",
    "DEMO_TASKS": "i2i.data.demo",
    "demo_root": "i2i.data.demo",
    "open_image": "i2i.data.decode",
    "SkippedImageWarning": "i2i.data.files",
    "IMAGE_EXTENSIONS": "i2i.data.files",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
