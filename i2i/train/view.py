"""What a run is made of when the user hands it in, and what hooks see of it.

``RunView``: what lifecycle hooks see of a training run, read-only.

Hooks observe a run and must not change it, so they get this view rather than the live
:class:`~i2i.train.trainer.Trainer`: the documented attributes (``out_dir``, ``config``,
``method``, ``step``, ``epoch``, ``rank``, ``world_size``, ``is_main``, ``device``,
``total_steps``, ``host``, ``plugin_state``), each read from the trainer when asked, and no way to set one. One view
lives as long as its run, so a logger may key its state by it.

:func:`method_spec_for` and :func:`check_given_method` let ``Trainer(method=instance)`` train an
already-built method (Lightning's ``fit(model)``) that no plugin registers.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from i2i.errors import ConfigError
from i2i.plugins.registry import MethodSpec


class RunView:
    __slots__ = ("_trainer", "__weakref__")  # loggers may keep per-run state in a WeakKeyDictionary
    _trainer: Any

    def __init__(self, trainer: Any) -> None:
        object.__setattr__(self, "_trainer", trainer)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"run.{name}: hooks get a read-only view of the run")

    def __repr__(self) -> str:
        return f"RunView({self.config.method_name!r}, out_dir={str(self.out_dir)!r}, step={self.step})"

    @property
    def out_dir(self) -> Path:
        return Path(self._trainer.out_dir)

    @property
    def config(self) -> Any:
        """The run config (frozen attrs classes)."""
        return self._trainer.config

    @property
    def method(self) -> Any:
        """The method being trained (None before it is built)."""
        return self._trainer.method

    @property
    def step(self) -> int:
        return int(self._trainer.step)

    @property
    def epoch(self) -> int:
        return int(self._trainer.epoch)

    @property
    def rank(self) -> int:
        return int(self._trainer.rank)

    @property
    def world_size(self) -> int:
        return int(self._trainer.world_size)

    @property
    def is_main(self) -> bool:
        return bool(self._trainer.is_main)

    @property
    def host(self) -> Any:
        """The plugin host of the run (its registry: loggers, components ...)."""
        return self._trainer.host

    @property
    def plugin_state(self) -> Mapping[str, Any]:
        """What plugins stored in the checkpoint this run resumed from (``i2i_checkpoint_state``), read-only."""
        return MappingProxyType(dict(getattr(self._trainer, "plugin_state", None) or {}))

    @property
    def device(self) -> Any:
        return getattr(self._trainer, "device", None)

    @property
    def total_steps(self) -> int | None:
        return getattr(self._trainer, "total_steps", None)


def method_spec_for(host: Any, config: Any, method: Any) -> MethodSpec:
    """The registered method, or - for an already-built ``method`` that no plugin registers - a
    record describing it, so no plugin is needed to train it."""
    if method is None or config.method_name in host.registry.names("method"):
        spec: MethodSpec = host.registry.get("method", config.method_name)
        return spec
    return MethodSpec(
        name=config.method_name,
        config=type(method.config),
        factory=lambda *_: method,
        data_kind=method.data_kind,
        plugin="in-code",
    )


def check_given_method(method: Any, info: Any) -> None:
    """An already-built method must fit the data it is trained on (kind and channels)."""
    built = method.data_info
    if (built.kind, built.channels_a, built.channels_b) != (info.kind, info.channels_a, info.channels_b):
        raise ConfigError(
            f"method: built for {built.kind} data with {built.channels_a}/{built.channels_b} channels (A/B), but the data "
            f"is {info.kind} with {info.channels_a}/{info.channels_b}; build it with the data's DataInfo"
        )
