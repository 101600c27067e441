"""One declaration of settings: ``setting()`` fields are checked generically and turned into flags."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from xalign.cli.flags import add_setting_flags, settings_from_args
from xalign.errors import ConfigError, MissingFileError
from xalign.settings import (ConfigTypeError, check_settings, flag_of, from_mapping, read_config_file, setting,
                             setting_from)


@dataclass
class Toy:
    rate: float = setting(0.5, "a rate", flag="r", gt=0, le=1)
    steps: int = setting(3, "steps", ge=0)
    kind: str = setting("a", "a kind", choices=("a", "b"))
    langs: list[str] = setting(lambda: ["en"], "languages", sep=",", choices=("en", "sw"))
    files: dict[str, str] = setting(dict, "files", flag="file", repeat=True, metavar="LANG=FILE")
    on: bool = setting(False, "switch")
    hidden: str = setting("x", "set by the program", cli=False)

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass
class Method:  # a method module declares its settings once …
    sigma: float = setting(0.25, "noise scale", ge=0)


@dataclass
class Run:  # … and a run's config takes them over
    sigma: float = setting_from(Method, "sigma")


@pytest.mark.parametrize("kwargs,message", [
    ({"rate": float("nan")}, "--r must be a finite number > 0 and <= 1, got nan"),
    ({"rate": float("inf")}, "--r must be a finite number > 0 and <= 1, got inf"),
    ({"rate": 0.0}, "--r must be a finite number > 0 and <= 1, got 0.0"),
    ({"rate": 1.5}, "--r must be a finite number > 0 and <= 1, got 1.5"),
    ({"steps": -1}, "--steps must be a finite number >= 0, got -1"),
    ({"kind": "c"}, "unknown --kind 'c': expected one of a, b"),
    ({"langs": "en,xx"}, "unknown --langs 'xx': expected one of en, sw"),
])
def test_bounds_finiteness_and_choices_are_checked_from_the_declaration(kwargs, message):
    with pytest.raises(ConfigError) as info:
        Toy(**kwargs)
    assert str(info.value) == message


def test_types_are_checked_and_coerced():
    toy = Toy(rate=1, langs="en, sw", steps=2)
    assert toy.rate == 1.0 and isinstance(toy.rate, float) and toy.langs == ["en", "sw"]
    assert Toy(rate="5e-1").rate == 0.5  # YAML 1.1 reads 5e-1 as a string
    with pytest.raises(ConfigTypeError, match=r"--steps \(key steps\) expects int, got str: '2'"):
        Toy(steps="2")
    with pytest.raises(ConfigTypeError, match=r"--on \(key on\) expects bool, got int"):
        Toy(on=1)


def test_bounds_spelt_min_max_read_the_same():
    @dataclass
    class Spelt:
        p: float = setting(0.5, "a probability", min=0.0, exclusive_min=True, max=1.0)

    with pytest.raises(ConfigError, match=r"^--p must be a finite number > 0.0 and <= 1.0, got 0.0$"):
        check_settings(Spelt(p=0.0))
    check_settings(Spelt(p=1.0))


def test_choices_from_a_registry_are_read_when_checked():
    registry = ["base"]

    @dataclass
    class Chosen:
        method: str = setting("base", "a registered method", choices=lambda: registry)

    with pytest.raises(ConfigError, match="^unknown --method 'toy': expected one of base$"):
        check_settings(Chosen(method="toy"))
    registry.append("toy")  # a method registered later is a valid choice, in the checks and the flags
    check_settings(Chosen(method="toy"))
    parser = argparse.ArgumentParser()
    add_setting_flags(parser, Chosen)
    assert "--method {base,toy}" in parser.format_help()


def test_setting_from_takes_over_default_and_declaration():
    assert Run().sigma == 0.25
    with pytest.raises(ConfigError, match="--sigma must be a finite number >= 0, got inf"):
        check_settings(Run(sigma=float("inf")))
    assert flag_of(Toy, "rate") == "--r" and flag_of(Toy(), "files") == "--file"


def test_flags_come_from_the_fields():
    parser = argparse.ArgumentParser()
    add_setting_flags(parser, Toy)
    assert "--hidden" not in parser.format_help()
    # unset flags stay out: the declared default is the only default
    assert settings_from_args(parser.parse_args([]), Toy) == {}
    args = parser.parse_args(["--r", "0.25", "--steps", "4", "--langs", "en,sw", "--file", "sw=a.tsv",
                              "--file", "en=b.tsv", "--on"])
    assert settings_from_args(args, Toy) == {"rate": 0.25, "steps": 4, "langs": ["en", "sw"],
                                             "files": {"sw": "a.tsv", "en": "b.tsv"}, "on": True}
    assert settings_from_args(parser.parse_args(["--no-on"]), Toy) == {"on": False}
    text = " ".join(parser.format_help().split())
    assert "a rate (default: 0.5)" in text and "--kind {a,b}" in text and "files (repeatable)" in text
    assert "switch (default: off)" in text


def test_from_mapping_and_config_files(tmp_path):
    assert from_mapping(Toy, {"rate": 0.75, "steps": 1}).rate == 0.75
    with pytest.raises(ConfigError, match=r"here: unknown key\(s\) sped; valid keys: rate, steps"):
        from_mapping(Toy, {"sped": 1}, source="here")
    assert from_mapping(Toy, {"r": 0.5}, aliases={"r": "rate"}).rate == 0.5
    f = tmp_path / "c.yaml"
    f.write_text("rate: 0.3\nkind-x: 1\n", encoding="utf-8")
    assert read_config_file(f) == {"rate": 0.3, "kind_x": 1}
    f.write_text("rate: [0.3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c.yaml:\d+: invalid YAML"):
        read_config_file(f)
    with pytest.raises(MissingFileError, match="expected a YAML or JSON config file"):
        read_config_file(tmp_path / "none.yaml")
