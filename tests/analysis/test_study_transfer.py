"""The transfer-gap control of the study on tiny synthetic unit records, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.study import transfer as tr
from tests.analysis.test_study import DESIGN


def _rec(task: str, method: str, seed: int, splits: dict[str, dict[str, str]], report: dict) -> dict:
    design = {**DESIGN, "tasks": {**DESIGN["tasks"], task: {**DESIGN["tasks"][task], "report": report}}}
    return {"unit": {"task": task, "method": method, "seed": seed}, "design": design,
            "eval": {"splits": {s: {"correct": c} for s, c in splits.items()}}}


XNLI_REPORT = {"test": ["en", "sw", "ur"]}
# method learns English less (0.5 vs 1.0) and loses the same 0.25 from English to sw on the same items
METHOD = {"test": {"en": "11110000", "sw": "11000000", "ur": "11110000"}}
BASE = {"test": {"en": "11111111", "sw": "11111110", "ur": "11111111"}}


def _results(seeds=(7, 8)):
    out = {}
    for s in seeds:
        out[("xnli", "rs-da", s)] = _rec("xnli", "rs-da", s, METHOD, XNLI_REPORT)
        out[("xnli", "baseline", s)] = _rec("xnli", "baseline", s, BASE, XNLI_REPORT)
    return out


def test_gap_scores_by_hand():
    rec = _rec("xnli", "rs-da", 7, METHOD, XNLI_REPORT)
    assert tr.gap_scores(rec, "xnli", "test:sw").tolist() == [0, 0, -1, -1, 0, 0, 0, 0]
    assert tr.gap_scores(rec, "xnli", "test:ur").tolist() == [0] * 8
    # zero-shot: per item, mean of sw and ur minus en
    assert tr.gap_scores(rec, "xnli").tolist() == [0, 0, -0.5, -0.5, 0, 0, 0, 0]
    no_en = _rec("xnli", "rs-da", 7, {"test": {"sw": "1100"}}, XNLI_REPORT)
    assert tr.gap_scores(no_en, "xnli", "test:sw") is None and tr.gap_scores(no_en, "xnli") is None


def test_zero_shot_gap_concatenates_splits_each_against_its_own_english():
    report = {"test": ["en", "de"], "dev": ["es"]}
    rec = _rec("pawsx", "rs-rp", 7, {"test": {"en": "10", "de": "00"}, "dev": {"en": "01", "es": "11", "de": "00"}},
               report)
    assert tr.gap_scores(rec, "pawsx").tolist() == [-1, 0, 1, 0]
    assert tr.chance("pawsx") == 0.5 and tr.chance("xnli") == pytest.approx(1 / 3)


def test_retained_share_by_hand():
    pairs = np.array([[1, 1], [0, 1], [0, 0], [1, 1]], dtype=float)  # xx 0.5, en 0.75
    assert tr.retained_share(pairs, 0.5) == pytest.approx((0.5 - 0.5) / (0.75 - 0.5))
    assert tr.retained_share(pairs, 1 / 3) == pytest.approx((0.5 - 1 / 3) / (0.75 - 1 / 3))


def test_transfer_tests_by_hand():
    tests = tr.transfer_tests(_results(), "xnli", n_boot=2000, seed=0)
    by = {(t["reading"], t["column"]): t for t in tests}
    gap = by[("gap", "zero-shot")]
    # method gap per item [0,0,-.5,-.5,0,0,0,0]: -0.125; baseline [0,0,0,0,0,0,0,-.5]: -0.0625
    assert gap["mean_a"] == pytest.approx(-0.125) and gap["mean_b"] == pytest.approx(-0.0625)
    assert gap["delta"] == pytest.approx(-0.0625) and gap["n_seeds"] == 2 and gap["n_items"] == 8
    assert by[("gap", "test:sw")]["delta"] == pytest.approx(-0.25 - (-0.125))
    assert by[("gap", "test:ur")]["delta"] == pytest.approx(0.0 - 0.0)
    ret = by[("retained", "zero-shot")]
    c = 1 / 3
    assert ret["mean_a"] == pytest.approx((0.375 - c) / (0.5 - c))  # zero-shot mean of sw, ur: 0.375
    assert ret["mean_b"] == pytest.approx((0.9375 - c) / (1.0 - c))  # sw 7/8, ur 1
    assert ret["delta"] == pytest.approx(ret["mean_a"] - ret["mean_b"])
    assert ret["ci95"][0] <= ret["delta"] <= ret["ci95"][1]
    # Holm within the per-language family of one method: two tests, the smaller p doubled
    fam = [t for t in tests if t["family"] == "gap-languages:rs-da"]
    assert len(fam) == 2
    p = sorted(t["p_value"] for t in fam)
    assert sorted(t["p_holm"] for t in fam) == pytest.approx([min(1, 2 * p[0]), max(min(1, 2 * p[0]), p[1])])
    # single-test families: Holm leaves p unchanged
    assert gap["p_holm"] == gap["p_value"] and ret["p_holm"] == ret["p_value"]


def test_retained_share_is_skipped_when_english_is_at_chance():
    # en 1/3 = chance; the languages differ item by item, so the run is not a collapsed one
    near = {"test": {"en": "100" * 3, "sw": "010" + "100" * 2, "ur": "100" * 2 + "001"}}
    results = {("xnli", "rs-da", 7): _rec("xnli", "rs-da", 7, near, XNLI_REPORT),
               ("xnli", "baseline", 7): _rec("xnli", "baseline", 7, near, XNLI_REPORT)}
    tests = tr.transfer_tests(results, "xnli", n_boot=50, seed=0)
    assert {t["reading"] for t in tests} == {"gap"}


def _t(method, family, delta, p_holm, seed_deltas, column="zero-shot", reading="gap"):
    from xalign.metrics.significance import seed_aware_claim

    claim, reason = seed_aware_claim(p_holm, seed_deltas)
    return {"task": "xnli", "method": method, "reference": "baseline", "family": family, "column": column,
            "reading": reading, "delta": delta, "ci95": [delta - 0.01, delta + 0.01], "p_holm": p_holm,
            "mean_a": 0.8, "mean_b": 0.8, "seeds": [7, 8, 9], "seed_deltas": seed_deltas, "claim": claim,
            "claim_reason": reason, "mde": 0.03, "chance": 0.34}


UP, MIXED = [0.02, 0.01, 0.03], [0.02, -0.01, 0.03]


@pytest.mark.parametrize("gap_p, gap_seeds, ret_delta, ret_p, expected", [
    (0.5, UP, 0.01, 0.9, "no reading passes the rule (gap: not significant); a gap change smaller than 0.030"),
    (0.01, MIXED, 0.01, 0.9, "no reading passes the rule (gap: seeds disagree in sign)"),  # significant, seeds split
    (0.01, UP, 0.05, 0.02, "(better transfer, by the rule)"),
    (0.01, UP, -0.05, 0.02, "disagree in sign: no claim"),
])
def test_answer_follows_the_one_rule_and_never_attributes_a_null(gap_p, gap_seeds, ret_delta, ret_p, expected):
    ret_seeds = [ret_delta] * 3
    tests = [_t("rs-da", "gap", 0.02, gap_p, gap_seeds),
             _t("rs-da", "retained", ret_delta, ret_p, ret_seeds, reading="retained")]
    (line,) = tr.transfer_answer(tests)
    assert expected in line and "accounted for" not in line
    assert "retained share above the majority rate 0.34" in line


def test_retained_share_uses_the_majority_class_rate():
    labels = {"splits": {"test": {"labels": "0001"}, "dev": {"labels": "0110"}}}  # 5 of 8 are class 0
    assert tr.majority_rate("pawsx", labels) == pytest.approx(5 / 8)
    assert tr.majority_rate("pawsx", None) == 0.5  # unknown labels: 1 / number of labels


def test_a_run_that_collapsed_to_one_class_is_left_out_of_the_control():
    from analysis.study.aggregate import collapsed, link_points

    flat = {"test": {"en": "1100", "sw": "1100", "ur": "1100"}}  # one class everywhere: gap 0 by construction
    results = _results(seeds=(7, 8))
    results[("xnli", "rs-da", 8)] = _rec("xnli", "rs-da", 8, flat, XNLI_REPORT)
    assert collapsed(results[("xnli", "rs-da", 8)]) and not collapsed(results[("xnli", "rs-da", 7)])
    assert not collapsed(_rec("xnli", "rs-da", 7, {"test": {"en": "1100"}}, XNLI_REPORT))  # one language: no evidence
    tests = tr.transfer_tests(results, "xnli", n_boot=200, seed=0)
    gap = next(t for t in tests if t["family"] == "gap")
    assert gap["seeds"] == [7] and gap["collapsed_seeds"] == [8]
    # seed 7 alone: method [0,0,-.5,-.5,0,0,0,0] − baseline [0,0,0,0,0,0,0,-.5]
    assert gap["delta"] == pytest.approx(-0.125 + 0.0625)
    (line,) = tr.transfer_answer(tests)
    assert "(seeds [7]; collapsed seed(s) [8] left out)" in line and "1 seed(s), fewer than 3" in line
    assert link_points({}, "xnli", 0) == []
