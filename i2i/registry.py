"""Typed registration records and the registry that holds them.

Plugins *yield* these records from their registration hooks (conda's style); the
:class:`~i2i.plugins.PluginHost` collects them into a :class:`Registry`. Records hold
values and factories, never built objects, so listing plugins never builds a network.
Architecture variants (``resnet_6blocks`` vs ``resnet_9blocks``) are the same factory
with different ``defaults`` - argument sets, not subclasses (timm/torchvision style).
"""

from __future__ import annotations

import difflib
import fnmatch
from typing import Any, Callable, Mapping

import attrs

from i2i.errors import PluginError, UsageError

#: The kinds of component a plugin can register, in the order ``i2i list`` shows them.
COMPONENT_KINDS = ("generator", "discriminator", "loss", "dataset")


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value or {})


@attrs.frozen
class MethodSpec:
    """A training method (pix2pix, cyclegan, ...).

    ``config`` is the method's frozen attrs config class (the ``[method]`` table of a
    run config). ``factory(config, data_info)`` builds the :class:`~i2i.method.Method`.
    ``data_kind`` is ``"paired"``, ``"unpaired"`` or ``"labelled"``.
    ``defaults`` are dotted run-config overrides that make the paper's setting the
    default (e.g. ``{"train.batch_size": 16}``); ``demo_defaults`` apply on top of them
    only when the run uses the built-in demo data (no ``--data``), so the demo trains
    in minutes on a laptop CPU. ``test_overrides`` are method-config fields that make the
    method tiny (``{"ngf": 8, "ndf": 8}``) for the conformance suite in :mod:`i2i.testing`,
    which runs over every installed method.
    """

    name: str
    config: type
    factory: Callable[..., Any]
    data_kind: str
    description: str = ""
    defaults: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    demo_defaults: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    test_overrides: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    plugin: str = ""  # filled in by the host: which plugin registered it

    @property
    def kind(self) -> str:
        return "method"


@attrs.frozen
class ComponentSpec:
    """A generator, discriminator, loss or dataset builder.

    ``factory(**kwargs)`` builds it; ``defaults`` is the argument set of this variant and is
    merged under the caller's keyword arguments by :meth:`create`.
    """

    name: str
    kind: str
    factory: Callable[..., Any]
    description: str = ""
    defaults: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    plugin: str = ""

    def __attrs_post_init__(self) -> None:
        if self.kind not in COMPONENT_KINDS:
            raise ValueError(f"component {self.name!r}: kind must be one of {COMPONENT_KINDS}, got {self.kind!r}")

    def create(self, **kwargs: Any) -> Any:
        return self.factory(**{**self.defaults, **kwargs})


def GeneratorSpec(name: str, factory: Callable[..., Any], description: str = "", **defaults: Any) -> ComponentSpec:
    """Shorthand for ``ComponentSpec(kind="generator", ...)``; extra keywords are the variant's defaults."""
    return ComponentSpec(name=name, kind="generator", factory=factory, description=description, defaults=defaults)


def DiscriminatorSpec(name: str, factory: Callable[..., Any], description: str = "", **defaults: Any) -> ComponentSpec:
    """Shorthand for ``ComponentSpec(kind="discriminator", ...)``."""
    return ComponentSpec(name=name, kind="discriminator", factory=factory, description=description, defaults=defaults)


def LossSpec(name: str, factory: Callable[..., Any], description: str = "", **defaults: Any) -> ComponentSpec:
    """Shorthand for ``ComponentSpec(kind="loss", ...)``."""
    return ComponentSpec(name=name, kind="loss", factory=factory, description=description, defaults=defaults)


def DatasetSpec(name: str, factory: Callable[..., Any], description: str = "", **defaults: Any) -> ComponentSpec:
    """Shorthand for ``ComponentSpec(kind="dataset", ...)``."""
    return ComponentSpec(name=name, kind="dataset", factory=factory, description=description, defaults=defaults)


@attrs.frozen
class CommandSpec:
    """An extra ``i2i`` sub-command contributed by a plugin (a ``click.Command``)."""

    name: str
    command: Any
    description: str = ""
    plugin: str = ""

    @property
    def kind(self) -> str:
        return "command"


class Registry:
    """Name -> record tables, one per kind. Duplicate names are errors naming both plugins."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, Any]] = {k: {} for k in ("method", *COMPONENT_KINDS, "command")}

    def add(self, record: Any, plugin: str) -> None:
        record = attrs.evolve(record, plugin=plugin)
        table = self._tables[record.kind]
        previous = table.get(record.name)
        if previous is not None:
            raise PluginError(
                f"{record.kind} {record.name!r} is registered twice: by plugin {previous.plugin!r} "
                f"and by plugin {plugin!r}; block one with --disable-plugin or I2I_DISABLED_PLUGINS"
            )
        table[record.name] = record

    def names(self, kind: str, pattern: str | None = None) -> list[str]:
        names = sorted(self._tables[kind])
        if pattern:
            names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        return names

    def records(self, kind: str, pattern: str | None = None) -> list[Any]:
        return [self._tables[kind][n] for n in self.names(kind, pattern)]

    def get(self, kind: str, name: str) -> Any:
        table = self._tables[kind]
        if name in table:
            return table[name]
        close = difflib.get_close_matches(name, table, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(table)) or "none registered"
        raise UsageError(f"unknown {kind} {name!r}{hint} (known: {known})")

    def by_plugin(self, plugin: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for kind, table in self._tables.items():
            names = sorted(n for n, r in table.items() if r.plugin == plugin)
            if names:
                out[kind] = names
        return out
