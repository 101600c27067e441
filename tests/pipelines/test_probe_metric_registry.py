"""The metric extension point: a metric registered from this file (and nowhere else) appears in probe's
metrics.json and metrics.csv, in the many-language probe, and in compare with its paired test."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from xalign.pipelines.compare import CompareConfig, compare
from xalign.pipelines.probe import Metric, PairContext, ProbeConfig, StepOutput, probe, registered
from xalign.results.registry import MetricSpec, metric_label, metric_spec
from xalign.results.types import MetricValue

from tests.pipelines.test_probe_many import sib_dir  # noqa: F401  (fixture)


def _mean_true_cosine(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    return (x * y).sum(1)


class TruePairCosine(Metric):
    """Toy metric: mean cosine of true translation pairs, and top-1 agreement of the shared top-k search."""

    name = "toy"
    needs = frozenset({"sentences", "topk"})
    specs = (MetricSpec("toy", "true_cosine", "mean true-pair cosine", best=True),
             MetricSpec("toy", "hit", "toy top-1 hit rate", paired=True))

    def compute(self, ctx: PairContext) -> StepOutput:
        out = StepOutput(layers=[])
        for li in range(len(ctx.layers)):
            nearest = ctx.retrieval(li).neighbours["a->b"][1][:, 0]  # the shared search, not recomputed
            hits = (nearest == np.arange(ctx.n)).astype(np.float64)
            out.layers.append({"toy.true_cosine": MetricValue(float(_mean_true_cosine(ctx.src[li], ctx.tgt[li]).mean())),
                               "toy.hit": MetricValue(float(hits.mean()))})
            out.correct.setdefault("toy.hit", []).append(hits)
        return out


def test_registered_metric_reaches_metrics_json_csv_and_compare(tiny_bert_dir, _tiny_dirs, tmp_path):
    from tests.conftest import build_tiny_model

    config = ProbeConfig(model=str(tiny_bert_dir), pairs=["en-sw"], limit=12, n_boot=20, n_boot_cka=0,
                         report=False, bli=False)
    with registered(TruePairCosine()):
        assert metric_label("toy.true_cosine") == "mean true-pair cosine" and metric_spec("toy.hit").paired
        result = probe(config, out_dir=tmp_path / "p")
        pair = result.pairs["en-sw"]
        doc = json.loads((tmp_path / "p" / "metrics.json").read_text())["pairs"]["en-sw"]
        for li, layer in enumerate(doc["layers"]):
            want = _mean_true_cosine(pair.src_vectors[li], pair.tgt_vectors[li]).mean()
            assert layer["toy"]["true_cosine"] == pytest.approx(want, abs=1e-6)
            naive = (np.argmax(_cos(pair.src_vectors[li], pair.tgt_vectors[li]), 1) == np.arange(12)).mean()
            assert layer["toy"]["hit"] == pytest.approx(naive, abs=1e-6)
            assert layer["toy"]["hit"] == pytest.approx(layer["retrieval"]["cosine"]["en->sw"]["p@1"])
        assert "toy.true_cosine" in doc["best"]
        rows = [r for r in csv.DictReader((tmp_path / "p" / "metrics.csv").open()) if r["metric"].startswith("toy.")]
        assert len(rows) == 2 * len(doc["layers"])
        after = str(build_tiny_model("bert", tmp_path / "after", seed=1))
        cmp = compare(CompareConfig(before=str(tiny_bert_dir), after=[after],
                                    probe=ProbeConfig(pairs=["en-sw"], limit=12, n_boot=30, n_boot_cka=0,
                                                      report=False, bli=False)))
        layer = cmp.comparison.pairs["en-sw"].layers[-1].metrics
        hit, cos = layer["toy.hit"], layer["toy.true_cosine"]
        assert hit.deltas["after"].p_value is not None and hit.deltas["after"].ci95 is not None  # paired test
        assert hit.deltas["after"].value == pytest.approx(hit.values["after"] - hit.values["before"])
        assert cos.deltas["after"].p_value is None  # not paired: a plain difference
    assert metric_spec("toy.hit").label == "toy.hit"  # unregistered again


def test_registered_metric_reaches_the_many_language_probe(sib_dir, tiny_bert_dir, tmp_path):  # noqa: F811
    with registered(TruePairCosine()):
        probe(ProbeConfig(model=str(tiny_bert_dir), pairs=["en-all"], data=f"sib200:{sib_dir}", split="test",
                          n_boot=0, n_boot_cka=0, report=False, progress=False), out_dir=tmp_path / "a")
    rows = [r for r in csv.DictReader((tmp_path / "a" / "metrics.csv").open()) if r["metric"] == "toy.true_cosine"]
    assert {r["pair"] for r in rows} == {"en-ace_Arab", "en-deu_Latn", "en-swh_Latn", "en-yor_Latn"}


def test_word_level_metric_is_left_out_of_the_many_language_probe():
    from xalign.pipelines.probe.steps import SENTENCE_LEVEL, registered_metrics

    names = {m.name for m in registered_metrics() if m.needs <= SENTENCE_LEVEL}
    assert names == {"retrieval", "cka"}


def test_bad_metric_declarations_are_refused():
    class NoName(Metric):
        needs = frozenset({"sentences"})

    class WrongSection(Metric):
        name = "toy2"
        specs = (MetricSpec("other", "x", "x"),)

    with pytest.raises(ValueError, match="name without dots"):
        registered(NoName()).__enter__()
    with pytest.raises(ValueError, match="must use section 'toy2'"):
        with registered(WrongSection()):
            pass


def _cos(x, y):
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    return x @ y.T
