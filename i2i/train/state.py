"""The trainer's resumable state: what goes into a training checkpoint and how it comes back.

:func:`training_checkpoint` is the method's :class:`~i2i.io.checkpoint.Checkpoint` (what inference needs:
enough to rebuild the method) plus everything exact resume needs: the run's id (its lineage in
the folder), position in the data, optimizer/scheduler/scaler/EMA state, every rank's RNG state
and the running loss sums. :func:`load_training_state` puts it back into a freshly built run.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from i2i.io import checkpoint as ckpt_io
from i2i.train import distributed as dist_utils
from i2i.train.context import NonFiniteError


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def training_checkpoint(run: Any) -> ckpt_io.Checkpoint:
    """The run's checkpoint: the method's (what inference needs) plus exact-resume state."""
    rng = dist_utils.gather_objects(ckpt_io.capture_rng(), run.world_size)
    ckpt = ckpt_io.Checkpoint.of(run.method, run.config, run.data.info, plugin=run.spec.plugin, step=run.step)
    ckpt.payload["versions"]["plugin_version"] = _plugin_version(run)
    return ckpt.with_fields(
        **{
            "run_id": run.run_id,
            "batches_per_epoch": run.batches_per_epoch,
            "epoch": run.epoch,
            "position": run.position,
            "world_size": run.world_size,
            "ema": run.ema.state_dict() if run.ema is not None else None,
            "optimizers": {name: opt.state_dict() for name, opt in run.optimizers.items()},
            "schedulers": run.schedules.state_dict(),
            "scaler": run.precision.scaler.state_dict() if run.precision.scaler is not None else None,
            "rng": rng,
            "skipped": dict(run.ctx.skipped),
            "loss_sums": {k: v.detach().cpu() for k, v in run.losses.sums.items()},
            "loss_count": run.losses.count,
            "epoch_loss_sums": {k: v.detach().cpu() for k, v in run.epoch_losses.sums.items()},
            "epoch_loss_count": run.epoch_losses.count,
            "plugin_state": _plugin_state(run),
        }
    )


def _plugin_state(run: Any) -> dict[str, Any]:
    """What plugins keep in the checkpoint (``i2i_checkpoint_state``), e.g. a tracker's run id."""
    state: dict[str, Any] = {}
    for answer in run.host.checkpoint_state(run.view):
        state.update(answer or {})
    return state


def _plugin_version(run: Any) -> str:
    for name, info in run.host.infos.items():
        if run.host.describe_plugin(name) == run.spec.plugin:
            return info.version
    return ""


def load_training_state(run: Any, state: dict[str, Any]) -> None:
    try:
        run.method.load_state_dict(state["model"], strict=True)
        for name, opt in run.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
    except (RuntimeError, KeyError, ValueError) as exc:
        detail = ckpt_io.describe_mismatch(run.method.state_dict(), state["model"]) or str(exc).strip().splitlines()[0]
        raise ckpt_io.CheckpointError(f"{run.resume_path}: does not fit this run's method: {detail}") from None
    run.schedules.load_state_dict(state.get("schedulers") or {})
    if run.ema is not None and state.get("ema"):
        run.ema.load_state_dict(state["ema"])
    if run.precision.scaler is not None and state.get("scaler"):
        run.precision.scaler.load_state_dict(state["scaler"])
    run.ctx.skipped.update(state.get("skipped") or {})
    run.step, run.epoch, run.position = (
        int(state["step"]),
        int(state["epoch"]),
        int(state["position"]),
    )
    for averager, key in ((run.losses, "loss"), (run.epoch_losses, "epoch_loss")):
        averager.sums = {k: v.to(run.device) for k, v in (state.get(f"{key}_sums") or {}).items()}
        averager.count = int(state.get(f"{key}_count") or 0)
    rngs = state.get("rng") or []
    if len(rngs) == run.world_size:
        ckpt_io.restore_rng(rngs[run.rank])
    else:  # a different number of processes: exact continuation is impossible anyway
        seed_everything((run.config.train.seed + run.rank + 1_000_003 * run.step) % 2**63)
    run.ctx.step = run.step


def check_finite(run: Any) -> None:
    """Non-finite weights are never saved over a good checkpoint, nor reported as done."""
    params = [p for p in run.method.parameters() if p.is_floating_point()]
    if params and not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
        raise NonFiniteError(
            f"the weights are not finite (NaN or inf) at step {run.step}; not saved{kept_note(run)}; "
            "lower the learning rate, set train.grad_clip, or use train.precision=fp32"
        )


def kept_note(run: Any) -> str:
    """The end of an error message: which checkpoint a failed run leaves to resume from."""
    kept = ckpt_io.find_resume_checkpoint(run.out_dir) if run.is_main else None
    return f"; the last good checkpoint {kept} is kept" if kept else "; no checkpoint was saved"


def save_checkpoint(run: Any, *, periodic: bool) -> Path | None:
    """Write the run's checkpoint: ``step_N.pt`` (+ ``last.pt`` as a copy, old steps rotated)
    when ``periodic``, else ``last.pt``; every rank calls it (the RNG gather is collective) and
    only the main rank writes. Returns the path written (None on other ranks)."""
    checkpoint = training_checkpoint(run)  # collective (RNG gather): every rank takes part
    check_finite(run)
    run.last_saved_step = run.step
    if not run.is_main:
        return None
    last = run.out_dir / ckpt_io.LAST
    if periodic:
        path = checkpoint.write(run.out_dir / ckpt_io.step_filename(run.step))
        ckpt_io.copy_checkpoint(path, last)
        ckpt_io.rotate(run.out_dir, run.config.train.keep_checkpoints)
        if run.config.train.keep_checkpoints == 0:
            path = last
    else:
        path = checkpoint.write(last)
    run.host.checkpoint_saved(run=run.view, step=run.step, path=str(path))
    return path
