"""What a resumed run keeps, what it may change, and what it tells the user about the change.

A resumed run stays the experiment its checkpoint belongs to: method, optimizer, schedule
shape, batch size and seed come from the checkpoint. The run-control keys in
:data:`RESUMABLE_KEYS` (length, device, precision, layout, reporting, and where the data now
lives) may change; each change is listed, and the ones with a visible effect on training (a
learning rate that jumps because the schedule now spans more steps, a dataset that shrank)
get their own note. A resume that has nothing left to do is refused before anything is
rewritten.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
from torch.optim.lr_scheduler import LambdaLR

from i2i.config import run as _config
from i2i.errors import UsageError

#: What a resumed run may change: how long, where and how fast it trains, how it reports, and
#: where its data lives (``data.root``: the data moved).
RESUMABLE_KEYS = frozenset(
    {
        f"train.{k}"
        for k in (
            "steps",
            "epochs",
            "epochs_decay",
            "device",
            "precision",
            "channels_last",
            "small_map_gemm",
            "narrow_conv",
            "keep_freed_memory",
            "compile",
            "log_every",
            "sample_every",
            "checkpoint_every",
            "keep_checkpoints",
            "max_bad_steps",
            "eval_at_end",
            "sample_images",
            "eval_images",
            "loggers",
        )
    }
    | {f"train.tracking.{k}" for k in ("project", "name", "tags", "entity", "uri", "log_checkpoint")}
    | {"data.num_workers", "data.root"}
)


def differences(given: _config.RunConfig, saved: _config.RunConfig) -> dict[str, Any]:
    """Dotted keys whose value in ``given`` differs from the run's saved config (``out`` aside)."""
    a = _config.flatten(_config.to_dict(given))
    b = _config.flatten(_config.to_dict(saved))
    keys = (set(a) | set(b)) - {"out"}
    return {k: a.get(k) for k in sorted(keys) if a.get(k) != b.get(k)}


def _get_dotted(obj: Any, key: str) -> Any:
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def _evolve_dotted(obj: Any, changes: dict[str, Any]) -> Any:
    """``attrs.evolve`` with dotted keys reaching into nested configs (``train.tracking.name``)."""
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            direct[head] = value
    direct.update({head: _evolve_dotted(getattr(obj, head), sub) for head, sub in nested.items()})
    return attrs.evolve(obj, **direct)


def resumed_config(
    given: _config.RunConfig, saved: _config.RunConfig
) -> tuple[_config.RunConfig, list[str], list[str]]:
    """The saved config with ``given``'s run-control changes; returns it, the changes applied
    and the ones ignored (as ``key=value``)."""
    diff = differences(given, saved)
    applied = {k: v for k, v in diff.items() if k in RESUMABLE_KEYS}
    config = _evolve_dotted(saved, {k: _get_dotted(given, k) for k in applied})
    changed = [f"{k}={v!r}" for k, v in diff.items() if k in applied]
    ignored = [f"{k}={v!r}" for k, v in diff.items() if k not in applied]
    return config, changed, ignored


def data_moved_note(saved: _config.RunConfig, config: _config.RunConfig) -> str | None:
    if saved.data.root == config.data.root:
        return None
    return f"note: the data moved: this run now reads {config.data.root} (it was trained on {saved.data.root})"


def check_left_to_do(out_dir: Path, step: int, total: int, config: _config.RunConfig) -> None:
    """Refuse a resume with nothing to train (before config.toml or anything else is rewritten)."""
    if step < total:
        return
    what = "train.steps" if config.train.steps is not None else "train.epochs + train.epochs_decay"
    if step == total:
        raise UsageError(
            f"{out_dir}: the run already finished at step {step} ({what} = {total}); "
            f"to train longer, resume with --steps N for some N > {step}"
        )
    raise UsageError(
        f"{out_dir}: the run is already at step {step}, past the {total} steps asked for ({what}); "
        f"nothing was changed; to train longer, resume with --steps N for some N > {step}"
    )


def schedule_note(schedulers: dict[str, Any], total: int) -> str | None:
    """When the resumed schedule puts the learning rate elsewhere than where the run left it
    (a longer run recomputes a linear decay: the rate jumps back up), say so with numbers."""
    jumps = []
    for name, sched in schedulers.items():
        if not isinstance(sched, LambdaLR):
            continue
        now = sched.optimizer.param_groups[0]["lr"]
        new = sched.base_lrs[0] * sched.lr_lambdas[0](sched.last_epoch)
        if abs(new - now) > 1e-12 + 1e-6 * abs(now):
            jumps.append(f"{name} {now:.3g} -> {new:.3g}")
    if not jumps:
        return None
    return (
        f"note: the learning-rate schedule now spans {total} steps, so the rate changes at the resume "
        f"step ({', '.join(jumps)}): the rate a run of {total} steps has there"
    )


def dataset_note(saved_batches: Any, batches: int) -> str | None:
    if not isinstance(saved_batches, int) or saved_batches == batches:
        return None
    change = "shrank" if batches < saved_batches else "grew"
    return (
        f"note: the training data {change} since the checkpoint: {batches} batches per epoch, "
        f"was {saved_batches}; epochs (and epoch-based schedules) now count the new size"
    )
