"""Declaring a setting once (:func:`setting`) and checking a settings dataclass against its declaration.

Metadata of a setting field (all optional): ``help``; ``choices`` (allowed values, of the value or of each
list item; or a function that returns them when asked, for choices a registry grows, such as the methods);
``flag`` (the CLI flag without ``--`` where it differs from the field name: ``lr`` for
``learning_rate``); ``ge``/``gt``/``le`` (bounds of a number, checked by :func:`check_settings`);
``sep`` (a list setting given as one comma-separated flag) or ``repeat`` (a flag given once per item;
``KEY=VALUE`` for a mapping); ``metavar``; ``cli=False`` (no flag: set by the program or by a config file).
Every float setting must be finite (NaN and infinities are refused).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from xalign.errors import ConfigError


class ConfigTypeError(ConfigError, TypeError):
    """A setting holds a value of the wrong type: a :class:`ConfigError` that is also a ``TypeError``."""


_META = ("help", "choices", "flag", "ge", "gt", "le", "sep", "repeat", "metavar", "cli", "min", "max", "exclusive_min")


def setting(default: Any = None, help: str = "", **meta: Any) -> Any:
    """A dataclass field with its default and its declaration (see the module doc for ``meta``).
    A callable ``default`` is a factory (``list``, ``lambda: ["en"]``)."""
    unknown = sorted(set(meta) - set(_META))
    if unknown:
        raise TypeError(f"setting(): unknown metadata {unknown}; expected any of {_META}")
    if meta.get("choices") is not None and not callable(meta["choices"]):
        meta["choices"] = tuple(meta["choices"])
    metadata = {"help": help, **meta}
    if callable(default):
        return dataclasses.field(default_factory=default, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def setting_from(cls: type, name: str, **changes: Any) -> Any:
    """The setting ``name`` of dataclass ``cls`` declared again (same default and metadata, ``changes`` on
    top), so that a method's module declares its settings once and the run's config takes them over."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    meta = {**f.metadata, **changes}
    return setting(default_of(f) if f.default_factory is dataclasses.MISSING else f.default_factory,
                   meta.pop("help", ""), **meta)


def choices_of(meta: typing.Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The declared choices (a function declared as ``choices`` is called now: a registry may have grown)."""
    choices = meta.get("choices")
    return tuple(choices() if callable(choices) else choices) if choices is not None else None


def flag_of(config: Any, name: str) -> str:
    """The CLI flag of setting ``name`` of the dataclass (or instance) ``config``: ``--lr``, ``--overwrite``."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    f = fields.get(name)
    flag = f.metadata.get("flag") if f is not None else None
    return "--" + (flag or name).replace("_", "-")


def default_of(f: dataclasses.Field) -> Any:
    """The declared default of field ``f`` (``dataclasses.MISSING`` when it has none)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING


def _matches(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if origin is list:
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(_matches(k, args[0]) and _matches(v, args[1]) for k, v in value.items())
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def type_name(hint: Any) -> str:
    """``int``, ``float or null``, ``list[str]`` — how a type reads in an error line."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(hint))
    if typing.get_origin(hint) is not None:
        return str(hint).replace("typing.", "")
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))


def _wants_float(hint: Any) -> bool:
    return hint is float or float in typing.get_args(hint)


def _coerced(value: Any, hint: Any, sep: str | None) -> Any:
    """Ints for float settings become floats, and so do numeric strings (YAML 1.1 reads ``3e-5`` as a string);
    a string for a list setting declared with ``sep`` is split (``"en,sw"`` → ``["en", "sw"]``)."""
    if isinstance(value, str) and sep:
        return [v.strip() for v in value.split(sep) if v.strip()]
    if isinstance(value, str) and _wants_float(hint):
        try:
            return float(value)
        except ValueError:
            return value
    if isinstance(value, int) and not isinstance(value, bool) and _wants_float(hint):
        return float(value)
    return value


def bounds_of(meta: typing.Mapping[str, Any]) -> dict[str, Any]:
    """The declared bounds as ``{"gt"|"ge"|"le": value}``; ``min``/``max``/``exclusive_min`` (the spelling of
    :mod:`xalign.robust.methods`) read the same."""
    out = {k: meta[k] for k in ("gt", "ge", "le") if meta.get(k) is not None}
    if meta.get("min") is not None:
        out["gt" if meta.get("exclusive_min") else "ge"] = meta["min"]
    if meta.get("max") is not None:
        out["le"] = meta["max"]
    return out


_TESTS = {"gt": (">", lambda v, b: v > b), "ge": (">=", lambda v, b: v >= b), "le": ("<=", lambda v, b: v <= b)}


def _check_number(flag: str, value: Any, meta: typing.Mapping[str, Any]) -> None:
    bounds = bounds_of(meta)
    if not math.isfinite(value) or not all(_TESTS[k][1](value, b) for k, b in bounds.items()):
        words = " and ".join(f"{_TESTS[k][0]} {b}" for k, b in bounds.items())
        raise ConfigError(f"{flag} must be a finite number{' ' if words else ''}{words}, got {value}")


def check_settings(config: Any) -> None:
    """Check (and coerce) every field of the dataclass ``config`` against its annotation and declaration:
    its type, a finite value within its bounds for numbers, one of its choices. One :class:`ConfigError`
    line naming the flag (``--weight-decay must be >= 0, got -1.0``)."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        hint, flag = hints[f.name], flag_of(config, f.name)
        value = _coerced(getattr(config, f.name), hint, f.metadata.get("sep"))
        if not _matches(value, hint):
            raise ConfigTypeError(f"{flag} (key {f.name}) expects {type_name(hint)}, got {type(value).__name__}: "
                                  f"{value!r}"[:300])
        if value is not getattr(config, f.name):
            object.__setattr__(config, f.name, value)  # frozen settings dataclasses are coerced too
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            _check_number(flag, value, f.metadata)
        choices = choices_of(f.metadata)
        if choices and value is not None:
            for item in value if isinstance(value, list) else [value]:
                if item not in choices:
                    raise ConfigError(f"unknown {flag} {item!r}: expected one of {', '.join(map(str, choices))}")
