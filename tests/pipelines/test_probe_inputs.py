"""Issue 13 cases of probe/compare inputs: each refused with one clear error before any model loads."""

from __future__ import annotations

from importlib import resources
from types import SimpleNamespace

import numpy as np
import pytest

from xalign.errors import ConfigError, DataError, MissingFileError, OutputError
from xalign.pipelines.probe import ProbeConfig, probe
from xalign.pipelines.probe.inputs import load_probe_inputs
from xalign.pipelines.probe.builtin import bli_for_layers, usable_ks

DEMO = resources.files("xalign.data.demo")
GOLD = dict(gold=str(DEMO / "simalign_sample.eng-deu.gold.txt"), gold_src_file=str(DEMO / "simalign_sample.eng.txt"),
            gold_tgt_file=str(DEMO / "simalign_sample.deu.txt"))


@pytest.fixture
def no_model(monkeypatch):
    """Any attempt to load a model fails the test: validation must come first."""
    def boom(*a, **k):
        raise AssertionError("the model was loaded before the inputs were validated")

    monkeypatch.setattr("xalign.encoders.load_encoder", boom)


def test_gold_of_another_pair_is_an_error(no_model):  # item 7
    with pytest.raises(DataError, match="en-de but would be scored as en-sw"):
        load_probe_inputs(ProbeConfig(pairs=["en-sw"], limit=5, **GOLD))


def test_gold_attaches_to_its_own_pair_only(no_model):  # item 7
    inputs = load_probe_inputs(ProbeConfig(pairs=["en-de", "en-sw"], limit=5, gold_pair="en-de", **GOLD))
    by_pair = {p.pair: p.gold for p in inputs.pairs}
    assert by_pair["en-sw"] is None and len(by_pair["en-de"]) == 5
    with pytest.raises(ConfigError, match="--gold-pair"):
        load_probe_inputs(ProbeConfig(pairs=["en-de", "en-sw"], limit=5, **GOLD))


@pytest.mark.parametrize("lines, match", [(["", "  ", "\t"], "no sentence pairs left"), (["one"], "only 1 sentence")])
def test_empty_or_single_sentence_corpus(tmp_path, no_model, lines, match):  # items 9, 12
    src, tgt = tmp_path / "a.en", tmp_path / "a.sw"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tgt.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=match):
        probe(ProbeConfig(model="/nonexistent", src_file=str(src), tgt_file=str(tgt), pairs=["en-sw"]))


def test_duplicate_pairs_and_layers_are_refused(no_model):  # item 10
    with pytest.raises(ConfigError, match="'en-swh' repeats 'en-sw'"):
        load_probe_inputs(ProbeConfig(pairs=["en-sw", "en-swh"]))
    with pytest.raises(ConfigError, match="layer 8 is given twice"):
        ProbeConfig(layers="8,8")


def test_k_at_least_n_is_not_reported():  # item 11
    assert usable_ks(2) == ((1,), "P@5, P@10 not reported: with n = 2 candidates, k ≥ n makes them trivially 1.0")
    assert usable_ks(6)[0] == (1, 5) and usable_ks(11) == ((1, 5, 10), None)


def test_bli_with_a_small_dictionary_scores_p1_only():  # item 13: "expected cut-offs in [1, 3], got (1, 5)"
    rng = np.random.default_rng(0)
    tv = rng.standard_normal((1, 3, 8))
    words = SimpleNamespace(words=["a", "b", "c"], vectors=tv + 0.01 * rng.standard_normal((1, 3, 8)), layers=[0])
    target = SimpleNamespace(words=["x", "y", "z"], vectors=tv, layers=[0])
    per_layer, _, note = bli_for_layers(words, target, (words.vectors[0], tv[0]), [("a", "x"), ("b", "y"), ("c", "z")],
                                        device=None)
    assert per_layer[0]["bli.cosine.p@1"].value == 1.0  # near-copies: every word finds its translation
    assert "bli.cosine.p@5" not in per_layer[0] and "only 3 target words" in note


@pytest.mark.parametrize("kw, error, match", [
    (dict(batch_size=0), ConfigError, "batch_size"),
    (dict(layers="1,x"), ConfigError, "--layers"),
    (dict(n_boot=-1), ConfigError, "n_boot"),
    (dict(gold="/nonexistent/gold.txt"), MissingFileError, "/nonexistent/gold.txt"),
    (dict(dictionary="/nonexistent/dict.tsv"), MissingFileError, "/nonexistent/dict.tsv"),
])
def test_validation_before_the_model_loads(no_model, kw, error, match):  # item 14
    with pytest.raises(error, match=match):
        probe(ProbeConfig(model="/nonexistent/model", pairs=["en-sw"], limit=5, **kw))


def test_output_is_checked_before_the_model_loads(no_model, tmp_path, monkeypatch):  # item 14: --out .
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match="current folder"):
        probe(ProbeConfig(model="/nonexistent/model", limit=5), out_dir=".")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="it is a file; name a folder"):
        probe(ProbeConfig(model="/nonexistent/model", limit=5), out_dir=tmp_path / "file")


def test_stale_temporaries_of_a_killed_run_are_cleaned(tmp_path):  # item 15
    from xalign.io import claim_output_dir

    target = tmp_path / "run"
    killed = tmp_path / ".run.k1ll3d.tmp"  # what a probe killed mid-write leaves beside its --out
    (killed / "run").mkdir(parents=True)
    (killed / "run" / "metrics.json").write_text("{}")
    users = tmp_path / ".run.notes"  # not a temporary of ours
    users.mkdir()
    with claim_output_dir(target, "probe", overwrite=True) as work:
        (work / "manifest.json").write_text('{"command": "probe"}')
    assert not killed.exists() and users.exists() and (target / "manifest.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.notes", "run"]  # no lock file left
