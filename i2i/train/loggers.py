"""The built-in TensorBoard logger: a plugin on the lifecycle hooks, like any other logger.

Active only when the ``tensorboard`` package is installed (``pip install i2i-translate[tensorboard]``);
otherwise every hook here does nothing. Event files go to ``OUT/tensorboard/``; view them with
``tensorboard --logdir OUT``. Only the main rank calls lifecycle hooks, so only it writes.
"""

from __future__ import annotations

import weakref
from typing import Any, Mapping

from i2i.hookspecs import hookimpl

#: run -> SummaryWriter; weak, so a finished run's writer goes with it
_writers: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except Exception:
        return False
    return True


def _writer(run: Any) -> Any:
    return _writers.get(run) if run is not None else None


@hookimpl
def i2i_train_start(run: Any) -> None:
    if not getattr(run, "is_main", True) or not tensorboard_available():
        return
    from torch.utils.tensorboard import SummaryWriter

    _writers[run] = SummaryWriter(log_dir=str(run.out_dir / "tensorboard"), purge_step=run.step or None)


@hookimpl
def i2i_step_end(run: Any, step: int, metrics: Mapping[str, float]) -> None:
    writer = _writer(run)
    if writer is not None:
        for key, value in metrics.items():
            writer.add_scalar(key if "/" in key else f"loss/{key}", value, step)


@hookimpl
def i2i_sample_images(run: Any, step: int, path: str, images: Mapping[str, Any]) -> None:
    writer = _writer(run)
    if writer is not None:
        for name, image in images.items():
            writer.add_image(f"samples/{name}", image, step)


@hookimpl
def i2i_eval_result(run: Any, step: int, metrics: Mapping[str, float]) -> None:
    writer = _writer(run)
    if writer is not None:
        for key, value in metrics.items():
            writer.add_scalar(f"eval/{key}", value, step)


@hookimpl
def i2i_train_end(run: Any, step: int, status: str) -> None:
    writer = _writers.pop(run, None) if run is not None else None
    if writer is not None:
        writer.flush()
        writer.close()
