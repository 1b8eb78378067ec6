"""The built-in TensorBoard logger: a :class:`~i2i.plugins.registry.LoggerSpec` like any other logger.

It needs the ``tensorboard`` package (``pip install i2i-translate[tensorboard]``). With
``train.loggers`` unset a run uses it when that package is installed and logs nothing otherwise;
naming it in ``train.loggers`` without the package is an error. Event files go to
``OUT/tensorboard/``; view them with ``tensorboard --logdir OUT``.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from i2i.plugins.hookspecs import hookimpl
from i2i.plugins.registry import LoggerSpec


def tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except Exception:
        return False
    return True


class TensorBoardLogger:
    """Scalars under their own keys (``loss/KEY`` for keys without a group), sample rows as
    ``samples/ROW`` images, evaluation results as ``eval/KEY`` scalars."""

    writer: Any = None

    def start(self, run: Any) -> None:
        # no purge_step: a resumed run never repeats a logged step (i2i.train.tracking skips them)
        from torch.utils.tensorboard import SummaryWriter  # lazy: tensorboard is an optional extra

        self.writer = SummaryWriter(log_dir=str(run.out_dir / "tensorboard"))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key if "/" in key else f"loss/{key}", value, step)

    def log_images(self, images: Mapping[str, Any], step: int, path: str) -> None:
        for name, image in images.items():
            self.writer.add_image(f"samples/{name}", image, step)

    def log_summary(self, metrics: Mapping[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(f"eval/{key}", value, step)

    def log_artifact(self, path: str, name: str) -> None:
        """TensorBoard keeps no files; the checkpoint stays in the run folder."""

    def state(self) -> Mapping[str, Any]:
        return {}

    def finish(self, status: str) -> None:
        self.writer.flush()
        self.writer.close()


@hookimpl
def i2i_register_loggers() -> Iterator[LoggerSpec]:
    yield LoggerSpec(
        "tensorboard",
        TensorBoardLogger,
        "TensorBoard event files in OUT/tensorboard/",
        requires=("tensorboard",),
        extra="tensorboard",
    )
