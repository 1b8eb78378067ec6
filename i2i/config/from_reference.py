"""Reading the reference code's options into an i2i run config (``i2i config from-reference``).

Users of the reference implementations have their experiments as command lines
(``python train.py --dataroot ./datasets/facades --model pix2pix --direction BtoA``) or as the
option files those programs write: ``train_opt.txt`` / ``opt.txt`` in every junyanz checkpoint
folder (``BaseOptions.print_options``: ``{:>25}: {:<30}`` rows between ``Options`` and ``End``
rulers, ``[default: ...]`` comments), StarGAN's ``print(config)`` (``Namespace(...)``). This
module only *parses* those formats and *applies* a mapping; which reference option means what
in i2i is the method's own knowledge, declared by its plugin as ``MethodSpec.reference`` (a
:class:`ReferenceSpec`), so a third-party method reads its own reference the same way::

    yield MethodSpec(..., reference=i2i.ReferenceSpec(
        code="junyanz/pytorch-CycleGAN-and-pix2pix", model="cycle_gan",
        options={**i2i.JUNYANZ_OPTIONS, "lambda_A": i2i.ReferenceOption.sets("method.lambda_A", float)}))

:data:`JUNYANZ_OPTIONS` maps the options every model of the junyanz code shares (data
loading, epochs, schedule, logging) - the code base's, not a method's.
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import attrs

from i2i.config.run import resolve_config
from i2i.errors import ConfigError, UsageError
from i2i.plugins.host import get_host

Converter = Callable[[Any], Any]


# -- value converters (the reference's text -> an i2i value) ------------------------------------
def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def as_bool(value: Any) -> bool:
    """``True``/``true``/``1`` (argparse ``store_true`` values print as ``True``/``False``)."""
    if isinstance(value, bool):
        return value
    return _text(value).strip().lower() in ("true", "1", "yes")


def not_bool(value: Any) -> bool:
    """The negation of :func:`as_bool` (``--no_flip`` -> ``data.flip = false``)."""
    return not as_bool(value)


def as_list(value: Any) -> list[str]:
    """``['a', 'b']`` (a printed list), ``a b`` (a command line's ``nargs='+'``) or a list."""
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    text = _text(value).strip()
    if text.startswith("["):
        try:
            return [str(v) for v in ast.literal_eval(text)]
        except (ValueError, SyntaxError):
            pass
    return text.split()


def as_float(value: Any) -> float:
    return float(_text(value))


def as_int(value: Any) -> int:
    number = float(_text(value))
    if not number.is_integer():
        raise ValueError(f"not an integer: {value!r}")
    return int(number)


@attrs.frozen
class ReferenceOption:
    """One reference option: the dotted i2i key it sets (``None``: no i2i equivalent, ``note``
    says why) and how its text becomes the i2i value. ``to`` may instead compute several keys
    from the value and all the options (``to(value, options) -> {key: value}``)."""

    key: str | None
    convert: Converter = _text
    note: str = ""
    to: Callable[[Any, Mapping[str, Any]], Mapping[str, Any]] | None = None

    def apply(self, value: Any, options: Mapping[str, Any]) -> dict[str, Any]:
        if self.to is not None:
            return dict(self.to(value, options))
        return {self.key: self.convert(value)} if self.key else {}

    # constructors and converters, so a plugin needs only this class (``i2i.ReferenceOption``)
    @classmethod
    def sets(cls, key: str, convert: Converter = _text, note: str = "") -> ReferenceOption:
        """The option sets ``key`` to ``convert(value)`` (``ReferenceOption.sets("method.ngf", int)``)."""
        return cls(key, convert, note)

    @classmethod
    def unmapped(cls, note: str) -> ReferenceOption:
        """The option has no i2i equivalent; ``note`` says what i2i does instead."""
        return cls(None, note=note)

    @classmethod
    def derived(cls, to: Callable[[Any, Mapping[str, Any]], Mapping[str, Any]], note: str = "") -> ReferenceOption:
        """The option sets what ``to(value, options)`` returns (several keys, or none)."""
        return cls(None, note=note, to=to)

    as_bool = staticmethod(as_bool)
    not_bool = staticmethod(not_bool)
    as_int = staticmethod(as_int)
    as_float = staticmethod(as_float)
    as_list = staticmethod(as_list)


ref, no_equivalent, computed = ReferenceOption.sets, ReferenceOption.unmapped, ReferenceOption.derived


def _settings(value: Mapping[str, Any]) -> dict[str, Any]:
    """attrs converter: dotted i2i keys -> values, copied into a dict (typed for checkers)."""
    return dict(value)


@attrs.frozen
class ReferenceSpec:
    """How a method reads the options of the reference code it reimplements.

    ``code`` names the reference (``"yunjey/stargan"``); ``model`` is the value of its
    ``--model`` option that means this method (None when the code has no ``--model``);
    ``signature`` lists options whose presence identifies this reference when no ``--model``
    is given (StarGAN's ``g_conv_dim``); ``options`` maps every option the reference has to a
    :class:`ReferenceOption`. An option absent from ``options`` is reported as unknown.
    ``default_script``: the reference script that trains this method when no ``--model`` is
    given (``"train.py"`` for the model the junyanz code defaults to). ``fixed``: i2i settings
    the reference always has whatever its options say - the structure of its model, e.g. the
    Augmented CycleGAN release's one-sided model and networks - applied first, so an option
    may still override one.
    """

    code: str
    options: Mapping[str, ReferenceOption]
    model: str | None = None
    signature: tuple[str, ...] = ()
    default_script: str | None = None
    fixed: Mapping[str, Any] = attrs.field(factory=dict, converter=_settings)


# -- the junyanz code base's shared options -------------------------------------------------------
def _schedule(value: Any, _options: Mapping[str, Any]) -> dict[str, Any]:
    policy = _text(value)
    table = {"linear": "linear", "lambda": "linear", "step": "step", "plateau": "plateau", "cosine": "cosine"}
    if policy not in table:
        raise ValueError(f"unknown lr_policy {policy!r}")
    return {"train.schedule": table[policy]}


def _device(value: Any, _options: Mapping[str, Any]) -> dict[str, Any]:
    """``-1`` is the CPU; GPU ids keep i2i's ``auto`` (the GPU when there is one), so the config
    also runs where the original GPU is not (several GPUs: launch i2i run with torchrun)."""
    ids = [s for s in _text(value).replace("[", "").replace("]", "").replace(" ", "").split(",") if s]
    return {"train.device": "cpu" if not ids or ids == ["-1"] else "auto"}


def _log_every(value: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """The reference counts ``print_freq`` in images (``total_iters += batch_size``), i2i in steps."""
    batch = as_int(options.get("batch_size", 1))
    return {"train.log_every": max(1, as_int(value) // max(batch, 1))}


def _max_dataset_size(value: Any, _options: Mapping[str, Any]) -> dict[str, Any]:
    text = _text(value)
    return {} if text in ("inf", "None") else {"data.max_dataset_size": as_int(text)}


def _layout(value: Any, _options: Mapping[str, Any]) -> dict[str, Any]:
    table = {"unaligned": "unpaired", "aligned": "aligned"}
    mode = _text(value)
    if mode not in table:
        raise ValueError(f"dataset_mode {mode!r} has no i2i layout (i2i has unpaired, aligned, paired_folders, ...)")
    return {"data.layout": table[mode]}


def _out(value: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """The run folder where the reference keeps this experiment: ``checkpoints_dir/name``."""
    return {"out": str(Path(_text(options.get("checkpoints_dir", "./checkpoints"))) / _text(value))}


_LOGGING = "i2i reports in the run folder (index.html, metrics.jsonl); no visdom/HTML display"
_CHECKPOINTS = "i2i checkpoints into --out every train.checkpoint_every steps"
JUNYANZ_OPTIONS: Mapping[str, ReferenceOption] = {
    "dataroot": ref("data.root"),
    "dataset_mode": computed(_layout),
    "direction": ref("data.direction"),
    "serial_batches": ref("data.serial_batches", as_bool),
    "num_threads": ref("data.num_workers", as_int),
    "batch_size": ref("train.batch_size", as_int),
    "load_size": ref("data.load_size", as_int),
    "crop_size": ref("data.image_size", as_int),
    "max_dataset_size": computed(_max_dataset_size),
    "preprocess": ref("data.preprocess"),
    "no_flip": ref("data.flip", not_bool),
    "input_nc": ref("data.channels", as_int),
    "output_nc": ref("data.channels_b", as_int),
    "n_epochs": ref("train.epochs", as_int),
    "niter": ref("train.epochs", as_int),
    "n_epochs_decay": ref("train.epochs_decay", as_int),
    "niter_decay": ref("train.epochs_decay", as_int),
    "lr_policy": computed(_schedule),
    "lr_decay_iters": ref("train.step_size", as_int),
    "gpu_ids": computed(_device),
    "print_freq": computed(_log_every),
    "checkpoints_dir": computed(lambda _v, _o: {}),  # read with --name
    "name": computed(_out),
    "model": computed(lambda _v, _o: {}),  # selects the i2i method
    "phase": no_equivalent("i2i trains on train/ and evaluates on test/ (val/ as fallback)"),
    "isTrain": no_equivalent("i2i run trains; i2i translate/eval test"),
    "epoch": no_equivalent("i2i translate/eval take a checkpoint file"),
    "load_iter": no_equivalent("i2i translate/eval take a checkpoint file"),
    "continue_train": no_equivalent("use i2i run --resume --out DIR"),
    "epoch_count": no_equivalent("i2i run --resume continues from the saved step"),
    "verbose": no_equivalent("use i2i --verbose"),
    "suffix": no_equivalent("pass --out DIR to i2i run"),
    "display_winsize": no_equivalent(_LOGGING),
    "display_freq": no_equivalent(_LOGGING),
    "display_ncols": no_equivalent(_LOGGING),
    "display_id": no_equivalent(_LOGGING),
    "display_server": no_equivalent(_LOGGING),
    "display_env": no_equivalent(_LOGGING),
    "display_port": no_equivalent(_LOGGING),
    "update_html_freq": no_equivalent(_LOGGING),
    "no_html": no_equivalent(_LOGGING),
    "use_wandb": no_equivalent("i2i logs through tracker plugins"),
    "wandb_project_name": no_equivalent("i2i logs through tracker plugins"),
    "save_latest_freq": no_equivalent(_CHECKPOINTS),
    "save_epoch_freq": no_equivalent(_CHECKPOINTS),
    "save_by_iter": no_equivalent(_CHECKPOINTS),
}


# -- parsing the formats ----------------------------------------------------------------------------
def parse_command_line(text: str | Iterable[str]) -> tuple[str, dict[str, Any]]:
    """``(script, options)`` of ``python train.py --a 1 --flag --list x y`` (argv or one string).

    An option followed by no value is a ``store_true`` flag (``"True"``); several values are a
    list (``nargs='+'``).
    """
    argv = shlex.split(text) if isinstance(text, str) else list(text)
    script = ""
    options: dict[str, Any] = {}
    key: str | None = None
    for token in argv:
        if token.startswith("--"):
            name, eq, value = token[2:].partition("=")
            key = name
            options[key] = [value] if eq else []
        elif key is not None:
            options[key].append(token)
        elif token.endswith(".py"):
            script = Path(token).name
    out = {k: "True" if not v else v[0] if len(v) == 1 else v for k, v in options.items()}
    return script, out


def parse_option_file(text: str) -> dict[str, Any]:
    """The rows of a ``print_options`` file (junyanz ``train_opt.txt``) or a ``key: value`` list."""
    options: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("---"):
            continue
        body = line.split("\t[default:", 1)[0]
        key, sep, value = body.partition(": ")
        if not sep:
            key, sep, value = body.rstrip().partition(":")
        if not sep or not key.strip():
            raise ConfigError(f"not an option line: {line.strip()!r} (expected 'name: value')")
        options[key.strip()] = value.strip()
    return options


def parse_namespace(text: str) -> dict[str, Any]:
    """StarGAN's ``print(config)``: ``Namespace(batch_size=16, selected_attrs=['Male'], ...)``."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Namespace"):
            raise ValueError
        return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    except (ValueError, SyntaxError):
        raise ConfigError("not a Namespace(...) printout") from None


def parse_reference(text: str) -> tuple[str, dict[str, Any]]:
    """Detect the format of ``text`` and return ``(script, options)``."""
    stripped = text.strip()
    if not stripped:
        raise ConfigError("no options found (empty input)")
    if stripped.startswith("Namespace("):
        return "", parse_namespace(stripped)
    if "--" in stripped.split("\n", 1)[0] and not stripped.startswith("-" * 5):
        return parse_command_line(" ".join(stripped.split("\\\n")))
    return "", parse_option_file(stripped)


# -- applying a method's mapping ----------------------------------------------------------------------
@attrs.frozen
class Conversion:
    """The result: the method, the dotted i2i overrides, and what did not carry over."""

    method: str
    values: dict[str, Any]
    unmapped: list[tuple[str, str]]  # (option, why) for options with no i2i equivalent
    unknown: list[str]  # options the method's reference table does not list


def choose_method(specs: Mapping[str, ReferenceSpec], script: str, options: Mapping[str, Any]) -> str:
    """The method whose reference these options belong to (``--model``, else the signature)."""
    model = options.get("model")
    if model is not None:
        found = [name for name, s in specs.items() if s.model == _text(model)]
        if found:
            return found[0]
        known = ", ".join(sorted(s.model for s in specs.values() if s.model)) or "none"
        raise ConfigError(f"--model {_text(model)!r}: no installed i2i method reads it (known: {known}); pass --method")
    scored = sorted(
        ((sum(k in options for k in s.signature), name) for name, s in specs.items() if s.signature), reverse=True
    )
    if scored and scored[0][0] > 0 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
        return scored[0][1]
    by_script = [name for name, s in specs.items() if script and s.default_script == script]
    if len(by_script) == 1:  # what the script trains without --model (junyanz's train.py: its default model)
        return by_script[0]
    raise ConfigError("cannot tell which method these options are for; pass --method NAME")


def convert(spec: ReferenceSpec, method: str, options: Mapping[str, Any]) -> Conversion:
    """Apply ``spec`` to ``options``; a value the mapping cannot read is a :class:`ConfigError`."""
    values: dict[str, Any] = dict(spec.fixed)
    unmapped: list[tuple[str, str]] = []
    unknown: list[str] = []
    for name in sorted(options):
        option = spec.options.get(name)
        if option is None:
            unknown.append(name)
            continue
        try:
            produced = option.apply(options[name], options)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"--{name} {_text(options[name])!r}: {exc}") from None
        if not produced and option.note:
            unmapped.append((name, option.note))
        values.update(produced)
    return Conversion(method=method, values=values, unmapped=unmapped, unknown=unknown)


def convert_reference(text: str, *, method: str | None = None, host: Any = None) -> tuple[Any, Any]:
    """``(run_config, conversion)`` for reference options ``text`` (a command line, a
    ``train_opt.txt`` / ``opt.txt``, or StarGAN's ``Namespace(...)`` printout), read with the
    ``MethodSpec.reference`` of ``method`` (default: the installed method whose reference the
    options name). The library side of ``i2i config from-reference``."""
    host = host if host is not None else get_host()
    specs = {spec.name: spec.reference for spec in host.registry.records("method") if getattr(spec, "reference", None)}
    if not specs:
        raise UsageError("no installed method declares how to read reference options (MethodSpec.reference)")
    script, options = parse_reference(text)
    if method is None:
        method = choose_method(specs, script, options)
    elif method not in specs:
        host.registry.get("method", method)  # the "unknown method, did you mean" error
        raise UsageError(f"method {method!r} declares no reference options (MethodSpec.reference)")
    conversion = convert(specs[method], method, options)
    registry = host.registry
    config = resolve_config(
        lambda name: registry.get("method", name), overrides=dict(conversion.values), method=method, registry=registry
    )
    return config, conversion


__all__ = [
    "Conversion",
    "JUNYANZ_OPTIONS",
    "convert_reference",
    "ReferenceOption",
    "ReferenceSpec",
    "as_bool",
    "as_float",
    "as_int",
    "as_list",
    "choose_method",
    "convert",
    "not_bool",
    "parse_command_line",
    "parse_namespace",
    "parse_option_file",
    "parse_reference",
]
