"""Evaluation: metrics and the ``i2i eval`` runner.

``evaluate(translator, data_root=..., settings=EvalSettings(...)) -> EvalReport`` scores a
checkpoint on held-out data beside trivial baselines (see :mod:`i2i.eval.runner` and
:mod:`i2i.eval.report`). The building blocks are usable alone: :mod:`i2i.eval.pixels`
(PSNR/SSIM/L1), :mod:`i2i.eval.swd`, :mod:`i2i.eval.distances` (Fréchet distance, KID),
:mod:`i2i.eval.classifier` (the rank-normalised domain classifier), :mod:`i2i.eval.inception`
(FID Inception from a local weight file). :mod:`i2i.eval.summary` is the trainer's small
end-of-run summary. Names resolve lazily so importing the package stays cheap.
"""

from __future__ import annotations

from i2i._lazy import lazy_exports

_EXPORTS = {
    "evaluate": "i2i.eval.runner",
    "EvalSettings": "i2i.eval.runner",
    "EvalReport": "i2i.eval.report",
    "frechet_distance": "i2i.eval.distances",
    "kid": "i2i.eval.distances",
    "load_fid_inception": "i2i.eval.inception",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
