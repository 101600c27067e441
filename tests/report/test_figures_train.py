"""Train figures against train_metrics.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xalign.report.figures_train import accuracy_bars, generalized_heatmap, loss_curve


@pytest.fixture
def doc(train_run):
    return json.loads((train_run / "train_metrics.json").read_text(encoding="utf-8"))


def _by_key(fig):
    return {t.meta["key"]: t for t in fig.data}


def test_loss_curve(doc):
    fig = loss_curve(doc["history"], select_curve=doc["select"]["curve"], best_step=100)
    t = _by_key(fig)
    assert list(t["history.loss"].x) == [h["step"] for h in doc["history"]]
    assert list(t["history.loss"].y) == [h["loss"] for h in doc["history"]]
    assert t["history.lr"].yaxis == "y2"
    assert list(t["select.curve"].y) == [c["value"] for c in doc["select"]["curve"]]
    assert list(t["history.eval_en_accuracy"].x) == [h["step"] for h in doc["history"][::5]]
    assert fig.layout.shapes[0].x0 == 100
    with pytest.raises(ValueError, match="no loss"):
        loss_curve([{"step": 1}])


def test_accuracy_bars(doc):
    fig = accuracy_bars(doc["eval"])
    t = _by_key(fig)
    assert list(t["eval.accuracy"].x) == ["en", "sw", "ur"]
    assert list(t["eval.accuracy"].y) == [0.81, 0.62, 0.58]
    assert list(t["eval.smoothed (majority-vote) accuracy"].y) == [0.75, 0.55, 0.5]
    with pytest.raises(ValueError, match="accuracy"):
        accuracy_bars({})


def test_generalized_heatmap(doc):
    g = doc["eval"]["generalized"]
    fig = generalized_heatmap(g)
    np.testing.assert_allclose(np.asarray(fig.data[0].z, dtype=np.float64), g["matrix"], atol=1e-6)
    assert list(fig.layout.yaxis.ticktext) == g["languages"]
    with pytest.raises(ValueError, match="languages"):
        generalized_heatmap({"languages": ["en"], "matrix": g["matrix"]})
