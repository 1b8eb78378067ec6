"""End-of-run held-out numbers, each beside a trivial baseline so that it means something.

Paired data: PSNR (dB, images mapped to [0, 1]) of the method's output against the target, of
the *identity* baseline (the input itself as the prediction, when channel counts match) and
of the *mean colour* baseline (every pixel the per-channel mean colour of the held-out targets
being scored - computed on the test targets, which flatters that baseline slightly), and of
each of the method's own trivial predictions (``Method.baselines(x)``, as ``psnr_<name>``). A
method that does not beat them has learned little.

Unpaired/labelled data has no target: ``l1_change`` is the mean absolute difference between
input and output in [0, 1] units - a measure of how much the method changes its input (0
means it copies it). Fuller evaluation (FID and friends) lives elsewhere in :mod:`i2i.eval`.

Images are scored at their own size: one that is not a multiple of the network's size multiple
is reflect-padded for the network and its outputs cropped back (:func:`i2i.inference.prepare_size`,
what samples and ``i2i translate`` do), so the padded border never enters a number.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch

from i2i.inference.sizes import prepare_size


def _enter(autocast_ctx: Any) -> contextlib.AbstractContextManager[Any]:
    if autocast_ctx is None:
        return contextlib.nullcontext()
    return autocast_ctx if hasattr(autocast_ctx, "__enter__") else autocast_ctx()


def _unit(x: torch.Tensor) -> torch.Tensor:
    return (x.detach().double().clamp(-1, 1) + 1) / 2


def _psnr(mse: torch.Tensor) -> torch.Tensor:
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


@torch.no_grad()
def summarize(
    method: Any, data_module_test: Any, device: torch.device, autocast_ctx: Any = None, max_images: int = 64
) -> dict[str, float]:
    """Score ``method`` on up to ``max_images`` held-out images; returns plain floats.

    ``autocast_ctx`` is a context manager (or a factory of one) for the forward passes.
    """
    paired = getattr(data_module_test.info, "kind", None) == "paired"
    psnr_out: list[torch.Tensor] = []
    psnr_id: list[torch.Tensor] = []
    psnr_base: dict[str, list[torch.Tensor]] = {}  # the method's own baselines
    chan_mean: list[torch.Tensor] = []  # per image, per channel E[t]
    chan_sq: list[torch.Tensor] = []  # per image, per channel E[t^2]
    change: list[torch.Tensor] = []
    seen = 0
    multiple = int(getattr(method, "size_multiple", 1) or 1)
    was_training = method.training
    method.eval()
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            for raw in data_module_test.loader:
                batch = data_module_test.augment(raw, device, train=False, pad=False)
                take = min(len(batch), max_images - seen)
                if take <= 0:
                    break
                batch = batch.select(slice(0, take))
                work, undo = prepare_size(batch.a, multiple)  # scored at the image's own size
                with _enter(autocast_ctx):
                    out = undo(method.translate(work))
                out, x = _unit(out), _unit(batch.a)
                if paired and batch.b is not None:
                    t = _unit(batch.b)
                    psnr_out.append(_psnr(((out - t) ** 2).mean(dim=(1, 2, 3))))
                    if x.shape == t.shape:
                        psnr_id.append(_psnr(((x - t) ** 2).mean(dim=(1, 2, 3))))
                    for name, guess in _baselines(method, work, undo, autocast_ctx).items():
                        if guess.shape == t.shape:
                            psnr_base.setdefault(name, []).append(_psnr(((_unit(guess) - t) ** 2).mean(dim=(1, 2, 3))))
                    chan_mean.append(t.mean(dim=(2, 3)))
                    chan_sq.append((t**2).mean(dim=(2, 3)))
                elif out.shape == x.shape:
                    change.append((out - x).abs().mean(dim=(1, 2, 3)))
                seen += take
                if seen >= max_images:
                    break
    finally:
        method.train(was_training)
    result: dict[str, float] = {"images": float(seen)}
    if psnr_out:
        result["psnr"] = float(torch.cat(psnr_out).mean())
        if psnr_id:
            result["psnr_identity"] = float(torch.cat(psnr_id).mean())
        means, squares = torch.cat(chan_mean), torch.cat(chan_sq)
        colour = means.mean(dim=0, keepdim=True)  # the mean colour of the scored targets
        mse = (squares - 2 * colour * means + colour**2).mean(dim=1)  # E[(t - c)^2] per image
        result["psnr_mean_color"] = float(_psnr(mse).mean())
        for name, values in psnr_base.items():
            result[f"psnr_{name}"] = float(torch.cat(values).mean())
    if change:
        result["l1_change"] = float(torch.cat(change).mean())
    return {k: v for k, v in result.items() if math.isfinite(v)}


def _baselines(method: Any, work: torch.Tensor, undo: Any, autocast_ctx: Any) -> dict[str, torch.Tensor]:
    """``method.baselines`` of the padded input, cropped back like the outputs (a duck-typed
    method may have none)."""
    baselines = getattr(method, "baselines", None)
    if baselines is None:
        return {}
    with _enter(autocast_ctx):
        return {name: undo(guess) for name, guess in baselines(work).items()}


def format_table(metrics: dict[str, float]) -> str:
    """A small aligned two-column table for the terminal."""
    if not metrics:
        return ""
    width = max(len(k) for k in metrics)
    lines = [f"{'metric'.ljust(width)}  value", f"{'-' * width}  --------"]
    lines += [f"{k.ljust(width)}  {v:.4g}" for k, v in metrics.items()]
    return "\n".join(lines)
