"""PluginHost: a typed facade over pluggy, as pytest, tox and datasette use it.

The host registers i2i's own built-ins (components, datasets, loggers) through the same hooks
a third-party plugin implements, then loads entry points of the group ``i2i``. Each plugin
is loaded on its own: one that fails to import, or whose registration hook raises, is
recorded in :attr:`PluginHost.failures` and reported by name while the rest keep working.

Environment:
  ``I2I_DISABLE_PLUGIN_AUTOLOAD=1``  load no third-party entry points (i2i's own components and
                                     built-in methods still register, as pytest keeps its own);
  ``I2I_DISABLED_PLUGINS=a,b``       block plugins by name (``--disable-plugin`` does the same);
  ``I2I_PLUGINS=pkg.mod,other.mod``  also register these importable modules as plugins (like
                                     pytest's ``-p``; handy for a plugin under development).

Nothing loads at import time: :func:`get_host` builds the default host on first use and tests
build fresh hosts.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import importlib.metadata
import os
import warnings
from typing import Any, Iterable, Iterator, Mapping

import attrs
import pluggy

from i2i.errors import PluginError
from i2i.plugins import hookspecs
from i2i.plugins.registry import Registry

#: Core modules registered like plugins: (plugin name, module path).
BUILTIN_PLUGINS = (
    ("i2i.components", "i2i.plugins.builtin_components"),
    ("i2i.datasets", "i2i.plugins.builtin_datasets"),
    ("i2i.loggers", "i2i.train.loggers"),
    ("i2i.tracking", "i2i.train.tracking"),
)

_REGISTRATION_HOOKS = (
    "i2i_register_methods",
    "i2i_register_generators",
    "i2i_register_discriminators",
    "i2i_register_losses",
    "i2i_register_datasets",
    "i2i_register_commands",
    "i2i_register_importers",
    "i2i_register_loggers",
)


@attrs.frozen
class PluginInfo:
    """One loaded (or failed) plugin, as ``i2i plugins`` shows it."""

    name: str
    distribution: str
    version: str
    module: str
    error: str | None = None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


class PluginHost:
    """Loads plugins and collects what they register into a :class:`~i2i.plugins.registry.Registry`."""

    def __init__(
        self,
        *,
        autoload: bool | None = None,
        disabled: Iterable[str] = (),
        plugins: Iterable[tuple[str, Any]] = (),
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        #: plugins not loaded on purpose -> why (named in "unknown method" errors)
        self.not_loaded: dict[str, str] = {name: "disabled by --disable-plugin" for name in disabled}
        self.not_loaded.update({n: "disabled by I2I_DISABLED_PLUGINS" for n in _env_list("I2I_DISABLED_PLUGINS")})
        self.disabled = set(disabled) | set(_env_list("I2I_DISABLED_PLUGINS"))
        self.infos: dict[str, PluginInfo] = {}
        self.failures: list[PluginInfo] = []
        self._registry: Registry | None = None
        for name in self.disabled:
            self.pm.set_blocked(name)

        version = importlib.metadata.version("i2i-translate") if _has_dist("i2i-translate") else "dev"
        for name, module_path in BUILTIN_PLUGINS:
            if name in self.disabled:
                continue
            module = importlib.import_module(module_path)
            self._register(module, PluginInfo(name, "i2i-translate", version, module_path))
        if autoload is None:
            self._load_entry_points(own_only=_env_flag("I2I_DISABLE_PLUGIN_AUTOLOAD"))
        elif autoload:
            self._load_entry_points()
        for module_path in _env_list("I2I_PLUGINS"):
            try:
                module = importlib.import_module(module_path)
            except Exception as exc:
                self._fail(PluginInfo(module_path, "(I2I_PLUGINS)", "", module_path, f"failed to import: {exc!r}"))
                continue
            if self.pm.is_registered(module):  # e.g. an installed plugin named again: once is enough
                continue
            self._register(module, PluginInfo(module_path, "(I2I_PLUGINS)", "", module_path))
        for name, plugin in plugins:
            module_name = getattr(plugin, "__name__", type(plugin).__name__)
            self._register(plugin, PluginInfo(name, "in-code", "", module_name))

    # -- loading -----------------------------------------------------------------------------
    def _register(self, plugin: Any, info: PluginInfo) -> None:
        if info.name in self.disabled:
            return
        if self.pm.get_plugin(info.name) is not None:
            other = self.infos[info.name]
            raise PluginError(
                f"two plugins are named {info.name!r}: {other.module} ({other.distribution}) "
                f"and {info.module} ({info.distribution})"
            )
        self.pm.register(plugin, name=info.name)
        self.infos[info.name] = info
        self._registry = None

    def _load_entry_points(self, own_only: bool = False) -> None:
        """Load the ``i2i`` entry points; ``own_only``: just i2i's own (the built-in methods)."""
        seen: set[tuple[str, str]] = set()
        for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT):
            # the same distribution can be on sys.path twice (an editable install run from its
            # checkout): load each entry point once
            if (ep.name, ep.value) in seen:
                continue
            seen.add((ep.name, ep.value))
            if ep.name in self.disabled or self.pm.is_blocked(ep.name):
                continue
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            if own_only and dist != "i2i-translate":
                self.not_loaded[ep.name] = f"not loaded: I2I_DISABLE_PLUGIN_AUTOLOAD is set ({dist})"
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not take the others down
                self._fail(PluginInfo(ep.name, dist, version, ep.value, f"failed to import: {exc!r}"))
                continue
            self._register(plugin, PluginInfo(ep.name, dist, version, ep.value))

    def _fail(self, info: PluginInfo) -> None:
        self.failures.append(info)
        warnings.warn(f"i2i plugin {info.name!r} ({info.distribution}) {info.error}", stacklevel=3)

    def register(self, plugin: Any, name: str) -> None:
        """Register a plugin object or module in code (tests, notebooks)."""
        self._register(plugin, PluginInfo(name, "in-code", "", getattr(plugin, "__name__", name)))

    # -- lifecycle hooks, called through typed methods (tox's facade) ---------------------------
    def build_method(self, spec: Any, method_config: Any, data_info: Any) -> Any:
        """``spec.factory(method_config, data_info)`` with this host active, so what the method
        builds by name (``i2i.create_gan_loss``, ``create_generator``, ...) comes from this host's
        registry: a loss or network registered only in ``Trainer(host=...)`` is found."""
        with active_host(self):
            return spec.factory(method_config, data_info)

    def train_start(self, run: Any) -> None:
        self.pm.hook.i2i_train_start(run=run)

    def step_end(self, run: Any, step: int, metrics: Mapping[str, float]) -> None:
        self.pm.hook.i2i_step_end(run=run, step=step, metrics=metrics)

    def sample_images(self, run: Any, step: int, path: str, images: Mapping[str, Any]) -> None:
        self.pm.hook.i2i_sample_images(run=run, step=step, path=path, images=images)

    def checkpoint_saved(self, run: Any, step: int, path: str) -> None:
        self.pm.hook.i2i_checkpoint_saved(run=run, step=step, path=path)

    def eval_result(self, run: Any, step: int, metrics: Mapping[str, float], checkpoint: str | None = None) -> None:
        self.pm.hook.i2i_eval_result(run=run, step=step, metrics=metrics, checkpoint=checkpoint)

    def checkpoint_state(self, run: Any) -> list[Mapping[str, Any]]:
        """Each plugin's ``i2i_checkpoint_state`` answer (None answers dropped)."""
        return [answer for answer in self.pm.hook.i2i_checkpoint_state(run=run) if answer]

    def train_end(self, run: Any, step: int, status: str) -> None:
        self.pm.hook.i2i_train_end(run=run, step=step, status=status)

    # -- what plugins registered ---------------------------------------------------------------
    @property
    def hook(self) -> Any:
        return self.pm.hook

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = self._collect()
        return self._registry

    def _collect(self) -> Registry:
        registry = Registry()
        registry.explain_missing = self._explain_missing
        broken: set[str] = set()
        for hook_name in _REGISTRATION_HOOKS:
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                if impl.plugin_name in broken:
                    continue
                try:
                    records = list(impl.function() or ())
                except Exception as exc:
                    broken.add(impl.plugin_name)
                    info = self.infos.get(impl.plugin_name)
                    dist = info.distribution if info else "?"
                    self._fail(PluginInfo(impl.plugin_name, dist, "", "", f"failed in {hook_name}: {exc!r}"))
                    continue
                for record in records:
                    registry.add(record, self.describe_plugin(impl.plugin_name))
        return registry

    def _explain_missing(self, kind: str, name: str) -> str:
        """Why a name may be missing: the plugin of that name, or any plugin, was not loaded."""
        if name in self.not_loaded:
            return f"plugin {name!r} is {self.not_loaded[name]}"
        if self.not_loaded:
            return "not loaded: " + ", ".join(f"plugin {n!r} ({why})" for n, why in sorted(self.not_loaded.items()))
        return ""

    def describe_plugin(self, name: str) -> str:
        info = self.infos.get(name)
        return f"{name} [{info.distribution}]" if info else name

    def plugin_names(self) -> list[str]:
        return list(self.infos)

    def plugin_registrations(self, name: str) -> dict[str, list[str]]:
        return self.registry.by_plugin(self.describe_plugin(name))


def _has_dist(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


_default_host: PluginHost | None = None


#: the host that is building a method right now (:meth:`PluginHost.build_method`)
_active: contextvars.ContextVar[PluginHost | None] = contextvars.ContextVar("i2i_active_host", default=None)


@contextlib.contextmanager
def active_host(host: PluginHost) -> Iterator[PluginHost]:
    """Make ``host`` what :func:`get_host` returns in this context (thread- and task-local)."""
    token = _active.set(host)
    try:
        yield host
    finally:
        _active.reset(token)


def get_host() -> PluginHost:
    """The host building a method right now if any, else the process-wide host, built on first
    use (never at import)."""
    global _default_host
    active = _active.get()
    if active is not None:
        return active
    if _default_host is None:
        _default_host = PluginHost()
    return _default_host


def set_host(host: PluginHost | None) -> None:
    """Replace the process-wide host (the CLI does this for ``--disable-plugin``; tests reset it)."""
    global _default_host
    _default_host = host
