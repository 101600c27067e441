"""compare: identical models give zero deltas; different models give the paired differences."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import build_tiny_model
from xalign.pipelines.compare import CompareConfig, compare
from xalign.pipelines.probe import ProbeConfig


def _naive_cka(x, y):
    x = x.astype(np.float64) - x.mean(0)
    y = y.astype(np.float64) - y.mean(0)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


@pytest.fixture
def corpus():
    from xalign.data import load_demo

    return load_demo("en-sw").head(30)


def _probe_config(**kw):
    return ProbeConfig(n_boot=200, n_boot_cka=50, bli=False, report=False, **kw)


def test_identical_models_have_zero_delta_and_unit_model_cka(tiny_bert_dir, corpus, tmp_path):
    config = CompareConfig(before=str(tiny_bert_dir), after=[str(tiny_bert_dir)], probe=_probe_config())
    result = compare(config, corpora=[corpus], out_dir=tmp_path / "cmp")
    block = result.pairs["en-sw"]
    for entry in block["layers"]:
        p1 = entry["metrics"]["retrieval.csls.en->sw.p@1"]
        assert p1["delta"]["after"] == 0.0 and p1["p_value"]["after"] == 1.0
        cka = entry["metrics"]["cka.linear"]
        assert cka["delta"]["after"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(np.diag(block["model_cka"]["after"]), 1.0, atol=1e-6)
    saved = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [m["label"] for m in saved["models"]] == ["before", "after"]
    assert (tmp_path / "cmp" / "models" / "after" / "metrics.json").is_file()


def test_different_models_delta_equals_difference_of_probes(tiny_bert_dir, corpus, tmp_path):
    other = build_tiny_model("bert", tmp_path / "other", seed=5)
    config = CompareConfig(before=str(tiny_bert_dir), after=[str(other)], labels=["base", "tuned"],
                           probe=_probe_config())
    result = compare(config, corpora=[corpus])
    for li, entry in enumerate(result.pairs["en-sw"]["layers"]):
        for key in ("retrieval.cosine.en->sw.p@1", "cka.linear", "retrieval.margin.sw->en.mrr"):
            values = entry["metrics"][key]
            assert values["delta"]["tuned"] == pytest.approx(values["tuned"] - values["base"], abs=1e-6)
        ci = entry["metrics"]["retrieval.cosine.en->sw.p@1"]["ci95"]["tuned"]
        assert ci[0] <= entry["metrics"]["retrieval.cosine.en->sw.p@1"]["delta"]["tuned"] <= ci[1]
        # the CKA p-value against a naive reference: numpy CKA on the same resampled rows, sign-count p
        b_pair, a_pair = result.probes["base"].pairs["en-sw"], result.probes["tuned"].pairs["en-sw"]
        idx = np.random.default_rng(0).integers(0, 30, (50, 30))
        diffs = np.array([_naive_cka(a_pair.src_vectors[li][i], a_pair.tgt_vectors[li][i])
                          - _naive_cka(b_pair.src_vectors[li][i], b_pair.tgt_vectors[li][i]) for i in idx])
        expected = min(1.0, 2 * min((np.sum(diffs <= 0) + 1) / 51, (np.sum(diffs >= 0) + 1) / 51))
        assert entry["metrics"]["cka.linear"]["p_value"]["tuned"] == pytest.approx(expected, abs=1e-12)


def test_bad_labels_are_rejected():
    with pytest.raises(ValueError, match="labels must be 2 distinct"):
        CompareConfig(before="a", after=["b"], labels=["x", "x"])
    with pytest.raises(ValueError, match="at least one"):
        CompareConfig(before="a", after=[])
