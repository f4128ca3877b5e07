"""Stage configuration: one frozen dataclass per stage, built once at the edge (CLI, YAML,
REST) from text or typed values, every field coerced by its annotation.

What does not parse is a :class:`ConfigError` naming the option, the value as given and the
expected type in words (``depth.point_cloud: expected true or false, got 'ture'``).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import functools
import numbers
import os
import types
import typing
from typing import Any, Mapping


class ConfigError(ValueError):
    """A config value that does not parse, or an option the config does not have. The message
    names the option as the user wrote it (``depth.point_cloud``), the value as given and the
    expected type in words: ``depth.point_cloud: expected true or false, got 'ture'``."""


_TRUE, _FALSE, _NONE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}, {"none", "null"}
_PLURAL = {bool: "true/false values", int: "integers", float: "numbers", str: "strings"}


@functools.lru_cache(maxsize=None)
def config_hints(cls: type) -> dict[str, Any]:
    """Field name → resolved annotation (the config modules use ``from __future__ import annotations``)."""
    return typing.get_type_hints(cls)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def describe(tp: Any) -> str:
    """The annotation ``tp`` in words, for error messages: ``an integer``, ``one of fp32, int8``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    words = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "none"}
    if tp in words:
        return words[tp]
    if origin is typing.Literal or (isinstance(tp, type) and issubclass(tp, enum.Enum)):
        names = [str(m.value) for m in tp] if isinstance(tp, type) else [str(a) for a in args]
        return " or ".join(names) if len(names) == 2 else "one of " + ", ".join(names)
    if _is_union(tp):
        return " or ".join(describe(a) for a in args if a is not type(None)) + (" or none" if type(None) in args else "")
    if tp is tuple or origin is tuple:
        if not args or args[-1] is Ellipsis:
            elem = args[0] if args else Any
            return f"a comma-separated list of {_PLURAL[elem]}" if elem in _PLURAL else f"a comma-separated list, each {describe(elem)}"
        if len(set(args)) == 1 and args[0] in _PLURAL:
            return f"{len(args)} comma-separated {_PLURAL[args[0]]}"
        return f"{len(args)} comma-separated values ({', '.join(describe(a) for a in args)})"
    if tp is dict or origin in (dict, collections.abc.Mapping):
        return "a mapping (key: value; in YAML a nested block, with --set one STAGE.OPTION.KEY=VALUE per key)"
    if dataclasses.is_dataclass(tp):
        return f"a mapping of {tp.__name__} options"
    return getattr(tp, "__name__", str(tp))


def _bad(option: str, tp: Any, value: Any) -> ConfigError:
    return ConfigError(f"{option}: expected {describe(tp)}, got {value!r}")


def _scalar(tp: type, value: Any, option: str) -> Any:
    """bool, int, float or str from a value of that type or from CLI/YAML text."""
    text = value.strip() if isinstance(value, str) else None
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, numbers.Integral) and value in (0, 1):
            return bool(value)
        if text is not None and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
    elif tp is int and not isinstance(value, bool):
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if text is not None:
            try:
                return int(text)
            except ValueError:
                pass
    elif tp is float and not isinstance(value, bool):
        if isinstance(value, numbers.Real):
            return float(value)
        if text is not None:
            try:
                return float(text)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, os.PathLike) or (isinstance(value, numbers.Real) and not isinstance(value, bool)):
            return os.fspath(value) if isinstance(value, os.PathLike) else str(value)  # YAML reads 1.5 as a number
    raise _bad(option, tp, value)


def _choice(tp: Any, value: Any, option: str) -> Any:
    """A Literal's value or an Enum's member, matched exactly, else by text (case-insensitive)."""
    choices = list(tp) if isinstance(tp, type) else list(typing.get_args(tp))
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    for c in choices:
        if type(c) is type(value) and c == value:
            return c
    if not isinstance(value, bool) and isinstance(value, (str, numbers.Real)):
        text = str(value).strip().lower()
        for c in choices:
            raw = c.value if isinstance(c, enum.Enum) else c
            if not isinstance(raw, bool) and str(raw).lower() == text:
                return c
    raise _bad(option, tp, value)


def _sequence(tp: Any, value: Any, option: str) -> tuple:
    """A tuple from a comma string (``--set``, a YAML scalar) or a list, each element coerced."""
    args = typing.get_args(tp)
    if isinstance(value, str):
        items: list[Any] = [p.strip() for p in value.split(",") if p.strip()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise _bad(option, tp, value)
    if not args:
        return value if isinstance(value, tuple) else tuple(items)
    kinds = [args[0]] * len(items) if args[-1] is Ellipsis else list(args)
    if len(kinds) != len(items):
        raise _bad(option, tp, value)
    try:
        out = tuple(coerce(k, v, option) for k, v in zip(kinds, items))
    except ConfigError:
        raise _bad(option, tp, value) from None
    return value if isinstance(value, tuple) and all(a is b for a, b in zip(out, value)) else out


def coerce(tp: Any, value: Any, option: str) -> Any:
    """``value`` (typed, or text from ``--set``/YAML) as the annotation ``tp`` says, or a
    :class:`ConfigError` naming ``option``. A value already of that type comes back unchanged;
    annotations it does not know (arrays, callables) pass the value through."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if _is_union(tp):
        args = typing.get_args(tp)
        if type(None) in args and (value is None or (isinstance(value, str) and value.strip().lower() in _NONE)):
            return None
        kinds = [a for a in args if a is not type(None)]
        for k in kinds:
            try:
                return coerce(k, value, option)
            except ConfigError:
                if len(kinds) == 1 and dataclasses.is_dataclass(k) and isinstance(value, collections.abc.Mapping):
                    raise  # the nested option's own message is the precise one
        raise _bad(option, tp, value)
    if tp in (bool, int, float, str):
        return _scalar(tp, value, option)
    if origin is typing.Literal or (isinstance(tp, type) and issubclass(tp, enum.Enum)):
        return _choice(tp, value, option)
    if tp is tuple or origin is tuple:
        return _sequence(tp, value, option)
    if tp is dict or origin in (dict, collections.abc.Mapping):
        if isinstance(value, collections.abc.Mapping):
            return value if isinstance(value, dict) else dict(value)
        raise _bad(option, tp, value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, collections.abc.Mapping):
            return config_from_dict(tp, value, where=option)
        raise _bad(option, tp, value)
    return value


def coerce_fields(obj: Any, where: str = "") -> None:
    """Coerce every field of the frozen dataclass ``obj`` in place by its annotation (call it
    first in ``__post_init__``); ``where`` prefixes the option names in errors."""
    hints = config_hints(type(obj))
    prefix = f"{where}." if where else ""
    for f in dataclasses.fields(obj):
        if not f.init:
            continue  # derived in __post_init__, not given
        value = getattr(obj, f.name)
        typed = coerce(hints.get(f.name, Any), value, prefix + f.name)
        if typed is not value:
            object.__setattr__(obj, f.name, typed)


@dataclasses.dataclass(frozen=True)
class StageConfig:
    """Base of every stage's frozen config (built once at the edge, passed down as a value).

    Every field is coerced by its annotation (:func:`coerce`): ``--set``/YAML text becomes a
    bool, number, tuple (comma string), Literal or nested config, and what does not parse is a
    :class:`ConfigError`. Subclasses with a ``__post_init__`` call this one first."""

    def __post_init__(self) -> None:
        coerce_fields(self)


def config_from_dict(cls: type, values: Mapping[str, Any] | None, *, where: str | None = None) -> Any:
    """Build the frozen config dataclass ``cls`` from CLI/YAML values: each coerced by its
    field's annotation, unknown keys named. ``where`` (a stage name, ``face.quality``) prefixes
    option names in errors, and turns the config's own validation errors into ConfigErrors."""
    values = dict(values or {})
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"{where or cls.__qualname__}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    hints = config_hints(cls)
    prefix = f"{where}." if where else ""
    typed = {k: coerce(hints.get(k, Any), v, prefix + k) for k, v in values.items()}
    try:
        return cls(**typed)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        if where is None:
            raise
        raise ConfigError(f"{where}: {exc}") from None


def config_options(config: Any) -> dict[str, Any]:
    """The fields of a config dataclass that differ from their defaults, as plain values
    (nested configs as mappings, tuples as lists, enums as their values): JSON-ready, and
    ``config_from_dict(type(config), config_options(config)) == config``."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING
        if value == default and type(value) is type(default):
            continue
        out[f.name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_options(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
