"""Experiment loggers: the ``train.loggers`` a run names, fed from the lifecycle hooks.

A logger is a plugin's :class:`~i2i.plugins.registry.LoggerSpec`; its factory builds a
:class:`RunLogger`. This module is itself a plugin on the lifecycle hooks (like any observer):
it builds the run's loggers at ``i2i_train_start``, forwards losses, learning rates, sample
grids and evaluation results, stores each logger's :meth:`RunLogger.state` (its tracker run id)
in every checkpoint, and closes them at the end. The trainer calls lifecycle hooks on the main
rank only, so under DDP only rank 0 logs.

A resumed run continues the same tracker run and never logs a step twice: each logger's newest
logged step is kept in ``OUT/loggers.json`` and events at or before it are skipped (i2i's resume
is exact, so a re-run step would only repeat a value the tracker already has).
"""

from __future__ import annotations

import importlib.util
import json
import weakref
from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

import attrs

from i2i.config.run import flatten, to_dict
from i2i.errors import UsageError
from i2i.io.atomic import atomic_write_bytes
from i2i.io.checkpoint import Checkpoint
from i2i.plugins.hookspecs import hookimpl
from i2i.plugins.host import get_host

#: ``train.loggers`` unset: TensorBoard when its package is installed (i2i's behaviour before
#: loggers were selectable), nothing otherwise.
DEFAULT_LOGGER = "tensorboard"
STATE_FILE = "loggers.json"


@attrs.frozen
class TrackedRun:
    """What a logger is told about the run it records (read-only).

    ``params``: the full run config flattened to dotted keys. ``state``: what this logger's
    :meth:`RunLogger.state` returned when the checkpoint being resumed (or evaluated) was saved,
    None for a new run. ``tracking``: the run's ``train.tracking`` settings (project, name,
    tags, entity, uri, log_checkpoint); a logger falls back on its tracker's own environment
    variables for what is unset. ``purpose``: ``"train"`` for a training run (new or resumed),
    ``"eval"`` when ``i2i eval`` reopens the run only to add evaluation results.
    """

    out_dir: Path
    method: str
    step: int
    params: Mapping[str, Any]
    tracking: Any
    state: Mapping[str, Any] | None = None
    purpose: str = "train"


@runtime_checkable
class RunLogger(Protocol):
    """One run's connection to an experiment tracker. Metric keys look like ``G/gan``,
    ``lr/G``, ``eval/psnr``; images are uint8 CHW tensors; steps are global training steps."""

    def start(self, run: TrackedRun) -> None: ...

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None: ...

    def log_images(self, images: Mapping[str, Any], step: int, path: str) -> None: ...

    def log_summary(self, metrics: Mapping[str, float], step: int) -> None: ...

    def log_artifact(self, path: str, name: str) -> None: ...

    def state(self) -> Mapping[str, Any]: ...

    def finish(self, status: str) -> None: ...


def check_loggers(names: Any, registry: Any) -> tuple[str, ...]:
    """The logger names a run will use; unknown names and missing packages are errors."""
    if names is None:
        spec = registry.get("logger", DEFAULT_LOGGER) if DEFAULT_LOGGER in registry.names("logger") else None
        return (DEFAULT_LOGGER,) if spec is not None and _missing(spec) is None else ()
    for name in names:
        if name not in registry.names("logger"):
            try:
                registry.get("logger", name)
            except UsageError as exc:
                raise UsageError(f"train.loggers: {exc}") from None
        spec = registry.get("logger", name)
        missing = _missing(spec)
        if missing is not None:
            install = f"pip install 'i2i-translate[{spec.extra}]'" if spec.extra else f"pip install {missing}"
            raise UsageError(f"train.loggers: logger {name!r} needs the {missing!r} package: {install}")
    if len(set(names)) != len(names):
        raise UsageError(f"train.loggers: a logger is named twice in {list(names)}")
    return tuple(names)


def _missing(spec: Any) -> str | None:
    """The first module of ``spec.requires`` that cannot be imported, found without importing
    it (trackers take seconds to import)."""
    for module in spec.requires:
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except ValueError:  # already imported, without a spec
            continue
        except ImportError:
            return module
    return None


def _flat_params(config: Any) -> dict[str, Any]:
    return flatten(to_dict(config))


class _RunLoggers:
    """The loggers of one run. ``resumed_at``: per logger, the newest step it had logged before
    this process started (events up to it are skipped); ``logged``: the newest step logged so far."""

    def __init__(self, out_dir: Path, loggers: dict[str, RunLogger], resumed_at: dict[str, int]) -> None:
        self.out_dir = out_dir
        self.loggers = loggers
        self.resumed_at = dict(resumed_at)
        self.logged = dict(resumed_at)

    def each(self, step: int | None = None) -> list[tuple[str, RunLogger]]:
        """Loggers that had not logged ``step`` before this process (all of them for ``step=None``)."""
        return [(n, lg) for n, lg in self.loggers.items() if step is None or step > self.resumed_at.get(n, -1)]

    def mark(self, name: str, step: int) -> None:
        self.logged[name] = max(step, self.logged.get(name, -1))

    def save(self) -> None:
        states = {
            n: {"state": dict(lg.state()), "logged_step": self.logged.get(n, -1)} for n, lg in self.loggers.items()
        }
        atomic_write_bytes(self.out_dir / STATE_FILE, json.dumps(states, indent=1, sort_keys=True).encode())


#: run -> its loggers; weak, so a finished run's loggers go with it
_runs: weakref.WeakKeyDictionary[Any, _RunLoggers] = weakref.WeakKeyDictionary()


def _host_registry(run: Any) -> Any:
    host = getattr(run, "host", None)
    if host is None:
        host = get_host()
    return host.registry


def _saved_logged_steps(out_dir: Path, states: Mapping[str, Any]) -> dict[str, int]:
    """Newest logged step per logger from ``OUT/loggers.json``, kept only where the file
    speaks of the tracker run the checkpoint names (a run folder reused by a new run starts over)."""
    try:
        saved = json.loads((out_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    out = {}
    for name, entry in saved.items() if isinstance(saved, dict) else ():
        if isinstance(entry, dict) and entry.get("state") == states.get(name):
            out[name] = int(entry.get("logged_step", -1))
    return out


def open_loggers(
    names: tuple[str, ...], registry: Any, run: TrackedRun, saved: Mapping[str, Any]
) -> dict[str, RunLogger]:
    loggers: dict[str, RunLogger] = {}
    for name in names:
        logger = registry.get("logger", name).factory()
        logger.start(attrs.evolve(run, state=saved.get(name)))
        loggers[name] = logger
    return loggers


@hookimpl
def i2i_train_start(run: Any) -> None:
    registry = _host_registry(run)
    names = check_loggers(run.config.train.loggers, registry)
    if not names:
        return
    saved = dict((getattr(run, "plugin_state", None) or {}).get("loggers", {}))
    tracked = TrackedRun(
        out_dir=Path(run.out_dir),
        method=run.config.method_name,
        step=run.step,
        params=_flat_params(run.config),
        tracking=run.config.train.tracking,
    )
    logged = _saved_logged_steps(Path(run.out_dir), saved) if saved else {}
    for name in names:
        logged.setdefault(name, run.step if name in saved else -1)
    _runs[run] = _RunLoggers(Path(run.out_dir), open_loggers(names, registry, tracked, saved), logged)


@hookimpl
def i2i_step_end(run: Any, step: int, metrics: Mapping[str, float]) -> None:
    loggers = _runs.get(run)
    if loggers is None:
        return
    for name, logger in loggers.each(step):
        logger.log_metrics(metrics, step)
        loggers.mark(name, step)
    loggers.save()


@hookimpl
def i2i_sample_images(run: Any, step: int, path: str, images: Mapping[str, Any]) -> None:
    loggers = _runs.get(run)
    if loggers is None:
        return
    for _, logger in loggers.each(step):
        logger.log_images(images, step, path)


@hookimpl
def i2i_checkpoint_state(run: Any) -> Mapping[str, Any] | None:
    loggers = _runs.get(run)
    if loggers is None:
        return None
    return {"loggers": {name: dict(logger.state()) for name, logger in loggers.loggers.items()}}


@hookimpl
def i2i_eval_result(run: Any, step: int, metrics: Mapping[str, float], checkpoint: str | None) -> None:
    if run is not None:
        loggers = _runs.get(run)
        for _, logger in loggers.each() if loggers is not None else ():
            logger.log_summary(metrics, step)
        return
    if checkpoint:
        _log_checkpoint_eval(checkpoint, step, metrics)


def _log_checkpoint_eval(checkpoint: str, step: int, metrics: Mapping[str, float]) -> None:
    """``i2i eval`` of a checkpoint: its metrics go to the tracker runs that trained it."""

    ckpt = Checkpoint.read(checkpoint, mmap=True)
    saved = dict((ckpt.payload.get("plugin_state") or {}).get("loggers", {}))
    if not saved:
        return
    registry = get_host().registry
    config = ckpt.run_config()
    names = tuple(n for n in check_loggers(config.train.loggers, registry) if n in saved)
    tracked = TrackedRun(
        out_dir=Path(checkpoint).parent,
        method=config.method_name,
        step=int(ckpt.payload.get("step", step)),
        params=_flat_params(config),
        tracking=config.train.tracking,
        purpose="eval",
    )
    for logger in open_loggers(names, registry, tracked, saved).values():
        try:
            logger.log_summary(metrics, step)
        finally:
            logger.finish("finished")


@hookimpl
def i2i_train_end(run: Any, step: int, status: str) -> None:
    loggers = _runs.pop(run, None)
    if loggers is None:
        return
    last = Path(run.out_dir) / "last.pt"
    for _, logger in loggers.each():
        if status == "finished" and run.config.train.tracking.log_checkpoint and last.is_file():
            logger.log_artifact(str(last), "checkpoint")
        logger.finish(status)
    loggers.save()
