"""Reading settings: a YAML/JSON config file, and a dataclass built from a mapping of settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from xalign.errors import ConfigError, MissingFileError


def normalised_keys(data: dict[Any, Any]) -> dict[str, Any]:
    """``-`` in keys becomes ``_`` (``weight-decay`` and ``weight_decay`` are the same setting)."""
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def from_mapping(cls: type, data: Any, *, source: str = "config", aliases: dict[str, str] | None = None,
                 **init: Any) -> Any:
    """``cls(**data, **init)`` after normalising keys; ``aliases`` maps flag names to fields (``lr`` →
    ``learning_rate``); ``init`` are further constructor arguments (init-only values).
    Unknown keys raise one :class:`ConfigError` naming them, where they came from, and the valid keys."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, found {type(data).__name__}")
    data = normalised_keys(data)
    for alias, name in (aliases or {}).items():
        if alias in data and name not in data:
            data[name] = data.pop(alias)
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(valid)}")
    return cls(**data, **init)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Settings from a YAML (``.yaml``/``.yml``) or JSON file as a dict (``-`` in keys becomes ``_``)."""
    from xalign.io import read_json

    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"expected a YAML or JSON config file at {p}, found none")
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{p}{line}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    else:
        data = read_json(p)
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of settings, found {type(data).__name__}")
    return normalised_keys(data)
