"""Typed run configs: frozen attrs classes, TOML in and out, a strict cattrs converter.

A run config has three tables and a method name::

    out = "runs/cyclegan"      # optional
    [method]                   # the method's own config class, plus its name
    name = "cyclegan"
    lambda_cycle = 10.0
    [data]                     # i2i.data.config.DataConfig
    [train]                    # i2i.train.config.TrainConfig

Values are layered, later wins: class defaults < the method's paper defaults
(``MethodSpec.defaults``) < its demo defaults (only when no data root is given) < the config
file < ``--set key=value`` and CLI flags; of several ``--set`` of one key the last wins.
Demo defaults apply only to runs from defaults (no config file), so ``i2i config show``
output reads back unchanged. A ``train.steps`` from the defaults gives way when the user
sets ``train.epochs`` or ``train.epochs_decay`` (:func:`epochs_rule`). Unknown keys and
wrong types are rejected with the dotted path: ``method.lambda_cycle: expected float, got 'ten'``.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import tomllib
import typing
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import attrs
import cattrs
import tomli_w
from cattrs.errors import ForbiddenExtraKeysError

from i2i.config.docs import unset_help
from i2i.config.reference_names import unknown_key_hint
from i2i.config.validation import check_components, check_values, describe, finite_number
from i2i.data.config import DataConfig
from i2i.errors import ConfigError, UsageError
from i2i.train.config import TrainConfig


@attrs.frozen
class RunConfig:
    """Everything a training run needs; ``method`` is an instance of the method's config class."""

    method_name: str
    method: Any
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    out: str | None = None


# -- strict structuring -------------------------------------------------------------------------
_describe = describe


def _strict(type_name: str, accept: Any, convert: Any = None) -> Any:
    def hook(value: Any, _: Any) -> Any:
        if not accept(value):
            raise ValueError(f"expected {type_name}, got {_describe(value)}")
        return convert(value) if convert else value

    return hook


def _structure_tuple(value: Any, tp: Any) -> tuple:
    if isinstance(value, str):  # --set data.attributes=Male,Young
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"expected list, got {_describe(value)}")
    args = typing.get_args(tp)
    item = args[0] if args else Any
    return tuple(converter.structure(v, item) for v in value)


def _is_tuple_type(tp: Any) -> bool:
    return typing.get_origin(tp) is tuple


def _structure_float(value: Any, _: Any) -> float:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool)):
        raise ValueError(f"expected float, got {_describe(value)}")
    if not finite_number(value):  # inf/nan would train silently into NaN weights
        raise ValueError(f"expected a finite number, got {value!r}")
    return float(value)


#: cattrs' defaults are lenient (``bool("no")`` is True, ``int("3")`` works); a config typo must
#: not silently become a different experiment, so primitives are checked exactly and unknown
#: keys are errors.
converter = cattrs.Converter(forbid_extra_keys=True)
converter.register_structure_hook(bool, _strict("bool (true/false)", lambda v: isinstance(v, bool)))
converter.register_structure_hook(
    int,
    _strict(
        "int",
        lambda v: isinstance(v, int) and not isinstance(v, bool) or finite_number(v) and float(v).is_integer(),
        int,
    ),
)
converter.register_structure_hook(float, _structure_float)
converter.register_structure_hook(str, _strict("string", lambda v: isinstance(v, str)))
converter.register_structure_hook_func(_is_tuple_type, _structure_tuple)
converter.register_unstructure_hook(tuple, list)


def _format_error(exc: BaseException, _type: Any) -> str:
    if isinstance(exc, ForbiddenExtraKeysError):
        fields = [f.name for f in attrs.fields(exc.cl)]
        key = sorted(exc.extra_fields)[0]
        table = {DataConfig: "data", TrainConfig: "train"}.get(exc.cl, "method")
        return f"\0{key}\0unknown key{unknown_key_hint(key, fields, table)}"
    if isinstance(exc, KeyError):
        return f"missing required key {exc.args[0]!r}"
    return str(exc)


def structure(data: Any, cls: Any, path: str, *, check: bool = True) -> Any:
    """Structure plain TOML data into ``cls``; errors name the dotted path of the bad key.

    Types are checked while structuring, with the class's validators off; the validators then
    run field by field, so each error names its field whatever the validator's own message
    (a plugin author's ``ValueError("too big")`` becomes ``method.width: too big``).
    ``check=False`` leaves the validators to the caller.
    """
    try:
        with attrs.validators.disabled():
            obj = converter.structure(data, cls)
    except Exception as exc:  # cattrs wraps every failure in (nested) exception groups
        if not isinstance(exc, (cattrs.BaseValidationError, ValueError, TypeError)):
            raise
        messages = cattrs.transform_error(exc, path=path, format_exception=_format_error)
        raise ConfigError("; ".join(_dotted(m) for m in messages)) from None
    if check and attrs.has(type(obj)):
        check_values(obj, path)
    return obj


def _dotted(message: str) -> str:
    text, _, where = message.rpartition(" @ ")
    where = where.lstrip("$.")
    if text.startswith("\0"):  # unknown key: append it to the path
        _, key, text = text.split("\0", 2)
        where = f"{where}.{key}" if where else key
    elif (field := re.match(r"^'(\w+)' (must .*)$", text)) is not None:  # an attrs validator's message
        where = f"{where}.{field.group(1)}" if where else field.group(1)
        text = field.group(2)
    return f"{where}: {text}" if where else text


def unstructure(obj: Any) -> Any:
    return _tomlable(converter.unstructure(obj))


def _tomlable(data: Any) -> Any:
    """TOML has no null: unset optional values are left out (they read back as defaults)."""
    if isinstance(data, Mapping):
        return {k: _tomlable(v) for k, v in data.items() if v is not None}
    if isinstance(data, (list, tuple)):
        return [_tomlable(v) for v in data]
    return data


# -- layering ------------------------------------------------------------------------------------
def parse_override(item: str) -> tuple[str, Any]:
    """``"method.lambda_cycle=5"`` -> ``("method.lambda_cycle", 5)``; values are TOML literals,
    falling back to a plain string (``data.root=/data/horses``)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. method.lambda_cycle=5")
    if not all(part.strip() for part in key.split(".")):
        raise ConfigError(f"--set {item!r}: {key!r} is not a dotted key like train.steps")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    except RecursionError:
        raise ConfigError(f"--set {key}: the value is nested too deeply") from None
    return key, value


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        parts = dotted.split(".")
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{'.'.join(parts[: i + 1])}: is a value, cannot set {dotted!r} inside it")
            node = child
        node[parts[-1]] = value
    return out


def merge(base: Mapping[str, Any], *layers: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge dicts; later layers win."""
    out = {k: (merge(v) if isinstance(v, Mapping) else v) for k, v in base.items()}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
                out[key] = merge(out[key], value)
            else:
                out[key] = merge(value) if isinstance(value, Mapping) else value
    return out


#: A run config is a few kilobytes; reading stops here (``--config /dev/zero`` must not hang).
MAX_CONFIG_BYTES = 4 * 1024 * 1024


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config: at most :data:`MAX_CONFIG_BYTES`, a UTF-8 byte-order mark allowed."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a .toml file") from None
    except PermissionError:
        raise ConfigError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 2**20} MiB, not a run config")
    try:
        text = raw.decode("utf-8-sig")  # editors on Windows write a BOM
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text TOML file (not UTF-8)") from None
    if "\0" in text:
        raise ConfigError(f"{path}: not a text TOML file (holds NUL bytes)")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: tables or arrays nested too deeply") from None


#: A layer of a run config: where it came from (a file, ``--set``, a flag) and its dotted keys.
Layer = tuple[str, Mapping[str, Any]]

_TABLES = ("method", "data", "train", "out")


def _unknown_table(key: str) -> ConfigError:
    close = difflib.get_close_matches(key, list(_TABLES), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"{key}: unknown key{hint}")


@contextlib.contextmanager
def _labelled(label: str) -> Iterator[None]:
    """Prefix a ConfigError with where the value came from (a file, ``--set``, ``--device``)."""
    try:
        yield
    except ConfigError as exc:
        raise ConfigError(f"{label}: {exc}" if label else str(exc)) from None


def check_layer(data: Mapping[str, Any], classes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Check the keys and types of one layer; returns its typed values per table.

    ``classes`` maps ``method``/``data``/``train`` to their config classes. Raises
    :class:`~i2i.errors.ConfigError` naming the dotted key (``data.crop_size: unknown key``).
    """
    typed: dict[str, dict[str, Any]] = {}
    for table, values in data.items():
        if table == "out":
            structure(values, str | None, "out")
            continue
        if table not in classes:
            raise _unknown_table(table)
        if not isinstance(values, Mapping):
            raise ConfigError(f"{table}: is a table, set its keys ({table}.KEY=VALUE), got {describe(values)}")
        cls = classes[table]
        values = {k: v for k, v in values.items() if not (table == "method" and k == "name")}
        attrs.resolve_types(cls)
        fields = attrs.fields_dict(cls)
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(f"{table}.{unknown[0]}: unknown key{unknown_key_hint(unknown[0], fields, table)}")
        typed[table] = {key: structure(value, fields[key].type, f"{table}.{key}") for key, value in values.items()}
    return typed


def check_layer_values(typed: Mapping[str, Mapping[str, Any]], merged: Mapping[str, Any], registry: Any = None) -> None:
    """Run the rules of the fields one layer sets, each in the merged config: a value a later
    layer replaces is still checked, and rules across fields see the final other values."""
    for table, values in typed.items():
        base = merged.get(table)
        if base is None or not values:
            continue
        fields = attrs.fields_dict(type(base))
        with attrs.validators.disabled():
            obj = attrs.evolve(base, **{fields[k].alias or k: v for k, v in values.items()})
        check_values(obj, table, values)
        if registry is not None:
            check_components(obj, table, registry, values)


def resolve_config(
    method_spec_for: Any,
    *,
    file_data: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    method: str | None = None,
    source: str = "",
    demo: bool | None = None,
    layers: Iterable[Layer] = (),
    registry: Any = None,
    finalize: bool = True,
) -> RunConfig:
    """Layer defaults, the file and overrides into a checked :class:`RunConfig`.

    Each user layer is checked on its own before they are merged, so a bad value is an error
    even when a later layer overrides it: the file (errors prefixed with ``source``), then
    ``overrides`` (``--set``), then ``layers`` in order, each ``(label, {dotted key: value})``
    (e.g. ``("--device", {"train.device": "cuda"})``). ``registry``: names of generators,
    discriminators and layouts are checked against it.

    ``demo``: apply the method's demo defaults; None (default) means "when neither a data root
    nor a config file is given" (a file is a complete experiment and reads back unchanged).
    ``method_spec_for(name)`` returns the :class:`~i2i.plugins.registry.MethodSpec` for a name (it
    raises the "unknown method, did you mean" error). ``finalize=False`` skips the method's
    ``finalize_config``: for a probe of layers a later one completes (the CLI's ``--image-size``),
    whose cross-table rules only the complete config must meet.
    """
    user_layers: list[tuple[str, dict[str, Any]]] = []
    if file_data is not None:
        user_layers.append((source, dict(file_data)))
    flat_layers = [("--set", dict(overrides or {})), *((label, dict(flat)) for label, flat in layers)]
    user_layers.extend((label, nest(flat)) for label, flat in last_wins(flat_layers) if flat)
    user = merge({}, *(data for _, data in user_layers))
    prefix = f"{source}: " if source else ""
    method_table = user.get("method", {})
    if not isinstance(method_table, Mapping):
        raise ConfigError(f'{prefix}method: expected a table with at least name = "..."')
    name = method or method_table.get("name")
    if method and method_table.get("name") not in (None, method):
        # an explicit --method wins over the file's; say so rather than mixing two methods' keys
        raise ConfigError(f"{prefix}method.name is {method_table.get('name')!r} but --method is {method!r}")
    if not name:
        raise ConfigError(f"{prefix}no method given: pass --method NAME or set [method] name in the config")
    if not isinstance(name, str):
        raise ConfigError(f"{prefix}method.name: expected string, got {_describe(name)}")
    spec = method_spec_for(name)

    classes = {"method": spec.config, "data": DataConfig, "train": TrainConfig}
    typed_layers = []
    for label, data in user_layers:
        with _labelled(label):
            typed_layers.append((label, check_layer(data, classes)))

    defaults = nest(dict(spec.defaults))
    data_root = merge(defaults, user).get("data", {}).get("root")
    if demo is None:
        # a config file is a complete experiment: only a run from defaults gets demo settings
        demo = data_root is None and file_data is None
    demo_defaults = nest(dict(spec.demo_defaults)) if demo else {}
    layered = merge(*epochs_rule(user, defaults, demo_defaults), user)
    method_data = dict(layered.pop("method", {}))
    method_data.pop("name", None)
    extra = set(layered) - {"data", "train", "out"}
    if extra:
        raise ConfigError(f"{prefix}{_unknown_table(sorted(extra)[0])}")
    with _labelled(source):  # every value's rules, layer by layer, in the merged config
        merged = {
            "method": structure(method_data, spec.config, "method", check=False),
            "data": structure(layered.get("data", {}), DataConfig, "data", check=False),
            "train": structure(layered.get("train", {}), TrainConfig, "train", check=False),
        }
    for label, typed in typed_layers:
        with _labelled(label):
            check_layer_values(typed, merged, registry)
    try:
        config = RunConfig(
            method_name=name,
            method=structure(method_data, spec.config, "method"),
            data=structure(layered.get("data", {}), DataConfig, "data"),
            train=structure(layered.get("train", {}), TrainConfig, "train"),
            out=structure(layered.get("out"), str | None, "out"),
        )
        finalize_config = getattr(spec, "finalize_config", None) if finalize else None  # cross-table rules
        if finalize_config is not None:
            config = finalize_config(config, frozenset(flatten(user)))
        if registry is not None:
            check_run_config(config, registry, data_kind=spec.data_kind)
    except ConfigError as exc:
        raise ConfigError(f"{prefix}{exc}") from None
    return config


def last_wins(layers: Iterable[Layer]) -> list[tuple[str, dict[str, Any]]]:
    """Drop each key a later layer of the same label sets again (``--set a=1 --set a=2``).

    As in any CLI, the last ``--set`` of a key is the value asked for: the earlier one is
    not checked, so rules across fields (``load_size >= image_size``) see only final values.
    A key a later layer of another kind replaces (the file's, under ``--steps``) is kept and
    still checked.
    """
    out: list[tuple[str, dict[str, Any]]] = []
    seen: dict[str, set[str]] = {}
    for label, flat in reversed(list(layers)):
        later = seen.setdefault(label, set())
        out.append((label, {k: v for k, v in flat.items() if k not in later}))
        later.update(flat)
    return out[::-1]


#: ``train`` keys of a run counted in steps, which override the epoch counts.
_STEP_KEYS = ("steps", "decay_fraction")


def epochs_rule(user: Mapping[str, Any], *default_layers: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The default layers without their ``train.steps`` (and its ``decay_fraction``) when the
    user sets ``train.epochs`` or ``train.epochs_decay`` but not ``train.steps``.

    A method's paper or demo defaults may count the run in steps, which would silently
    override the epochs the user asked for; a user who sets both keeps steps (their choice).
    """
    train = user.get("train", {})
    if "steps" in train or not {"epochs", "epochs_decay"} & set(train):
        return default_layers
    drop = {k for k in _STEP_KEYS if k not in train}
    return tuple(
        {**layer, "train": {k: v for k, v in layer["train"].items() if k not in drop}} if "train" in layer else layer
        for layer in default_layers
    )


def check_run_config(config: RunConfig, registry: Any, *, data_kind: str | None = None) -> None:
    """What needs the loaded plugins: registered component names, the demo task for the method."""
    check_components(config.method, "method", registry)
    check_components(config.data, "data", registry)
    if config.data.demo is not None and config.data.root is None and data_kind is not None:
        from i2i.data.demo import demo_task  # lazy: the demo builders import kornia

        try:
            demo_task(config.data.demo, data_kind)
        except UsageError as exc:
            raise ConfigError(str(exc)) from None


def structure_method_config(spec: Any, data: Mapping[str, Any]) -> Any:
    return structure(dict(data), spec.config, "method")


def to_dict(config: RunConfig) -> dict[str, Any]:
    """Plain nested data, ``[method]`` carrying its ``name`` first."""
    data: dict[str, Any] = {}
    if config.out is not None:
        data["out"] = config.out
    data["method"] = {"name": config.method_name, **unstructure(config.method)}
    data["data"] = unstructure(config.data)
    data["train"] = unstructure(config.train)
    return data


def to_toml(config: RunConfig, *, show_unset: bool = False) -> str:
    """The config as TOML; ``show_unset`` adds each unset optional key as a comment saying
    what unset means (``# steps (unset): ...``), so the text still reads back unchanged."""
    if not show_unset:
        return tomli_w.dumps(to_dict(config))
    data = to_dict(config)
    parts = [tomli_w.dumps({"out": data["out"]})] if "out" in data else []
    for table, obj in (("method", config.method), ("data", config.data), ("train", config.train)):
        parts += _commented_tables(table, obj, data[table])
    return "\n".join(part.rstrip("\n") + "\n" for part in parts)


def _commented_tables(table: str, obj: Any, data: Mapping[str, Any]) -> list[str]:
    """``[table]`` with its unset keys as comments, then its sub-tables (``[train.tracking]``)."""

    subs = {k: v for k, v in data.items() if isinstance(v, Mapping)}
    tree: dict[str, Any] = {k: v for k, v in data.items() if k not in subs}
    for part in reversed(table.split(".")):  # [train.tracking], not ["train.tracking"]
        tree = {part: tree}
    text = tomli_w.dumps(tree)
    unset = [f.name for f in attrs.fields(type(obj)) if getattr(obj, f.name) is None]
    text += "".join(f"# {name} (unset): {unset_help(type(obj), name) or 'no value'}\n" for name in unset)
    parts = [text]
    for key, sub in subs.items():
        parts += _commented_tables(f"{table}.{key}", getattr(obj, key), sub)
    return parts


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    return dict(parse_override(i) for i in items)


__all__ = [
    "RunConfig",
    "DataConfig",
    "TrainConfig",
    "resolve_config",
    "read_toml",
    "to_toml",
    "to_dict",
    "parse_override",
    "parse_overrides",
    "structure",
    "unstructure",
    "structure_method_config",
    "flatten",
]
