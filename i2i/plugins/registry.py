"""Typed registration records and the registry that holds them.

Plugins *yield* these records from their registration hooks (conda's style); the
:class:`~i2i.plugins.host.PluginHost` collects them into a :class:`Registry`. Records hold
values and factories, never built objects, so listing plugins never builds a network.
Architecture variants (``resnet_6blocks`` vs ``resnet_9blocks``) are the same factory
with different ``defaults`` - argument sets, not subclasses (timm/torchvision style).
"""

from __future__ import annotations

import difflib
import fnmatch
from typing import Any, Callable, Iterable, Mapping, Sequence

import attrs

from i2i.errors import PluginError, UsageError

#: The kinds of component a plugin can register, in the order ``i2i list`` shows them.
COMPONENT_KINDS = ("generator", "discriminator", "loss", "dataset")


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """``tuple`` as an attrs converter that type checkers read as taking any iterable."""
    return tuple(value)


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
    ``finalize_config(run_config, explicit)``, when set, is called once the layers are merged,
    with the dotted keys the user set (config file, ``--set``, CLI flags), and returns the run
    config to use or raises :class:`~i2i.errors.ConfigError`: a method's rules across tables,
    e.g. :func:`i2i.fit_generator_to_size` (the U-Net depth follows ``data.image_size``
    unless the user named the generator).
    ``reference``: an :class:`~i2i.config.from_reference.ReferenceSpec` mapping the options of the
    reference implementation to run-config keys, for ``i2i config from-reference``.
    """

    name: str
    config: type
    factory: Callable[..., Any]
    data_kind: str
    description: str = ""
    defaults: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    demo_defaults: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    test_overrides: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    finalize_config: Callable[[Any, frozenset[str]], Any] | None = None
    reference: Any = None  # an i2i.ReferenceSpec: how `i2i config from-reference` reads the reference's options
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


@attrs.frozen
class ImporterSpec:
    """A reference-weight format ``i2i import-weights --format NAME`` reads (e.g. ``cyclegan-ref``).

    The core loads each source file into a plain state dict (unwrapping ``{"state_dict": ...}``
    containers, see :func:`i2i.inference.weights_import.load_reference_file`), then calls, in order:

    * ``recognise(state_dict) -> bool``: whether a raw state dict looks like this format's
      typical file; ``import-weights`` without ``--format`` uses the one format that recognises
      the first file (two that both do are reported, and ``--format`` decides);
    * ``convert(state_dict, generator=None, source="state dict") -> ConvertedGenerator``: map one
      file onto an i2i generator (registry name, keyword arguments, cleaned state dict), or raise
      :class:`~i2i.errors.CheckpointError` naming ``source``; ``generator`` is the user's
      ``--generator`` override;
    * ``build(request: ImportRequest) -> ImportPlan``: from the converted files (and the
      user's ``--domains``/``--one-hot``), the method that hosts them, its config values, the
      data description and each generator's state dict by ``Method.generator_names``. The core
      builds that method, loads the generators with ``strict=True`` and writes the checkpoint,
      so an imported checkpoint has exactly the schema of a trained one.

    ``files`` are the numbers of source files the format takes (``(1, 2)``: one generator, or
    two as ``G_A G_B``).
    """

    name: str
    description: str
    recognise: Callable[[Mapping[str, Any]], bool]
    convert: Callable[..., Any]
    build: Callable[[Any], Any]
    files: tuple[int, ...] = attrs.field(default=(1,), converter=_tuple)
    plugin: str = ""

    @property
    def kind(self) -> str:
        return "importer"


@attrs.frozen
class ConvertedGenerator:
    """One reference file mapped onto an i2i generator: ``create_generator(name, **kwargs)``
    loads ``state_dict`` with ``strict=True``."""

    name: str
    kwargs: Mapping[str, Any] = attrs.field(converter=_frozen_mapping)
    state_dict: Mapping[str, Any] = attrs.field(converter=_frozen_mapping)


@attrs.frozen
class ImportRequest:
    """What ``ImporterSpec.build`` is given: the files (in command-line order), each converted,
    and the user's label options (``labels``: ``--domains`` split on commas; ``one_hot``:
    ``--one-hot`` True, ``--multi-label`` False, neither None)."""

    sources: tuple[str, ...] = attrs.field(converter=_tuple)
    generators: tuple[ConvertedGenerator, ...] = attrs.field(converter=_tuple)
    labels: tuple[str, ...] | None = None
    one_hot: bool | None = None


@attrs.frozen
class ImportPlan:
    """How to build the checkpoint: the ``method`` (a registered method name) configured with
    ``method_config`` (``[method]`` keys; everything else is the method's paper default),
    ``data_info`` (an :class:`~i2i.method.DataInfo`: kind, channels, label names) and the
    state dict of each generator by its ``Method.generator_names`` name. Other networks
    (discriminators) keep their fresh initialisation."""

    method: str
    data_info: Any
    generators: Mapping[str, Mapping[str, Any]] = attrs.field(converter=_frozen_mapping)
    method_config: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)


def files_phrase(counts: Sequence[int]) -> str:
    """``(1,)`` -> ``"one file"``, ``(1, 2)`` -> ``"one or two files"`` (error messages)."""
    words = {1: "one", 2: "two", 3: "three"}
    said = [words.get(n, str(n)) for n in counts]
    return f"{' or '.join(said)} file{'s' if max(counts) > 1 else ''}"


@attrs.frozen
class LoggerSpec:
    """An experiment logger (TensorBoard, Weights & Biases, MLflow, ...), selected by name in
    ``train.loggers``.

    ``factory()`` builds a fresh :class:`~i2i.train.tracking.RunLogger` for one run (or for one
    ``i2i eval`` of a checkpoint). ``requires`` lists the importable modules it needs and
    ``extra`` the pip extra (or package) that provides them: a run that asks for the logger
    without them fails before training with ``pip install 'i2i-translate[EXTRA]'`` in the error.
    """

    name: str
    factory: Callable[[], Any]
    description: str = ""
    requires: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    extra: str = ""
    plugin: str = ""

    @property
    def kind(self) -> str:
        return "logger"


class Registry:
    """Name -> record tables, one per kind. Duplicate names are errors naming both plugins."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, Any]] = {
            k: {} for k in ("method", *COMPONENT_KINDS, "command", "importer", "logger")
        }
        #: ``(kind, name) -> reason`` a name may be missing (the host: a disabled plugin), or None
        self.explain_missing: Callable[[str, str], str] | None = None

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
        why = self.explain_missing(kind, name) if self.explain_missing is not None else ""
        if why and why.startswith("plugin "):  # the plugin of that very name is disabled: say so first
            raise UsageError(f"{kind} {name!r} is not available: {why}")
        close = difflib.get_close_matches(name, table, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(table)) or "none registered"
        raise UsageError(f"unknown {kind} {name!r}{hint} (known: {known}){'; ' + why if why else ''}")

    def by_plugin(self, plugin: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for kind, table in self._tables.items():
            names = sorted(n for n, r in table.items() if r.plugin == plugin)
            if names:
                out[kind] = names
        return out
