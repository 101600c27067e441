"""The one layer parser: ``"all"`` or comma-separated integers (negative counts from the last layer).

:func:`parse_layers` checks the syntax of a ``--layers`` value without a model (config validation);
:func:`resolve_layers` maps it onto a model's ``hidden_states`` indices ``0..L``. Both refuse a layer
given twice, including after negative indices are resolved (``-1,12`` on a 12-layer model), so every
command reads the same spelling the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xalign.errors import ConfigError

LayerSpec = "str | int | Sequence[int]"


def _values(layers: "str | int | Sequence[int]") -> "str | list[int]":
    if isinstance(layers, str):
        text = layers.strip()
        if text == "all":
            return "all"
        try:
            return [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise ConfigError(f"--layers: expected 'all' or comma-separated integers such as 0,4,8, got {layers!r}") \
                from None
    if isinstance(layers, (bool, np.bool_)):
        raise ConfigError(f"--layers: expected 'all' or integers, got {layers!r}")
    if isinstance(layers, (int, np.integer)):
        return [int(layers)]
    out = []
    for x in layers:
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
            raise ConfigError(f"--layers: expected integers, got {x!r} in {list(layers)!r}")
        out.append(int(x))
    return out


def _refuse_repeats(values: list[int], given: object, what: str = "") -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ConfigError(f"--layers: layer {repeated[0]}{what} is given twice in {given!r}; give each layer once")


def parse_layers(layers: "str | int | Sequence[int]") -> "str | list[int]":
    """``"all"`` or the list of distinct integers ``layers`` names (no model needed)."""
    values = _values(layers)
    if values == "all":
        return "all"
    if not values:
        raise ConfigError(f"--layers: selects nothing ({layers!r})")
    _refuse_repeats(values, layers)
    return values


def resolve_layers(layers: "str | int | Sequence[int]", num_layers: int) -> list[int]:
    """``hidden_states`` indices for a model with ``num_layers`` layers: ``"all"`` → ``0..L``;
    ``-1`` is the last layer; out-of-range and repeated layers are refused."""
    values = parse_layers(layers)
    total = num_layers + 1
    if values == "all":
        return list(range(total))
    out = []
    for layer in values:
        value = layer + total if layer < 0 else layer
        if not 0 <= value < total:
            raise ConfigError(f"--layers: layer {layer} is out of range: this model has hidden_states 0..{num_layers}")
        out.append(value)
    _refuse_repeats(out, layers, " (after counting negative layers from the end)")
    return out
