"""The one layer parser: probe's config check, embed and align read a --layers value the same way."""

import pytest

from xalign.embed.extract import resolve_layers as from_extract
from xalign.embed.layers import parse_layers, resolve_layers
from xalign.errors import ConfigError
from xalign.pipelines.probe.config import parse_layers as from_probe


def test_one_parser_everywhere():
    assert from_extract is resolve_layers
    assert from_probe is parse_layers


@pytest.mark.parametrize("spec, expected", [
    ("all", [0, 1, 2, 3, 4]), (" all ", [0, 1, 2, 3, 4]), ("0,2", [0, 2]), ("-1", [4]), ("-1,0", [4, 0]),
    ([1, -2], [1, 3]), (3, [3]), ("4, 1", [4, 1]),
])
def test_resolve_against_hand_values(spec, expected):
    # a 4-layer model has hidden_states 0..4 (embeddings + 4 layers)
    assert resolve_layers(spec, 4) == expected


@pytest.mark.parametrize("spec, message", [
    ("8,8", "layer 8 is given twice"),
    ([1, 1], "layer 1 is given twice"),
    ("1,x", "comma-separated integers"),
    ("", "selects nothing"),
    ([True], "expected integers"),
])
def test_parse_refusals(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_layers(spec)


def test_repeat_after_negative_resolution_and_range():
    # -1 and 4 name the same layer of a 4-layer model: refused like a literal repeat
    with pytest.raises(ConfigError, match="given twice"):
        resolve_layers("-1,4", 4)
    with pytest.raises(ConfigError, match=r"out of range: this model has hidden_states 0..4"):
        resolve_layers([5], 4)
    with pytest.raises(ConfigError, match="out of range"):
        resolve_layers([-6], 4)
