"""The library API; the CLI is a thin layer over these functions.

>>> import i2i
>>> i2i.list_methods("cycle*")
['cyclegan']
>>> method = i2i.create_method("cyclegan", ngf=8)
>>> cfg = i2i.load_config("horse2zebra.toml", overrides=["train.steps=1000"])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from i2i.config import run as _config
from i2i.errors import UsageError
from i2i.method import DataInfo, Method
from i2i.plugins.host import PluginHost, get_host
from i2i.plugins.registry import MethodSpec


def _host(host: PluginHost | None) -> PluginHost:
    return host if host is not None else get_host()


def list_methods(pattern: str | None = None, *, host: PluginHost | None = None) -> list[str]:
    """Registered method names, optionally filtered by an fnmatch pattern (``"cycle*"``)."""
    return _host(host).registry.names("method", pattern)


def get_method(name: str, *, host: PluginHost | None = None) -> MethodSpec:
    """The :class:`~i2i.plugins.registry.MethodSpec` registered as ``name`` (close matches suggested)."""
    return _host(host).registry.get("method", name)


def list_components(kind: str, pattern: str | None = None, *, host: PluginHost | None = None) -> list[str]:
    """Names of registered ``generator``/``discriminator``/``loss``/``dataset`` components."""
    return _host(host).registry.names(kind, pattern)


def create_generator(name: str, *, host: PluginHost | None = None, **kwargs: Any) -> Any:
    """Build a registered generator, e.g. ``create_generator("unet_256", input_nc=1, ngf=32)``."""
    return _host(host).registry.get("generator", name).create(**kwargs)


def create_discriminator(name: str, *, host: PluginHost | None = None, **kwargs: Any) -> Any:
    """Build a registered discriminator, e.g. ``create_discriminator("patchgan", n_layers=3)``."""
    return _host(host).registry.get("discriminator", name).create(**kwargs)


def create_loss(name: str, *, host: PluginHost | None = None, **kwargs: Any) -> Any:
    """Build a registered loss module, e.g. ``create_loss("lsgan")``."""
    return _host(host).registry.get("loss", name).create(**kwargs)


def create_gan_loss(name: str, *, option: str = "method.gan_mode", host: PluginHost | None = None) -> Any:
    """The GAN objective ``name`` from the loss registry (``lsgan``, ``vanilla``, ``hinge``,
    ``wgangp`` or any a plugin registers), called as ``loss(prediction, target_is_real,
    for_discriminator=...)``; an unknown name is a UsageError naming ``option``. Methods build
    their objective this way so ``--set method.gan_mode=NAME`` selects a plugin's loss."""
    try:
        return create_loss(name, host=host)
    except UsageError as exc:
        raise UsageError(f"{option}: {exc}") from None


def method_config(name: str, *, host: PluginHost | None = None, **overrides: Any) -> Any:
    """The method's config with the paper defaults, ``overrides`` checked like a config file."""
    spec = get_method(name, host=host)
    base = _config.unstructure(spec.config())
    paper = _config.nest(dict(spec.defaults)).get("method", {})
    return _config.structure_method_config(spec, _config.merge(base, paper, overrides))


def create_method(
    name: str, *, data_info: DataInfo | None = None, host: PluginHost | None = None, **overrides: Any
) -> Method:
    """Build a method with its paper defaults; keyword overrides set method config fields.

    ``data_info`` describes the data (channels, label names); by default the method's own
    data kind with 3-channel images.
    """
    spec = get_method(name, host=host)
    cfg = method_config(name, host=host, **overrides)
    return _host(host).build_method(spec, cfg, data_info if data_info is not None else DataInfo(kind=spec.data_kind))


def default_config(method: str, *, demo: bool = False, host: PluginHost | None = None) -> _config.RunConfig:
    """The full default run config of a method (paper defaults; demo defaults when ``demo``)."""
    registry = _host(host).registry
    return _config.resolve_config(lambda n: registry.get("method", n), method=method, demo=demo, registry=registry)


def load_config(
    path: str | Path | None = None,
    *,
    method: str | None = None,
    overrides: Mapping[str, Any] | Iterable[str] = (),
    layers: Iterable[tuple[str, Mapping[str, Any]]] = (),
    demo: bool | None = None,
    host: PluginHost | None = None,
) -> _config.RunConfig:
    """Load a TOML run config with dotted overrides (``["method.lambda_cycle=5"]`` or a dict).

    Without ``path`` the method's defaults are used; ``method`` overrides the file's
    ``[method] name``. Each layer is checked on its own: the file, each ``"key=value"``
    override (the last of one key wins), then ``layers`` (``(label, {dotted key: value})``, as
    the CLI passes its flags), so a bad value is an error even where a later layer of another
    kind replaces it. Errors are :class:`~i2i.errors.ConfigError` naming where the value came
    from and the dotted key. ``demo``: apply the demo defaults; None, as ``i2i run``: when
    neither a file nor a data root is given.
    """
    registry = _host(host).registry
    if isinstance(overrides, Mapping):
        flat, items = dict(overrides), []
    else:
        flat, items = {}, [("--set", dict([_config.parse_override(item)])) for item in overrides]
    file_data = _config.read_toml(path) if path is not None else None
    return _config.resolve_config(
        lambda n: registry.get("method", n),
        file_data=file_data,
        overrides=flat,
        method=method,
        source=str(path) if path is not None else "",
        layers=[*items, *layers],
        demo=demo,
        registry=registry,
    )


def run(
    config: _config.RunConfig | Method | None,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    **kwargs: Any,
) -> Any:
    """Train ``config`` into ``out`` (or ``config.out``), like ``i2i run``; returns the finished Trainer.

    ``config`` may also be an already-built :class:`~i2i.method.Method` (``i2i.run(MyMethod(cfg,
    info), out="runs/x")``, Lightning's ``fit(model)``), trained with default data and train
    settings; or pass both, ``i2i.run(run_config, method=instance)``. The method need not be
    registered by any plugin.
    A folder that holds another run is refused unless ``resume`` (continue it) or ``overwrite``
    (delete that run's files and start over); without ``out`` the run goes to the first free
    ``runs/METHOD``, ``runs/METHOD-2`` ...
    (Named ``run``, not ``train``: ``i2i.train`` is the trainer sub-package.)
    """
    # lazy: the trainer pulls in torchvision and the data pipeline; the `i2i` help and inference need neither
    from i2i.train.trainer import Trainer

    if isinstance(config, Method):
        kwargs["method"], config = config, None
    trainer = Trainer(config, out_dir=out, resume=resume, overwrite=overwrite, **kwargs)
    trainer.fit()
    return trainer
