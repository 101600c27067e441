"""``compare --pair en-all``: per-language paired deltas equal the single-pair compare's, Holm across languages
checked against a hand computation, and the gained/lost lists."""

from __future__ import annotations

import pytest

from xalign.pipelines.compare import CompareConfig, compare
from xalign.pipelines.compare_many import family_key, holm_across_languages, significant_languages
from xalign.pipelines.probe import ProbeConfig
from xalign.results.types import LayerComparison, MetricComparison, MetricValue, PairComparison

from tests.pipelines.test_probe_many import sib_dir  # noqa: F401  (fixture)


def _pc(tgt: str, delta: float, p: float) -> PairComparison:
    key = f"retrieval.csls.en->{tgt}.p@1"
    mc = MetricComparison(values={"before": 0.5, "after": 0.5 + delta},
                          deltas={"after": MetricValue(delta, (delta - 0.1, delta + 0.1), p)})
    back = MetricComparison(values={"before": 0.5, "after": 0.5}, deltas={"after": MetricValue(0.0, None, 0.5)})
    return PairComparison(pair=f"en-{tgt}", src_lang="en", tgt_lang=tgt, n=10,
                          layers=[LayerComparison(layer=2, metrics={key: mc, f"retrieval.csls.{tgt}->en.p@1": back})])


def test_holm_across_languages_against_a_hand_computation():
    pairs = {pc.pair: pc for pc in (_pc("sw", 0.2, 0.01), _pc("de", -0.3, 0.04), _pc("yo", 0.1, 0.03),
                                    _pc("fr", 0.05, 0.5))}
    holm_across_languages(pairs, ["before", "after"])
    # m = 4, sorted p: 0.01, 0.03, 0.04, 0.5 → 4·0.01 = 0.04, 3·0.03 = 0.09, 2·0.04 = 0.08 → 0.09 (running max),
    # 1·0.5 = 0.5
    want = {"sw": 0.04, "yo": 0.09, "de": 0.09, "fr": 0.5}
    for tgt, p in want.items():
        d = pairs[f"en-{tgt}"].layers[0].metrics[f"retrieval.csls.en->{tgt}.p@1"].deltas["after"]
        assert d.p_holm == pytest.approx(p) and d.p_value is not None
        back = pairs[f"en-{tgt}"].layers[0].metrics[f"retrieval.csls.{tgt}->en.p@1"].deltas["after"]
        assert back.p_holm == pytest.approx(1.0)  # its own family (tgt->src): 4 × 0.5 = 2, capped at 1
    sig = significant_languages(pairs, ["before", "after"])
    assert sig["gained"] == {"after": ["sw"]} and sig["lost"] == {"after": []} and sig["layer"] == 2
    assert family_key("retrieval.csls.en->sw.p@1", "en", "sw") == "retrieval.csls.src->tgt.p@1"


def test_compare_many_equals_single_pair_compare(sib_dir, _tiny_dirs, tmp_path):  # noqa: F811
    from tests.conftest import build_tiny_model

    before = str(_tiny_dirs["bert"])
    after = str(build_tiny_model("bert", tmp_path / "after", seed=1))
    common = dict(data=f"flores:{sib_dir}", split="test", n_boot=50, n_boot_cka=5, report=False, progress=False,
                  bli=False)
    many = compare(CompareConfig(before=before, after=[after], probe=ProbeConfig(pairs=["en-all"], **common)),
                   out_dir=tmp_path / "many")
    one = compare(CompareConfig(before=before, after=[after], probe=ProbeConfig(pairs=["en-de"], **common)))
    got, ref = many.comparison.pairs["en-deu_Latn"], one.comparison.pairs["en-de"]
    for g, r in zip(got.layers, ref.layers):
        for rule in ("csls", "cosine"):
            dg = g.metrics[f"retrieval.{rule}.en->deu_Latn.p@1"].deltas["after"]
            dr = r.metrics[f"retrieval.{rule}.en->de.p@1"].deltas["after"]
            assert dg.value == pytest.approx(dr.value, abs=1e-6) and dg.p_value == pytest.approx(dr.p_value)
        assert g.metrics["cka.linear"].deltas["after"].value == pytest.approx(
            r.metrics["cka.linear"].deltas["after"].value, abs=1e-6)
    # Holm's family: one metric at one layer over the four languages
    key_of = {pc.pair: f"retrieval.csls.en->{pc.tgt_lang}.p@1" for pc in many.comparison.pairs.values()}
    ps = {name: pc.layers[-1].metrics[key_of[name]].deltas["after"] for name, pc in many.comparison.pairs.items()}
    order = sorted(ps, key=lambda k: ps[k].p_value)
    running = 0.0
    for i, name in enumerate(order):
        running = max(running, min(1.0, (len(order) - i) * ps[name].p_value))
        assert ps[name].p_holm == pytest.approx(running)
    import json

    doc = json.loads((tmp_path / "many" / "compare.json").read_text())
    assert set(doc["pairs"]) == set(many.comparison.pairs) and "languages" in doc
    assert doc["languages"]["metric"] == "retrieval.csls.src->tgt.p@1"
