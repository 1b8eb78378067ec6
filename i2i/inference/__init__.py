"""Inference: translating images with a checkpoint, and what methods declare for it.

``i2i.load_checkpoint(path).translate(images)`` (:mod:`i2i.inference.translator`); the typed
records methods declare (:mod:`i2i.inference.spec`); file translation as ``i2i translate`` does
it (:mod:`i2i.inference.files`). Names resolve lazily, so a method module importing the records
does not load the translator.
"""

from __future__ import annotations

from i2i._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "TranslateOption": "i2i.inference.spec",
    "ExportInput": "i2i.inference.spec",
    "image_input": "i2i.inference.spec",
    "check_options": "i2i.inference.spec",
    "load_checkpoint": "i2i.inference.translator",
    "Translator": "i2i.inference.translator",
    "prepare_size": "i2i.inference.translator",
    "working_size": "i2i.inference.translator",
    "resolve_device": "i2i.inference.translator",
    "resolve_precision": "i2i.inference.translator",
    "pil_to_tensor": "i2i.inference.translator",
    "tensor_to_pil": "i2i.inference.translator",
    "to_uint8": "i2i.inference.translator",
    "adapt_channels": "i2i.inference.translator",
    "FIT_MODES": "i2i.inference.translator",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
