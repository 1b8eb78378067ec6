"""Augmented CycleGAN's own evaluation, as its paper measures it where that is offline-computable.

Declared through ``AugCycleGAN.eval_capabilities`` (two directions, K samples per input, and the
two metrics below), so ``i2i eval`` runs them for this method and no other.

* ``latent_rec_<dir>`` - **reconstruction from an inferred code** (Almahairi et al. 2018 report
  how well B is reconstructed from A and the code the encoder infers from the pair). For
  ``a2b``: ``z = E_B(a, b)``, ``b^ = G_AB(a, z)``, L1 on [0,1] between ``b^`` and ``b``. On data
  that also reads as aligned pairs ``(a, b)`` are the true pairs; otherwise ``a`` is the model's
  own translation ``G_BA(b)`` (the cycle the method trains). Columns: ``model`` (the inferred
  code), ``prior`` (a prior draw instead: how much the code carries), ``identity`` (``a`` itself
  as the reconstruction, aligned data with equal channels only).
* ``noise_sensitivity_<dir>`` - how much a translation moves when its code moves a little:
  L1 on [0,1] between ``G(x, z)`` and ``G(x, z + d)``, ``z`` a prior draw, ``d ~ N(0, 0.1^2 I)``,
  divided by 0.1 (per unit of code). 0 means the generator ignores its code (the mode collapse
  the method is meant to avoid); compare with ``diversity`` for the spread between prior draws.

Directions whose target domain is not augmented (``augment_a/augment_b = false``) have no
encoder and are skipped with a note.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

import i2i
from i2i import EvalContext, EvalMetric

NOISE_STEP = 0.1


def _unit(x: torch.Tensor) -> torch.Tensor:
    return (x.float().clamp(-1, 1) + 1) / 2


def _l1(x: torch.Tensor, y: torch.Tensor) -> float:
    return float((_unit(x) - _unit(y)).abs().mean())


def _batched(fn: Any, *tensors: torch.Tensor, device: torch.device, size: int = 16) -> torch.Tensor:
    """``fn`` over row batches of ``tensors`` moved to ``device``; the outputs concatenated on the CPU."""
    outs = [fn(*(t[i : i + size].to(device) for t in tensors)).float().cpu() for i in range(0, len(tensors[0]), size)]
    return torch.cat(outs)


def _fitted(method: Any, x: torch.Tensor) -> tuple[torch.Tensor, Any]:
    """``ctx.test()`` images are at their own size: padded here to the networks' size multiple,
    with the function that crops an output back (so the padded border is never scored)."""
    return i2i.prepare_size(x, int(getattr(method, "size_multiple", 1) or 1))


def _augmented(method: Any, name: str) -> bool:
    return bool(method.config.augment_b if name == "a2b" else method.config.augment_a)


def latent_reconstruction(ctx: EvalContext) -> Mapping[str, Mapping[str, float]]:
    method, device = ctx.method, ctx.device
    test = ctx.test()
    aligned = ctx.aligned_test()
    rows: dict[str, dict[str, float]] = {}
    for name in ("a2b", "b2a"):
        if not _augmented(method, name):
            ctx.note(f"latent_rec_{name} skipped: the target domain is not augmented (no encoder)")
            continue
        generator, reverse, encoder, _ = method._side(name)
        if aligned is not None:
            source, target = aligned if name == "a2b" else (aligned[1], aligned[0])
        else:
            target = test.b if name == "a2b" else test.a
            if target is None:
                continue
            back = "b2a" if name == "a2b" else "a2b"
            source = ctx.translate(target, direction=back)[""]  # the model's own source image
        (work, undo), (work_target, _) = _fitted(method, source), _fitted(method, target)
        codes = _batched(
            lambda s, t, e=encoder: method._infer(e, s, t, sample=False).z, work, work_target, device=device
        )
        rec = undo(_batched(generator, work, codes, device=device))
        prior = method.draw_codes(1, len(source), ctx.seed)[0]
        rec_prior = undo(_batched(generator, work, prior, device=device))
        row = {"model": _l1(rec, target), "prior": _l1(rec_prior, target)}
        if aligned is not None and source.shape == target.shape:
            row["identity"] = _l1(source, target)
        rows[f"latent_rec_{name}"] = row
    if aligned is None and rows:
        ctx.note(
            "latent_rec: no aligned ground truth, so each target image is reconstructed from the model's own translation"
        )
    return rows


def noise_sensitivity(ctx: EvalContext) -> Mapping[str, Mapping[str, float]]:
    method, device = ctx.method, ctx.device
    test = ctx.test()
    rows: dict[str, dict[str, float]] = {}
    generator_seed = torch.Generator().manual_seed(ctx.seed)
    for name in ("a2b", "b2a"):
        source = test.a if name == "a2b" else test.b
        if source is None or not _augmented(method, name):
            continue
        generator = method._side(name)[0]
        z = method.draw_codes(1, len(source), ctx.seed)[0]
        step = torch.randn(z.shape, generator=generator_seed) * NOISE_STEP
        work, undo = _fitted(method, source)
        out = undo(_batched(generator, work, z, device=device))
        moved = undo(_batched(generator, work, z + step, device=device))
        rows[f"noise_sensitivity_{name}"] = {"model": _l1(out, moved) / NOISE_STEP}
    return rows


LATENT_REC = EvalMetric(
    name="latent_rec",
    description="L1 on [0,1] of the target rebuilt from its source and the code the encoder infers from the pair "
    "(Augmented CycleGAN's reconstruction measure; 'prior': a random code instead) (lower is better)",
    compute=latent_reconstruction,
)
NOISE_SENSITIVITY = EvalMetric(
    name="noise_sensitivity",
    description=f"L1 on [0,1] change of a translation per unit of latent code, for a N(0, {NOISE_STEP}^2) step of the "
    "code (0: the code is ignored)",
    compute=noise_sensitivity,
)

CAPABILITIES = i2i.EvalCapabilities(
    directions=i2i.EvalCapabilities.two_directions("direction"),
    samples="samples",
    seed="seed",
    metrics=(LATENT_REC, NOISE_SENSITIVITY),
)
