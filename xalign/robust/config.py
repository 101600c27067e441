"""Configuration of the robust methods, and helpers to validate and read config files.

:class:`RobustConfig` holds the hyper-parameters of one method (saved with every run).
:func:`check_field_types` validates a dataclass against its annotations and :func:`read_config_file`
reads YAML/JSON settings — both used by :class:`xalign.pipelines.train.TrainConfig`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from xalign.errors import ConfigError, MissingFileError
from xalign.robust.perturb import NORMS, SCOPES
from xalign.robust.smoothing import NoiseSpec


class ConfigTypeError(ConfigError, TypeError):
    """A config key holds a value of the wrong type: a :class:`ConfigError` that is also a ``TypeError``."""


METHODS = ("baseline", "adv", "rs-rp", "rs-da")
# mixed: CE(x) + w·CE(x + δ_K); adv-only: CE(x + δ_K) (Madry et al. 2018);
# freelb: mean_k CE(x + δ_k), k = 0 … K-1, from a random δ_0 (Zhu et al. 2020)
ADV_OBJECTIVES = ("mixed", "adv-only", "freelb")


@dataclass
class RobustConfig:
    """Hyper-parameters of the robust training method (saved with every run).

    ``adv_objective`` (method ``adv`` only) chooses what the update minimises, see
    :mod:`xalign.robust.trainer`: ``"mixed"`` (default, the objective xalign always had), ``"adv-only"``
    or ``"freelb"``. FreeLB always starts from a random point in the ball (its algorithm), so
    ``adv_random_start`` is set to True for it, and ``adv_weight`` applies to ``"mixed"`` only."""

    method: str = "baseline"
    seed: int = 7
    adv_objective: str = "mixed"
    adv_steps: int = 1
    adv_eps: float = 0.1
    adv_alpha: float = 0.1
    adv_norm: str = "l2"
    adv_scope: str = "token"
    adv_random_start: bool = False
    adv_weight: float = 1.0
    noise: NoiseSpec = field(default_factory=NoiseSpec)

    def __post_init__(self) -> None:
        from xalign.robust.methods import get_method

        get_method(self.method)  # ConfigError naming the registered methods
        if self.adv_objective not in ADV_OBJECTIVES:
            raise ConfigError(f"unknown adv_objective {self.adv_objective!r}: expected one of "
                              f"{', '.join(ADV_OBJECTIVES)}")
        if self.adv_objective != "mixed" and self.method != "adv":
            raise ConfigError(f"adv_objective {self.adv_objective!r} applies to method 'adv' only, got method "
                              f"{self.method!r}")
        if self.adv_norm not in NORMS:
            raise ConfigError(f"adv_norm must be one of {NORMS}, got {self.adv_norm!r}")
        if self.adv_scope not in SCOPES:
            raise ConfigError(f"adv_scope must be one of {SCOPES}, got {self.adv_scope!r}")
        for name in ("adv_steps", "adv_eps", "adv_alpha", "adv_weight"):
            value = getattr(self, name)
            if not value >= 0 or value == float("inf"):  # also refuses NaN
                raise ConfigError(f"{name} must be a finite number >= 0, got {value}")
        if self.adv_objective == "freelb":
            if self.adv_steps < 1:
                raise ConfigError(f"adv_objective 'freelb' needs adv_steps >= 1 (its K ascent steps), got "
                                  f"{self.adv_steps}")
            self.adv_random_start = True
        if isinstance(self.noise, dict):
            self.noise = NoiseSpec(**self.noise)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _matches(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return value is None
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


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if typing.get_origin(hint) is not None:
        return str(hint).replace("typing.", "")
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))


def _wants_float(hint: Any) -> bool:
    return hint is float or float in typing.get_args(hint)


def check_field_types(config: Any) -> None:
    """Check every dataclass field of ``config`` against its annotation (``TypeError`` naming the key).

    Ints given for float fields become floats, and so do numeric strings (YAML 1.1 reads ``3e-5``
    without a dot as a string)."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value, hint = getattr(config, f.name), hints[f.name]
        if isinstance(value, str) and _wants_float(hint):
            try:
                value = float(value)
            except ValueError:
                pass
        if not _matches(value, hint):
            raise ConfigTypeError(f"config key {f.name!r} expects {_type_name(hint)}, got {type(value).__name__}: "
                            f"{value!r}"[:300])
        if isinstance(value, (int, float)) and not isinstance(value, bool) and _wants_float(hint):
            value = float(value)
        setattr(config, f.name, value)


def dataclass_from_dict(cls: type, data: Any, *, source: str = "config") -> Any:
    """``cls(**data)`` after normalising ``-`` to ``_`` in keys; unknown keys raise one ``ValueError``
    naming them and the valid keys."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, found {type(data).__name__}")
    data = {str(k).replace("-", "_"): v for k, v in data.items()}
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(valid)}")
    return cls(**data)


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
    return {str(k).replace("-", "_"): v for k, v in data.items()}
