"""Compare figures against the numbers in compare.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xalign.report.figures_compare import compare_curves, compare_metric_keys, model_cka_heatmaps
from xalign.results.json_io import comparison_from_json
from xalign.results.registry import metric_label


@pytest.fixture
def doc(compare_run):
    return json.loads((compare_run / "compare.json").read_text(encoding="utf-8"))


def test_overlays_and_delta_bands_equal_compare_json(doc):
    block = doc["pairs"]["en-sw"]
    key = "retrieval.csls.en->sw.p@1"
    pair = comparison_from_json(doc).pairs["en-sw"]
    fig = compare_curves(pair, ["before", "after"])
    by = {(t.meta["key"], t.meta.get("model"), t.meta["role"]): t for t in fig.data}
    for label in ("before", "after"):
        assert list(by[(key, label, "value")].y) == [e["metrics"][key][label] for e in block["layers"]]
    delta = by[(key, "after", "delta")]
    assert list(delta.y) == [e["metrics"][key]["delta"]["after"] for e in block["layers"]]
    assert list(delta.customdata) == [e["metrics"][key]["p_value"]["after"] for e in block["layers"]]
    # the hover shows delta and p the one way the report writes them
    first = block["layers"][0]["metrics"][key]
    p = first["p_value"]["after"]
    assert delta.text[0] == f"{first['delta']['after']:+.3f} (" + ("p < 0.001" if p < 0.001 else f"p = {p:.3f}") + ")"
    band = by[(key, "after", "ci95")]
    hi = [e["metrics"][key]["ci95"]["after"][1] for e in block["layers"]]
    lo = [e["metrics"][key]["ci95"]["after"][0] for e in block["layers"]]
    assert list(band.y) == hi + lo[::-1]
    # csls src->tgt P@1 shown first; the dropdown switches metric by visibility
    assert {t.meta["key"] for t in fig.data if t.visible} == {key}
    keys = compare_metric_keys(pair)
    menu = fig.layout.updatemenus[0]
    # human labels, not raw metric keys (issue 23 E)
    assert [b.label for b in menu.buttons] == [metric_label(k) for k in keys]
    assert "CSLS P@1 en→sw" in [b.label for b in menu.buttons]
    assert not any("retrieval." in b.label for b in menu.buttons)
    other = keys.index("cka.linear")
    vis = menu.buttons[other].args[0]["visible"]
    assert [t.meta["key"] for t, v in zip(fig.data, vis) if v] == [t.meta["key"] for t in fig.data
                                                                      if t.meta["key"] == "cka.linear"]


def test_before_line_is_not_hidden_under_after(doc):
    """Equal values must show both models: the first is drawn wide and pale, later ones narrow and dashed."""
    fig = compare_curves(comparison_from_json(doc).pairs["en-sw"], ["before", "after"])
    lines = {t.meta["model"]: t for t in fig.data if t.meta["role"] == "value" and t.visible}
    assert lines["before"].line.width > 2 * lines["after"].line.width
    assert lines["after"].line.dash == "dash" and lines["before"].line.dash == "solid"


def test_compare_needs_two_models_and_metrics(doc):
    from xalign.results.types import PairComparison

    with pytest.raises(ValueError, match="two model"):
        compare_curves(comparison_from_json(doc).pairs["en-sw"], ["before"])
    with pytest.raises(ValueError, match="no per-layer"):
        compare_curves(PairComparison("en-sw", "en", "sw", 0, []), ["a", "b"])


def test_model_cka_heatmap_z_equals_matrix(doc):
    m = doc["pairs"]["en-sw"]["model_cka"]
    fig = model_cka_heatmaps(m, "before", layers=[0, 1, 2, 3, 4])
    (hm,) = fig.data
    np.testing.assert_allclose(np.asarray(hm.z, dtype=np.float64), m["after"], atol=1e-6)
    assert list(hm.y) == [0, 1, 2, 3, 4]
