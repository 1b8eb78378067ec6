"""What a method declares for inference: its translate options and its export inputs.

The core never knows a method's options by name. A method lists them as typed records in the
class attribute :attr:`i2i.Method.translate_options`; from those one place, i2i builds the
``i2i translate`` flags and their help, checks and converts values given to
:meth:`i2i.Translator.translate` (same messages for the CLI and the Python API), loads the
files that file-taking options name, and documents them. A complete example::

    class MyMethod(i2i.Method):
        translate_options = (
            i2i.TranslateOption("direction", choices=("a2b", "b2a"), default="a2b",
                                help="which generator to run", value_aliases={"AtoB": "a2b", "BtoA": "b2a"}),
            i2i.TranslateOption("strength", type=float, default=1.0, help="style strength, 0..1"),
            i2i.TranslateOption("style", is_file=True, load=load_style_image, help="a style image"),
        )

        def translate(self, x, direction="a2b", strength=1.0, style=None):
            ...

``translate(x)`` with no options must still work: evaluation and the report's samples call it
so. Declared defaults are documentation; the method's own keyword defaults apply.

Export inputs (:class:`ExportInput`) name each input of an exported generator, with an example
tensor and its dynamic axes, so ``i2i export`` names no input by data kind.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import attrs
import torch

from i2i.config.validation import str_mapping, str_tuple
from i2i.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from i2i.method import Method

#: The scalar types an option may declare (what a command-line string is converted to).
OPTION_TYPES = (str, int, float, bool)

#: ``load(path, method, options) -> value``: turns a file-taking option's path into the value
#: the method receives; ``options`` are the other (already checked) options of the call, so
#: e.g. a reference image can be read with the channels of the direction's output domain.
Loader = Callable[[Path, "Method", Mapping[str, Any]], Any]

#: ``check(value, method, options)``: raises :class:`~i2i.errors.UsageError` (one line naming
#: the option) for a converted value that this checkpoint's method cannot take, e.g. a label it
#: was not trained on; ``options`` are the call's other options by name (converted, files not
#: yet loaded), for a value that is wrong only beside another. Returns nothing otherwise.
Checker = Callable[[Any, "Method", Mapping[str, Any]], None]


def _check_name(instance: Any, attribute: Any, value: str) -> None:
    if not value.isidentifier():
        raise ValueError(f"translate option names are Python identifiers (keywords), got {value!r}")


@attrs.frozen
class TranslateOption:
    """One keyword of a method's ``translate``/``translate_variants``, declared for users.

    ``name`` is the keyword (``source_labels``; the flag is ``--source-labels``); ``aliases``
    are other accepted names (``--src``); ``type`` converts command-line strings (``bool`` makes
    ``--name/--no-name`` flags); ``choices`` lists the canonical values, ``value_aliases`` other
    spellings of them (``{"AtoB": "a2b"}``; matching ignores case, ``-`` and ``_``).

    ``is_file``: the value is a path; ``load(path, method, options)`` turns it into what the
    method receives (without ``load`` the method gets the path). With ``per_image`` the loaded
    value is a mapping from image file name (or stem) to that image's value, and each batch
    hands the method its images' values (stacked when tensors) as ``dest``. ``dest`` is the
    keyword the method receives (default ``name``), so a file option can feed another
    option's keyword (a label file -> ``source_labels``).

    Non-string values given through the Python API (tensors, PIL images, lists) are passed
    through for the method to check; strings are converted as the command line's are.

    ``check(value, method, options)`` validates a given value against the loaded checkpoint
    (its domain or label names: choices no declaration can list) and the call's other options.
    :meth:`i2i.Translator.check_options` calls it, so ``i2i translate`` stops with one
    ``error:`` line and exit code 2 before it reads any image, instead of failing on every
    image in turn; the method's own ``translate`` still raises for values that reach it
    unchecked.
    """

    name: str = attrs.field(validator=_check_name)
    type: type = attrs.field(default=str)
    choices: tuple[str, ...] = attrs.field(default=(), converter=str_tuple)
    default: Any = None
    help: str = ""
    is_file: bool = False
    load: Loader | None = attrs.field(default=None, eq=False)
    check: Checker | None = attrs.field(default=None, eq=False)
    per_image: bool = False
    dest: str | None = None
    aliases: tuple[str, ...] = attrs.field(default=(), converter=str_tuple)
    value_aliases: Mapping[str, str] = attrs.field(factory=dict, converter=str_mapping, eq=False)
    metavar: str | None = None
    minimum: float | None = None

    @type.validator
    def _check_type(self, attribute: Any, value: Any) -> None:
        if value not in OPTION_TYPES:
            raise ValueError(
                f"translate option {self.name!r}: type must be one of str, int, float, bool, got {value!r}"
            )

    @property
    def keyword(self) -> str:
        """The keyword the method's ``translate`` receives."""
        return self.dest or self.name

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def describe(self) -> str:
        """One line for help texts: the help, the choices and the default."""
        parts = [self.help] if self.help else []
        if self.choices:
            spelled = [*self.choices, *(k for k in self.value_aliases if k not in self.choices)]
            parts.append(f"one of {', '.join(spelled)}")
        if self.default is not None:
            parts.append(f"default {self.default}")
        return "; ".join(parts)

    def convert(self, value: Any) -> Any:
        """A user's value -> the method's (strings converted, choices checked); one-line errors."""
        if value is None:
            return None
        if self.is_file:
            return value  # a path (loaded later) or an already-loaded value
        if self.type is bool:
            return _to_bool(self.name, value)
        if self.type in (int, float):
            number = _to_number(self.name, value, self.type)
            if self.minimum is not None and number < self.minimum:
                raise UsageError(f"{self.name}: expected at least {_plain(self.minimum)}, got {value!r}")
            return number
        if not isinstance(value, str):
            return value  # a tensor, a list of names: the method checks it
        return self._choice(value) if self.choices else value

    def _choice(self, value: str) -> str:
        def key(s: str) -> str:
            return s.lower().replace("-", "").replace("_", "")

        table = {key(c): c for c in self.choices}
        table.update({key(k): v for k, v in self.value_aliases.items()})
        found = table.get(key(value))
        if found is None:
            spelled = [*self.choices, *(k for k in self.value_aliases if k not in self.choices)]
            raise UsageError(f"{self.name}: expected one of {', '.join(spelled)}, got {value!r}")
        return found


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"{name}: expected true or false, got {value!r}")


def _to_number(name: str, value: Any, kind: type) -> Any:
    what = "an integer" if kind is int else "a number"
    if isinstance(value, bool) or isinstance(value, torch.Tensor) and value.numel() != 1:
        raise UsageError(f"{name}: expected {what}, got {value!r}")
    try:
        number = float(value.item() if isinstance(value, torch.Tensor) else value)
    except (TypeError, ValueError):
        raise UsageError(f"{name}: expected {what}, got {value!r}") from None
    if kind is int:
        if not number.is_integer():
            raise UsageError(f"{name}: expected {what}, got {value!r}")
        return int(number)
    if number != number or number in (float("inf"), float("-inf")):
        raise UsageError(f"{name}: expected a finite number, got {value!r}")
    return number


def declared_options(method: Any) -> tuple[TranslateOption, ...]:
    """A method's (or method class's) translate options as records.

    A plugin written before the records existed defined ``translate_options()`` returning
    ``{name: help}``; those names become plain string options, so its flags keep working.
    """
    declared = getattr(method, "translate_options", ()) or ()
    if callable(declared):
        if isinstance(method, type):
            return ()  # the legacy method needs an instance
        legacy = declared() or {}
        return tuple(TranslateOption(str(name), help=str(text)) for name, text in dict(legacy).items())
    options = tuple(declared)
    bad = [o for o in options if not isinstance(o, TranslateOption)]
    if bad:
        raise TypeError(
            f"{type(method).__name__}.translate_options must hold i2i.TranslateOption records, got {bad[0]!r}"
        )
    return options


def option_table(declared: tuple[TranslateOption, ...]) -> dict[str, TranslateOption]:
    """Every accepted name (names, aliases, their ``-`` spellings) -> its record."""
    table: dict[str, TranslateOption] = {}
    for option in declared:
        for name in (option.name, *option.aliases):
            table[name] = option
            table[name.replace("-", "_")] = option
    return table


def check_options(
    declared: tuple[TranslateOption, ...], options: Mapping[str, Any], method_name: str
) -> dict[str, Any]:
    """Validate ``options`` (by name or alias) against ``declared``; returns ``{name: value}``
    with canonical names and converted values, ``None`` values dropped.

    An unknown name is one line listing the method's options (with a close match when there is
    one); a name given twice (``target`` and an alias of it) is an error too.
    """
    table = option_table(declared)
    out: dict[str, Any] = {}
    for given, value in options.items():
        if value is None:
            continue
        option = table.get(given) or table.get(str(given).replace("-", "_"))
        if option is None:
            offered = ", ".join(o.name for o in declared) or "none"
            close = difflib.get_close_matches(str(given), list(table), n=1, cutoff=0.6)
            hint = f"; did you mean {table[close[0]].name!r}?" if close else ""
            raise UsageError(f"method {method_name!r} has no option {given!r} (its translate options: {offered}){hint}")
        if option.name in out:
            raise UsageError(f"{option.name}: given twice (as {given!r} and another name of the same option)")
        out[option.name] = option.convert(value)
    return out


def _int_keyed(value: Mapping[int, str]) -> dict[int, str]:
    return dict(value)


@attrs.frozen
class ExportInput:
    """One input of an exported generator: its name in the exported graph, an example tensor
    (a shape the network accepts), and which axes may change at run time (axis -> name).

    An image input is ``ExportInput("image", x, {0: "batch", 2: "height", 3: "width"})``; a
    conditioning vector ``ExportInput("label", c, {0: "batch"})``. Height and width of image
    inputs must stay multiples of the method's ``size_multiple``, which ``i2i export`` encodes
    as the dimension's constraint.
    """

    name: str
    example: torch.Tensor = attrs.field(eq=False)
    dynamic_axes: Mapping[int, str] = attrs.field(factory=lambda: {0: "batch"}, converter=_int_keyed, eq=False)


def latent_codes(value: Any, n: int, dim: int, device: torch.device | str = "cpu", name: str = "z") -> torch.Tensor:
    """A translate option's explicit latent codes as an ``(n, dim)`` float tensor: a tensor or
    nested list of shape ``(dim,)``, ``(1, dim)`` or ``(n, dim)`` from Python, or from the
    command line ``dim`` comma-separated numbers (one code for every image). Anything else is
    a one-line :class:`~i2i.errors.UsageError` naming ``name`` (for multimodal methods'
    ``--z``: Augmented CycleGAN, StarGAN v2)."""
    if isinstance(value, str):
        try:
            numbers = [float(item) for item in value.split(",") if item.strip()]
        except ValueError:
            raise UsageError(f"{name}: expected {dim} comma-separated numbers, got {value!r}") from None
        if len(numbers) != dim:
            raise UsageError(
                f"{name}: expected {dim} comma-separated numbers (the model's code size), got {len(numbers)}"
            )
        value = numbers
    try:
        codes = torch.as_tensor(value, dtype=torch.float32, device=device)
    except (TypeError, ValueError, RuntimeError):
        raise UsageError(f"{name}: expected (1 or {n}, {dim}) latent codes, got {type(value).__name__}") from None
    codes = codes[None] if codes.dim() == 1 else codes
    if codes.dim() != 2 or codes.shape[1] != dim or codes.shape[0] not in (1, n):
        raise UsageError(f"{name}: expected (1 or {n}, {dim}) latent codes, got shape {tuple(codes.shape)}")
    if not torch.isfinite(codes).all():
        raise UsageError(f"{name}: latent codes must be finite numbers")
    return codes.expand(n, dim)


def image_input(x: torch.Tensor, name: str = "image") -> ExportInput:
    """An ``(N, C, H, W)`` image input with dynamic batch, height and width."""
    return ExportInput(name, x, {0: "batch", 2: "height", 3: "width"})


__all__ = [
    "TranslateOption",
    "ExportInput",
    "image_input",
    "latent_codes",
    "check_options",
    "option_table",
    "declared_options",
    "OPTION_TYPES",
    "Loader",
]
