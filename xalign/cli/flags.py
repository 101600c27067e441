"""Flags generated from settings declared with :func:`xalign.settings.setting` (see :mod:`xalign.settings`).

:func:`add_setting_flags` adds one flag per field of a settings dataclass — name, help, choices and
default shown from the field's declaration — and :func:`settings_from_args` turns the parsed flags back
into settings. Flags the user does not give stay out of the namespace (``argparse.SUPPRESS``), so a
``--config`` file and then the declared defaults decide them: each default is written once, in the field.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

from xalign.settings.declare import choices_of, default_of


def _base_type(tp: Any) -> Any:
    """``X`` of ``X | None`` (the first non-None member), else ``tp``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return _base_type([a for a in typing.get_args(tp) if a is not type(None)][0])
    return tp


def _key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def _split(sep: str):
    def parse(text: str) -> list[str]:
        return [x.strip() for x in text.split(sep) if x.strip()]
    return parse


def _help(f: dataclasses.Field, repeatable: bool) -> str:
    text = f.metadata.get("help", "") + (" (repeatable)" if repeatable else "")
    default = default_of(f)
    if "default" in text:  # the help says it in its own words
        return text
    if isinstance(default, bool):
        return f"{text} (default: {'on' if default else 'off'})"
    if default is None or default is dataclasses.MISSING or default == [] or default == {}:
        return text
    shown = ",".join(map(str, default)) if isinstance(default, list) else default
    return f"{text} (default: {shown})"


def flag_kwargs(f: dataclasses.Field, tp: Any, flag: str) -> dict[str, Any]:
    """``add_argument`` keyword arguments for field ``f`` of (base) type ``tp`` and flag ``--flag``."""
    meta, choices = f.metadata, choices_of(f.metadata)
    repeatable = typing.get_origin(tp) is dict or (typing.get_origin(tp) is list and not meta.get("sep"))
    kw = {"dest": f.name, "help": _help(f, repeatable)}
    if tp is bool:
        return {**kw, "action": argparse.BooleanOptionalAction}
    if typing.get_origin(tp) is dict:
        return {**kw, "type": _key_value, "action": "append", "metavar": meta.get("metavar", "KEY=VALUE")}
    if typing.get_origin(tp) is list:
        if meta.get("sep"):
            metavar = meta.get("metavar") or ("{" + ",".join(choices) + "}[,...]" if choices else None)
            return {**kw, "type": _split(meta["sep"]), "metavar": metavar}
        return {**kw, "action": "append", "metavar": meta.get("metavar") or flag[2:].upper()}
    kind = {int: int, float: float}.get(tp, str)
    return {**kw, "type": kind, "metavar": meta.get("metavar") or ("{" + ",".join(choices) + "}" if choices else None)}


def add_setting_flags(parser: Any, cls: type, names: list[str] | None = None, *, title: str | None = None,
                      flags: dict[str, str] | None = None) -> None:
    """One flag per setting of dataclass ``cls`` (``names``: those only, in that order; default: every field
    declared for the command line; ``flags``: flag names of this command that differ from the declared ones,
    e.g. ``{"pairs": "pair"}``). Unset flags stay out of the parsed namespace."""
    group = parser.add_argument_group(title) if title else parser
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in names if names is not None else [n for n, f in fields.items() if f.metadata.get("cli", True)]:
        f = fields[name]
        flag = "--" + ((flags or {}).get(name) or f.metadata.get("flag") or name).replace("_", "-")
        group.add_argument(flag, default=argparse.SUPPRESS, **flag_kwargs(f, _base_type(hints[name]), flag))


def settings_from_args(args: argparse.Namespace, cls: type, names: list[str] | None = None) -> dict[str, Any]:
    """The settings of ``cls`` (``names``: those only) given on the command line (repeated ``KEY=VALUE``
    flags become a mapping)."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not hasattr(args, f.name) or (names is not None and f.name not in names):
            continue
        value = getattr(args, f.name)
        if typing.get_origin(_base_type(hints[f.name])) is dict and isinstance(value, list):
            value = dict(value)
        out[f.name] = value
    return out
