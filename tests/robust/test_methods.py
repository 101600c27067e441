"""The robust-method registry: a method declared in one module (here: this test file) trains through the whole
pipeline with no other edit; the built-in settings carry their metadata and bounds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest

from xalign.errors import ConfigError
from xalign.pipelines.train import TrainConfig, train
from xalign.robust.config import RobustConfig
from xalign.robust.methods import (RobustMethod, check_settings, get_method, method_names, register, setting,
                                   settings_fields, unregister)

from ..pipelines.test_train import _config, pair_files  # noqa: F401 - fixture
from .conftest import _one_thread  # noqa: F401 - autouse fixture: one torch thread


@dataclass(frozen=True)
class ShiftSettings:
    shift_by: float = setting(5.0, "constant added to the cross-entropy", min=0.0, max=100.0)


class Shifted(RobustMethod):
    """A toy method: CE + a constant. The gradient is the baseline's, so the run takes the baseline's steps and
    every logged loss is the baseline's plus the constant — proof that this loss, and only it, was used."""

    name = "toy-shift"
    summary = "cross-entropy plus a constant (test only)"
    settings_type = ShiftSettings
    calls = 0

    def loss(self, trainer, model, inputs, labels):
        Shifted.calls += 1
        outputs = model(**inputs)
        return trainer.ce(outputs.logits, labels) + self.settings.shift_by, outputs


@pytest.fixture
def toy_method():
    register(Shifted)
    Shifted.calls = 0
    yield Shifted
    unregister(Shifted.name)


def test_a_method_registered_from_a_test_file_trains_through_the_pipeline(tmp_path, tiny_bert_dir, pair_files,
                                                                          toy_method):
    assert "toy-shift" in method_names()
    common = dict(max_steps=4, eval_steps=2, grad_accum=1)
    base = train(_config(tmp_path / "b", tiny_bert_dir, pair_files, method="baseline", **common))
    toy = train(_config(tmp_path / "t", tiny_bert_dir, pair_files, method="toy-shift", **common))
    assert Shifted.calls == 4  # one training micro-batch per step, no evaluation pass through the method
    base_losses = np.array([h["loss"] for h in base.metrics.history])
    toy_losses = np.array([h["loss"] for h in toy.metrics.history])
    assert len(base_losses) == 4
    np.testing.assert_allclose(toy_losses, base_losses + 5.0, atol=1e-4)
    assert toy.metrics.method == "toy-shift"
    assert toy.metrics.to_json()["eval"]["accuracy"] == base.metrics.to_json()["eval"]["accuracy"]  # same weights, plain-CE evaluation


def test_registry_refuses_unknown_and_duplicate_names(toy_method):
    with pytest.raises(ConfigError, match="unknown method 'nope': expected one of baseline, adv, rs-rp, rs-da"):
        get_method("nope")
    with pytest.raises(ConfigError, match="unknown --method 'nope': expected one of baseline, adv, rs-rp, rs-da, toy-shift"):
        RobustConfig(method="nope")

    class Other(RobustMethod):
        name = "toy-shift"

    with pytest.raises(ConfigError, match="already registered"):
        register(Other)
    register(Shifted)  # registering the same class again is harmless
    with pytest.raises(ConfigError, match="settings_type must be a dataclass"):
        register(type("Bad", (RobustMethod,), {"name": "bad", "settings_type": int}))


def test_settings_are_read_by_name_and_checked_against_their_bounds(toy_method):
    assert Shifted.from_config({"shift_by": 2.5, "adv_eps": 9.0}).settings == ShiftSettings(2.5)
    assert Shifted.from_config(object()).settings == ShiftSettings()  # nothing given: defaults
    with pytest.raises(ConfigError, match=r"--shift-by must be a finite number >= 0.0 and <= 100.0, got 101.0"):
        Shifted(ShiftSettings(shift_by=101.0))
    with pytest.raises(ConfigError, match="must be a finite number"):
        Shifted(ShiftSettings(shift_by=float("nan")))
    with pytest.raises(ConfigError, match="expects settings of type ShiftSettings"):
        Shifted(settings=3)


def test_builtin_methods_declare_every_setting_with_help_and_the_train_config_defaults():
    assert method_names()[:4] == ("baseline", "adv", "rs-rp", "rs-da")
    fields = settings_fields()
    defaults = TrainConfig()
    builtin = {"baseline", "adv", "rs-rp", "rs-da"}
    for name, (f, owners) in fields.items():
        if not builtin & set(owners):
            continue  # a method another test registered
        assert f.metadata["help"], name
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        assert getattr(defaults, name) == default, name  # one default, the same in TrainConfig
        assert owners
    assert fields["adv_objective"][0].metadata["choices"] == ("mixed", "adv-only", "freelb")
    assert fields["rsda_paired"][1] == ("rs-da",)
    adv = get_method("adv")
    assert adv.settings_type.__name__ == "AdvSettings"
    with pytest.raises(ConfigError, match="unknown --adv-norm 'l1'"):
        adv.settings_type(adv_norm="l1")
    settings = adv.settings_type()
    object.__setattr__(settings, "adv_eps", -1.0)
    with pytest.raises(ConfigError, match="--adv-eps must be a finite number >= 0.0, got -1.0"):
        check_settings(settings)
    with pytest.raises(ConfigError, match="--rs-noise"):
        get_method("rs-rp").from_config({"rs_noise": "laplace"})
    with pytest.raises(ConfigError, match="freelb' needs adv_steps >= 1"):
        adv.from_config({"adv_objective": "freelb", "adv_steps": 0})
    assert adv.from_config({"adv_objective": "freelb"}).settings.adv_random_start is True


def test_rsda_names_the_flag_it_needs():
    method = get_method("rs-da").from_config({"rsda_sources": ["synonyms"]})
    with pytest.raises(ConfigError, match="--synonyms FILE"):
        method.settings.check_inputs()


def test_a_module_dropped_into_the_methods_folder_registers_itself(tmp_path, monkeypatch):
    import sys

    import xalign.robust.methods as pkg
    from xalign.robust.methods import import_package_modules

    (tmp_path / "dropped_in.py").write_text(
        "from xalign.robust.methods.base import RobustMethod, register\n\n"
        "@register\nclass DroppedIn(RobustMethod):\n    name = 'dropped-in'\n", encoding="utf-8")
    monkeypatch.setattr(pkg, "__path__", [*pkg.__path__, str(tmp_path)])
    try:
        import_package_modules(pkg.__name__, pkg.__path__)
        assert get_method("dropped-in").__name__ == "DroppedIn"
    finally:
        unregister("dropped-in")
        sys.modules.pop("xalign.robust.methods.dropped_in", None)


class FromEntryPoint(Shifted):
    name = "toy-entry-point"


def test_an_installed_package_registers_through_its_entry_point(monkeypatch):
    import importlib.metadata

    ep = importlib.metadata.EntryPoint(name="toy-entry-point", value=f"{__name__}:FromEntryPoint",
                                       group="xalign.methods")
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [ep] if group == "xalign.methods" else [])
    try:
        assert "toy-entry-point" not in method_names()
        assert get_method("toy-entry-point") is FromEntryPoint
        assert RobustConfig(method="toy-entry-point").method == "toy-entry-point"
    finally:
        unregister("toy-entry-point")
    with pytest.raises(ConfigError, match="unknown method 'not-installed'"):
        get_method("not-installed")
