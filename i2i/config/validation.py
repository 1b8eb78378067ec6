"""Value rules of config fields, and errors from any attrs validator as one sentence.

Every config class (``[data]``, ``[train]``, each method's ``[method]``) states its own rules
as attrs validators, so a value is checked wherever a config is built: ``i2i config check``,
``i2i run``, ``i2i.load_config``, a resumed run's saved config, or ``attrs.evolve`` in Python.
i2i's own rules (:func:`one_of`, :func:`at_least`, :func:`between` ...) read as sentences;
attrs' built-ins (``in_``, ``ge``, ``gt``, ``instance_of``, ``matches_re`` ...) and a plugin
author's validators raising ``ValueError`` are rephrased by :func:`explain`, so every error
reads ``train.precision: must be one of auto, fp32, bf16, fp16, got 'fp8'``.

Names of registered components (generators, discriminators, dataset layouts) depend on the
plugins loaded, so they are marked with :func:`component_field` and checked against a
registry by :func:`check_components` when a run config is resolved.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Any, Callable, Iterable, Mapping

import attrs

from i2i.errors import ConfigError

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]

#: attrs metadata key of a field naming a registered component: ``(kind, extra allowed names)``.
COMPONENT_KEY = "i2i.component"


def describe(value: Any) -> str:
    """A value as the error shows it: strings quoted, other types named (``int 5``)."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return repr(value) if isinstance(value, str) else f"{type(value).__name__} {value!r}"
    return f"{type(value).__name__} {value!r}"


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else repr(value)


def _choices(options: Iterable[Any]) -> str:
    return ", ".join(str(o) for o in options)


# -- i2i's validators -----------------------------------------------------------------------------
@attrs.frozen(repr=False)
class _OneOf:
    choices: tuple[Any, ...]

    def __call__(self, _instance: Any, _attribute: Any, value: Any) -> None:
        # bool is an int in Python; a choice of 1/3/4 must not accept True
        if isinstance(value, bool) and not any(isinstance(c, bool) for c in self.choices):
            raise ValueError(f"must be one of {_choices(self.choices)}, got {describe(value)}")
        if value not in self.choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close and isinstance(value, str) else ""
            raise ValueError(f"must be one of {_choices(self.choices)}, got {_shown(value)}{hint}")

    def __repr__(self) -> str:
        return f"<one_of {self.choices!r}>"


def one_of(*choices: Any) -> Validator:
    """The value must be one of ``choices`` (``must be one of auto, fp32, got 'fp8'``)."""
    return _OneOf(tuple(choices))


@attrs.frozen(repr=False)
class _Bound:
    low: float | None
    high: float | None
    low_open: bool
    high_open: bool
    text: str

    def __call__(self, _instance: Any, _attribute: Any, value: Any) -> None:
        if value is None:
            return
        ok = not (self.low is not None and (value <= self.low if self.low_open else value < self.low))
        ok = ok and not (self.high is not None and (value >= self.high if self.high_open else value > self.high))
        if not ok:
            raise ValueError(f"must be {self.text}, got {_shown(value)}")

    def __repr__(self) -> str:
        return f"<{self.text}>"


def at_least(low: float) -> Validator:
    """``value >= low`` (``must be >= 1, got 0``); None passes (an unset optional value)."""
    return _Bound(low, None, False, False, f">= {low}")


def more_than(low: float) -> Validator:
    """``value > low``; None passes."""
    return _Bound(low, None, True, False, f"> {low}")


def between(low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> Validator:
    """``low <= value <= high`` (either end open on request); None passes."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    return _Bound(low, high, low_open, high_open, f"in {left}{low}, {high}{right}")


@attrs.frozen(repr=False)
class _Matches:
    pattern: re.Pattern[str]
    text: str

    def __call__(self, _instance: Any, _attribute: Any, value: Any) -> None:
        if value is not None and not self.pattern.fullmatch(value):
            raise ValueError(f"must be {self.text}, got {_shown(value)}")

    def __repr__(self) -> str:
        return f"<matches {self.text}>"


def matches(pattern: str, description: str) -> Validator:
    """The string must match ``pattern`` in full; the error names ``description``."""
    return _Matches(re.compile(pattern), description)


@attrs.frozen(repr=False)
class _Distinct:
    text: str = "each name once"

    def __call__(self, _instance: Any, _attribute: Any, value: Any) -> None:
        if value is None:
            return
        twice = next((item for i, item in enumerate(value) if item in value[:i]), None)
        if twice is not None:
            raise ValueError(f"must name each entry once, got {_shown(twice)} twice in {list(value)!r}")

    def __repr__(self) -> str:
        return "<distinct>"


def distinct() -> Validator:
    """No entry of a list twice (``data.attributes = ["Male", "Male"]`` would train two
    labels that are one); None passes."""
    return _Distinct()


def component_field(kind: str, default: Any, *, also: Iterable[str] = (), **kwargs: Any) -> Any:
    """A field naming a registered ``kind`` (``generator``, ``discriminator``, ``loss``,
    ``dataset``), checked against the loaded plugins when a run config is resolved; names in
    ``also`` (e.g. ``"auto"``) are accepted too."""
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata[COMPONENT_KEY] = (kind, tuple(also))
    return attrs.field(default=default, metadata=metadata, **kwargs)


# -- any validator's error as a sentence ----------------------------------------------------------
_NUMBER = re.compile(r"^'(?P<name>\w+)' must be (?P<op><=|>=|<|>) (?P<bound>.+): (?P<value>.*)$")
_LENGTH = re.compile(r"^Length of '(?P<name>\w+)' must be (?P<op><=|>=|<|>) (?P<bound>.+): (?P<value>.*)$")


def _type_name(tp: Any) -> str:
    if isinstance(tp, tuple):
        return " or ".join(_type_name(t) for t in tp)
    return getattr(tp, "__name__", str(tp))


def explain(exc: BaseException, name: str) -> str:
    """What a validator of field ``name`` said, as ``must ..., got ...`` without the field name."""
    args = exc.args
    if len(args) == 4 and isinstance(args[1], attrs.Attribute):  # in_, instance_of, matches_re ...
        detail, value = args[2], args[3]
        if isinstance(detail, re.Pattern):
            return f"must match the pattern {detail.pattern!r}, got {_shown(value)}"
        if isinstance(detail, type) or (
            isinstance(detail, tuple) and detail and all(isinstance(t, type) for t in detail)
        ):
            return f"must be {_type_name(detail)}, got {describe(value)}"
        if isinstance(detail, (tuple, list, set, frozenset, dict)):
            return f"must be one of {_choices(detail)}, got {_shown(value)}"
    text = str(args[0]) if len(args) >= 1 else type(exc).__name__
    if (match := _NUMBER.match(text)) is not None:
        return f"must be {match['op']} {match['bound']}, got {match['value']}"
    if (match := _LENGTH.match(text)) is not None:
        return f"must have length {match['op']} {match['bound']}, got length {match['value']}"
    text = " ".join(text.split())
    # drop a leading mention of the field ("'ngf' must ...", "ngf: ...", "method.ngf: ...")
    for prefix in (f"'{name}' ", f"{name}: ", f"{name} "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    if (dotted := re.match(rf"^[\w.]*\.{re.escape(name)}:? (.*)$", text)) is not None:
        return dotted.group(1)
    return text or type(exc).__name__


def check_values(obj: Any, path: str, names: Iterable[str] | None = None) -> None:
    """Run the validators of ``obj``'s fields (all, or ``names``); the first failure raises a
    :class:`~i2i.errors.ConfigError` ``path.field: must ...``."""
    wanted = None if names is None else set(names)
    for field in attrs.fields(type(obj)):
        if wanted is not None and field.name not in wanted:
            continue
        value = getattr(obj, field.name)
        if attrs.has(type(value)):  # a nested table, e.g. [train.tracking]
            check_values(value, f"{path}.{field.name}")
        if field.validator is None:
            continue
        try:
            field.validator(obj, field, value)
        except (ValueError, TypeError, ArithmeticError, ConfigError) as exc:
            raise ConfigError(f"{path}.{field.name}: {explain(exc, field.name)}") from None
        except Exception as exc:  # a plugin validator raising something else is still about this value
            if type(exc).__module__.startswith("i2i"):
                raise ConfigError(f"{path}.{field.name}: {explain(exc, field.name)}") from None
            raise


def check_components(obj: Any, path: str, registry: Any, names: Iterable[str] | None = None) -> None:
    """Fields made with :func:`component_field` must name a component registered in ``registry``."""
    wanted = None if names is None else set(names)
    for field in attrs.fields(type(obj)):
        marker = field.metadata.get(COMPONENT_KEY)
        if marker is None or (wanted is not None and field.name not in wanted):
            continue
        kind, also = marker
        value = getattr(obj, field.name)
        if value is None or value in also:
            continue
        known = list(also) + list(registry.names(kind))
        if value not in known:
            close = difflib.get_close_matches(str(value), known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            plural = "losses" if kind == "loss" else f"{kind}s"
            raise ConfigError(
                f"{path}.{field.name}: must be a registered {kind} ({_choices(known)}; see: i2i list {plural}), "
                f"got {_shown(value)}{hint}"
            )


def finite_number(value: Any) -> bool:
    """Configs hold finite numbers: ``inf``/``nan`` would train silently into NaN weights."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    """attrs converter: any iterable of names -> a tuple (typed, unlike ``converter=tuple``)."""
    return tuple(value)


def any_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """attrs converter: any iterable -> a tuple, typed for checkers (``converter=tuple`` is not)."""
    return tuple(value)


def str_mapping(value: Mapping[str, str]) -> dict[str, str]:
    """attrs converter: a name -> name mapping copied into a dict, typed for checkers."""
    return dict(value)


def component_fields(cls: Any) -> Mapping[str, tuple[str, tuple[str, ...]]]:
    """``field name -> (kind, also)`` of ``cls``'s component fields (for docs and checks)."""
    return {f.name: f.metadata[COMPONENT_KEY] for f in attrs.fields(cls) if COMPONENT_KEY in f.metadata}
