"""Reading run directories: kinds, optional files, memory-mapped embeddings, clear errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.report.conftest import make_compare_run, make_probe_run, make_train_run
from xalign.report.loaders import detect_kind, load_compare_run, load_embeddings, load_probe_run, load_train_run


def test_detect_kind(tmp_path):
    assert detect_kind(make_probe_run(tmp_path / "p", n=10)) == "probe"
    assert detect_kind(make_compare_run(tmp_path / "c", n=10)) == "compare"
    assert detect_kind(make_train_run(tmp_path / "t")) == "train"
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="metrics.json"):
        detect_kind(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="missing"):
        detect_kind(tmp_path / "missing")


def test_load_probe_run_reads_files_as_written(probe_run):
    run = load_probe_run(probe_run)
    metrics = json.loads((probe_run / "metrics.json").read_text(encoding="utf-8"))
    pair = run.pairs["en-sw"]  # typed, read by the one JSON reader
    raw = metrics["pairs"]["en-sw"]["layers"][2]
    assert pair.layer(2).values["retrieval.csls.en->sw.p@1"].value == raw["retrieval"]["csls"]["en->sw"]["p@1"]
    assert pair.layer(2).values["retrieval.csls.en->sw.p@1"].ci95 == tuple(raw["retrieval"]["csls"]["en->sw"]["p@1_ci95"])
    assert pair.layer(2).info["word_alignment.method"] == "itermax"
    assert {k: (b.layer, b.value) for k, b in pair.best.items() if k in metrics["pairs"]["en-sw"]["best"]} == {
        k: (b["layer"], b["value"]) for k, b in metrics["pairs"]["en-sw"]["best"].items()}
    assert run.manifest["model"]["name"] == "tiny-<b>model</b>"
    emb = run.embeddings["en-sw"]
    assert isinstance(emb.src, np.memmap)  # never loaded whole
    np.testing.assert_array_equal(np.asarray(emb.tgt), np.load(probe_run / "embeddings" / "en-sw" / "sw.npy"))
    assert emb.layers == [0, 1, 2, 3, 4]
    assert emb.src_texts[0].startswith("en: <script>")
    assert emb.n == 60


def test_optional_files_missing(probe_run):
    (probe_run / "details.json").unlink()
    (probe_run / "manifest.json").unlink()
    shutil.rmtree(probe_run / "embeddings")
    run = load_probe_run(probe_run)
    assert run.details == {} and run.embeddings == {}
    assert run.manifest["command"] == "probe"  # falls back to metrics.json's manifest


def test_embedding_layers_follow_metrics_when_a_subset_was_probed(tmp_path):
    root = make_probe_run(tmp_path / "p", n=8, n_layers=3)
    emb = load_embeddings(root, "en-sw", [4, 8, 12])
    assert emb.layers == [4, 8, 12]
    assert load_embeddings(root, "en-xx", [0]) is None


@pytest.mark.parametrize("break_it, message", [
    (lambda r: (r / "metrics.json").write_text("{oops", encoding="utf-8"), "invalid JSON"),
    (lambda r: (r / "metrics.json").write_text('{"pairs": []}', encoding="utf-8"), "'pairs' object"),
    (lambda r: (r / "metrics.json").write_text('{"pairs": {"en-sw": {"layers": [{"layer": "x"}]}}}',
                                               encoding="utf-8"), "integer 'layer'"),
    (lambda r: np.save(r / "embeddings" / "en-sw" / "sw.npy", np.zeros((5, 7, 16), np.float32)), "shape"),
    (lambda r: (r / "embeddings" / "en-sw" / "en.npy").unlink(), "en.npy"),
    (lambda r: (r / "embeddings" / "en-sw" / "texts.json").write_text('{"src_lang": "en"}', encoding="utf-8"),
     "missing"),
])
def test_malformed_inputs_raise_clear_errors(probe_run, break_it, message):
    break_it(probe_run)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_probe_run(probe_run)


def test_load_compare_run(compare_run):
    run = load_compare_run(compare_run)
    assert list(run.models) == ["before", "after"]
    assert run.models["after"].manifest["model"]["name"] == "model-after"
    assert run.comparison.pairs["en-sw"].layers[0].layer == 0
    assert run.labels == ["before", "after"]


def test_an_align_run_is_refused_in_one_clear_line(tmp_path):
    """Issue 23 D: `report` on an align run said "expected a 'pairs' object, found NoneType"."""
    from xalign.errors import DataError

    root = tmp_path / "aligned"
    root.mkdir()
    (root / "alignments.txt").write_text("0-0\n", encoding="utf-8")
    (root / "metrics.json").write_text(json.dumps({"manifest": {"command": "align"}, "layer": 8, "aer": 0.3,
                                                   "n_pairs": 1}), encoding="utf-8")
    with pytest.raises(DataError, match=r"is an `xalign align` run; `xalign report` draws probe, compare and train") as e:
        load_probe_run(root)
    assert "\n" not in str(e.value) and "NoneType" not in str(e.value)


def test_compare_run_dir_outside_is_rejected(compare_run):
    doc = json.loads((compare_run / "compare.json").read_text(encoding="utf-8"))
    doc["models"][1]["run_dir"] = "../elsewhere"
    (compare_run / "compare.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ValueError, match="outside"):
        load_compare_run(compare_run)


def test_load_train_run(tmp_path):
    run = load_train_run(make_train_run(tmp_path / "t", with_probe=True))
    assert run.train["method"] == "rsa"
    assert run.manifest["command"] == "train"
    assert run.probe is not None and "en-sw" in run.probe.pairs
