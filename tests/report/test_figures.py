"""Probe figure builders: every drawn number equals the one in metrics.json / details.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xalign.report.figures import (cka_layer_heatmaps, language_cka_heatmap, layer_curves, similarity_distributions,
                                   word_alignment_example)
from xalign.results.json_io import probe_from_json


def typed(block, name="en-sw"):
    """A pair block of metrics.json as the typed result the figures take (read by the one JSON reader)."""
    return probe_from_json({"pairs": {name: block}}).pairs[name]


def _traces(fig, key, role=None):
    return [t for t in fig.data if (t.meta or {}).get("key") == key and (role is None or t.meta.get("role") == role)]


@pytest.fixture
def metrics(probe_run):
    return json.loads((probe_run / "metrics.json").read_text(encoding="utf-8"))


@pytest.fixture
def details(probe_run):
    return json.loads((probe_run / "details.json").read_text(encoding="utf-8"))


def test_layer_curve_values_and_ci_band_equal_metrics_json(metrics):
    block = metrics["pairs"]["en-sw"]
    fig = layer_curves(typed(block), title="en-sw")
    for rule in ("cosine", "csls", "margin", "cosine_centered"):
        for direction in ("en->sw", "sw->en"):
            key = f"retrieval.{rule}.{direction}.p@1"
            expected = [e["retrieval"][rule][direction]["p@1"] for e in block["layers"]]
            (line,) = _traces(fig, key, "value")
            assert list(line.x) == [0, 1, 2, 3, 4]
            assert list(line.y) == expected
            (band,) = _traces(fig, key, "ci95")
            lo = [e["retrieval"][rule][direction]["p@1_ci95"][0] for e in block["layers"]]
            hi = [e["retrieval"][rule][direction]["p@1_ci95"][1] for e in block["layers"]]
            # upper edge left to right, then lower edge right to left: a closed polygon
            assert list(band.x) == [0, 1, 2, 3, 4, 4, 3, 2, 1, 0]
            assert list(band.y) == hi + lo[::-1]
            assert band.fill == "toself"
            assert line.visible == (True if rule in ("cosine", "csls") else "legendonly")
    (cka,) = _traces(fig, "cka.linear", "value")
    assert list(cka.y) == [e["cka"]["linear"] for e in block["layers"]]
    assert cka.yaxis == "y2"  # second panel
    (aer_band,) = _traces(fig, "word_alignment.aer", "ci95")
    assert list(aer_band.y)[:5] == [e["word_alignment"]["aer_ci95"][1] for e in block["layers"]]


def test_best_layers_are_starred_where_metrics_json_says(metrics):
    block = metrics["pairs"]["en-sw"]
    fig = layer_curves(typed(block))
    stars = _traces(fig, "best")
    marked = {}
    for t in stars:
        for key, x, y in zip(t.meta["keys"], t.x, t.y):
            marked[key] = (x, y)
    key = "retrieval.csls.en->sw.p@1"
    assert marked[key] == (block["best"][key]["layer"], block["best"][key]["value"])
    assert marked["cka.linear"] == (block["best"]["cka.linear"]["layer"], block["best"]["cka.linear"]["value"])


def test_missing_keys_are_skipped_gracefully():
    block = {"layers": [{"layer": 0, "retrieval": {"cosine": {"en->sw": {"p@1": 0.5}}}},
                        {"layer": 1, "retrieval": {"cosine": {"en->sw": {"p@1": 0.7, "p@1_ci95": [0.6, 0.8]}}}},
                        {"layer": 2}]}
    fig = layer_curves(typed(block))
    (line,) = _traces(fig, "retrieval.cosine.en->sw.p@1", "value")
    assert list(line.y) == [0.5, 0.7, None]
    (band,) = _traces(fig, "retrieval.cosine.en->sw.p@1", "ci95")
    assert list(band.x) == [1, 1] and list(band.y) == [0.8, 0.6]
    assert not _traces(fig, "cka.linear")
    with pytest.raises(ValueError, match="no retrieval"):
        layer_curves(typed({"layers": [{"layer": 0}]}))


def test_cka_heatmap_z_equals_matrix(details):
    grid = details["pairs"]["en-sw"]["cka_layers"]
    fig = cka_layer_heatmaps(grid, [0, 1, 2, 3, 4])
    for lang in ("en", "sw"):
        (hm,) = _traces(fig, f"cka_layers.{lang}")
        np.testing.assert_allclose(np.asarray(hm.z, dtype=np.float64), grid[lang], atol=1e-6)
        assert list(hm.x) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="square"):
        cka_layer_heatmaps({"en": [[1, 2, 3]]})


def test_language_cka_heatmap(probe_run_multi):
    details = json.loads((probe_run_multi / "details.json").read_text(encoding="utf-8"))
    lc = details["language_cka"]
    fig = language_cka_heatmap(lc)
    (hm,) = _traces(fig, "language_cka")
    np.testing.assert_allclose(np.asarray(hm.z, dtype=np.float64), lc["matrix"], atol=1e-6)
    assert list(fig.layout.xaxis.ticktext) == ["en", "sw", "ur"]
    with pytest.raises(ValueError, match="languages"):
        language_cka_heatmap({"languages": ["en"], "matrix": lc["matrix"]})


def test_similarity_histograms_hold_the_stored_values_and_slider_shows_one_layer(details):
    sims = details["pairs"]["en-sw"]["similarity"]
    fig = similarity_distributions(sims, initial_layer=3)
    assert len(fig.data) == 2 * len(sims)
    for e in sims:
        (true,) = _traces(fig, f"similarity.{e['layer']}.true")
        (rand,) = _traces(fig, f"similarity.{e['layer']}.random")
        np.testing.assert_allclose(np.asarray(true.x), e["true"], atol=1e-6)
        np.testing.assert_allclose(np.asarray(rand.x), e["random"], atol=1e-6)
        assert true.visible is (e["layer"] == 3) and rand.visible is (e["layer"] == 3)
    slider = fig.layout.sliders[0]
    assert slider.active == 3
    step = slider.steps[1]
    assert step.label == "1" and step.args[0]["visible"] == [False, False, True, True] + [False] * 6


def test_word_alignment_marks_follow_the_example():
    ex = {"src_tokens": ["a", "<b>x</b>", "a"], "tgt_tokens": ["b", "c"], "similarity": [[0.1, 0.2], [0.3, 0.4],
                                                                                       [0.5, 0.6]],
          "pred": [[0, 0], [2, 1]], "gold_sure": [[0, 0]], "gold_possible": [[0, 0], [1, 1]]}
    fig = word_alignment_example(ex, title="t")
    (hm,) = _traces(fig, "similarity")
    np.testing.assert_allclose(np.asarray(hm.z, dtype=np.float64), ex["similarity"], atol=1e-6)
    (pred,) = _traces(fig, "predicted")
    assert list(zip(pred.y, pred.x)) == [(0, 0), (2, 1)]  # (i, j) → y = source row, x = target column
    (sure,) = _traces(fig, "gold_sure")
    assert list(zip(sure.y, sure.x)) == [(0, 0)]
    (possible,) = _traces(fig, "gold_possible")
    assert list(zip(possible.y, possible.x)) == [(1, 1)]  # possible-only links
    # repeated tokens stay separate rows; markup in tokens is escaped
    assert list(fig.layout.yaxis.ticktext) == ["a", "&lt;b&gt;x&lt;/b&gt;", "a"]
    with pytest.raises(ValueError, match="outside"):
        word_alignment_example({**ex, "pred": [[3, 0]]})
    with pytest.raises(ValueError, match="similarity"):
        word_alignment_example({**ex, "similarity": [[0.1, 0.2]]})


def test_a_run_with_only_margin_shows_margin():
    block = {"layers": [{"layer": i, "retrieval": {"margin": {"en->sw": {"p@1": 0.1 * i}}}} for i in range(3)],
             "best": {"retrieval.margin.en->sw.p@1": {"layer": 2, "value": 0.2}}}
    fig = layer_curves(typed(block))
    (line,) = _traces(fig, "retrieval.margin.en->sw.p@1", "value")
    assert line.visible is True
    assert _traces(fig, "best")[0].meta["keys"] == ["retrieval.margin.en->sw.p@1"]


def test_every_panel_has_layer_ticks(metrics):
    """Issue 23 E: the upper panels of the shared-x figure lost their tick labels."""
    fig = layer_curves(typed(metrics["pairs"]["en-sw"]))
    axes = [fig.layout[name] for name in fig.layout if name.startswith("xaxis")]
    assert len(axes) == 3 and all(ax.showticklabels is True for ax in axes)
