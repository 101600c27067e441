"""Per-class recall, partial collapse, the generalized mixed − same readout, the labels blocks, the verdict's
size and the missing study extra, on tiny synthetic records with hand-computed values."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from analysis.study import classes as cl
from analysis.study.labels import labels_block, labels_for, mismatches

LABELS = {"label_names": ["e", "n", "c"],
          "splits": {"test": {"labels": "001122", "item_ids_sha256": {"en": "h-en", "sw": "h-sw"}}},
          "generalized": {"split": "test", "languages": ["en", "sw"], "labels": "0012",
                          "item_ids_sha256": "h-gen"}}


def _rec(en: str, sw: str, gen=None, method="adv", seed=7) -> dict:
    ev = {"splits": {"test": {"correct": {"en": en, "sw": sw}, "item_ids_sha256": {"en": "h-en", "sw": "h-sw"}}}}
    if gen is not None:
        ev["generalized"] = {"languages": ["en", "sw"], "correct": gen, "item_ids_sha256": "h-gen"}
    return {"unit": {"task": "xnli", "method": method, "seed": seed}, "eval": ev}


def test_class_recall_and_partial_collapse_by_hand():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert cl.class_recall(np.array([1, 0, 0, 0, 1, 1.0]), y, 3) == [0.5, 0.0, 1.0]
    assert np.isnan(cl.class_recall(np.array([1.0]), np.array([0]), 2)[1])  # a class without items
    # pooled over en and sw: class n (items 2, 3) right in en on item 2, in sw on item 3 -> 2 of 4
    learned = _rec("111011", "110111")
    assert cl.pooled_recall(learned, LABELS) == pytest.approx([1.0, 0.5, 1.0])
    assert cl.run_state(learned, LABELS) == "learned"
    partial = _rec("110011", "100011")  # class n never right (recall 0 < 0.10), yet not one answer everywhere
    assert cl.pooled_recall(partial, LABELS)[1] == 0.0 and cl.run_state(partial, LABELS) == "partial"
    flat = _rec("110000", "110000")  # one answer everywhere: collapsed, whatever the labels say
    assert cl.run_state(flat, LABELS) == "collapsed"
    assert cl.run_state(learned, None) == "unknown"


def test_generalized_mixed_minus_same_and_per_class_by_hand():
    # cells [en-en, en-sw; sw-en, sw-sw]: same = mean of the diagonal, mixed = mean of the off-diagonal
    gen = [["1111", "1000"], ["1100", "1110"]]
    rec = _rec("1111", "1110", gen)
    mixed, same = cl.generalized_cells(rec)
    assert mixed.tolist() == [1.0, 0.5, 0.0, 0.0] and same.tolist() == [1.0, 1.0, 1.0, 0.5]
    assert cl.mixed_minus_same(rec).tolist() == [0.0, -0.5, -1.0, -0.5]
    rows = {r["class"]: r for r in cl.generalized_by_class(rec, LABELS)}  # gold 0, 0, 1, 2
    assert (rows["e"]["mixed"], rows["e"]["same"], rows["e"]["diff"]) == (0.75, 1.0, -0.25)
    assert (rows["n"]["diff"], rows["c"]["diff"], rows["c"]["n"]) == (-1.0, -0.5, 1)
    results = {("xnli", "adv", 7): rec, ("xnli", "adv", 8): _rec("1111", "1110", [["1111"] * 2] * 2, seed=8)}
    (row,) = cl.generalized_readout(results, "xnli", LABELS)
    assert row["mixed"] == pytest.approx((0.375 + 1.0) / 2) and row["diff"] == pytest.approx((-0.5 + 0.0) / 2)
    assert {c["class"]: c["diff"] for c in row["by_class"]} == pytest.approx({"e": -0.125, "n": -0.5, "c": -0.25})


def test_a_labels_file_is_used_only_for_units_whose_items_it_describes():
    rec = _rec("1", "1", [["1", "1"], ["1", "1"]])
    assert mismatches(LABELS, rec) == [] and labels_for(rec, {"xnli": LABELS}) is LABELS
    rec["eval"]["splits"]["test"]["item_ids_sha256"]["sw"] = "other"
    rec["eval"]["generalized"]["item_ids_sha256"] = "other"
    assert mismatches(LABELS, rec) == ["test:sw", "generalized"] and labels_for(rec, {"xnli": LABELS}) is None
    rec["labels"] = {"own": True}
    assert labels_for(rec, {"xnli": LABELS}) == {"own": True}  # a unit's own block comes first


def test_labels_block_from_item_aligned_datasets():
    datasets = pytest.importorskip("datasets")
    from xalign.data.tasks.splits import GeneralizedSet, ids_sha256

    feat = datasets.Features({"item_id": datasets.Value("string"),
                              "label": datasets.ClassLabel(names=["no", "yes"])})

    def ds(labels):
        return datasets.Dataset.from_dict({"item_id": [f"i{k}" for k in range(len(labels))], "label": labels},
                                          features=feat)

    class Splits:
        eval_sets = {"test": {"en": ds([0, 1, 1]), "de": ds([0, 1, 1])}}
        generalized = GeneralizedSet("test", ["en", "de"], {"en": ds([0, 1]), "de": ds([0, 1])})

    block = labels_block(Splits)
    assert block["label_names"] == ["no", "yes"] and block["splits"]["test"]["labels"] == "011"
    assert block["splits"]["test"]["item_ids_sha256"]["de"] == ids_sha256(Splits.eval_sets["test"]["de"])
    assert block["generalized"]["labels"] == "01"
    Splits.eval_sets = {"test": {"en": ds([0, 1, 1]), "de": ds([1, 1, 1])}}
    with pytest.raises(ValueError, match="labels differ"):
        labels_block(Splits)


def test_rewrite_without_the_study_extra_stops_with_one_line_and_writes_nothing(tmp_path, monkeypatch, caplog):
    from analysis.study.run import main

    monkeypatch.setitem(sys.modules, "lang2vec", None)  # as if lang2vec were not installed
    md, html = tmp_path / "RESULTS.md", tmp_path / "r.html"
    rc = main(["--rewrite-results", "--results-dir", str(tmp_path / "results"), "--results", str(md),
               "--html", str(html)])
    assert rc == 2 and not md.exists() and not html.exists()
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0] and "lang2vec" in errors[0] and "xalign[study]" in errors[0]
    from analysis.study.typology import require_lang2vec
    from xalign.errors import DependencyError

    with pytest.raises(DependencyError):
        require_lang2vec()
