"""The v3 design (equal tuning, SIB-200 arm): trial lists, relative strengths, resumable tuning units with an
injected trainer (nothing trains), and the cost measured from finished units, against hand values."""

from __future__ import annotations

import json
import math

import pytest

from analysis.study import plan_v3 as pv
from analysis.study.design import make_design
from analysis.study.tuning_v3 import run_v3_tuning


def test_every_method_gets_the_same_number_of_trials_in_two_stages():
    design = make_design("cpu")
    trials = pv.tuning_trials(design)
    for task in design.tasks:
        for method in pv.TUNING_METHODS:
            mine = [t for t in trials if t.task == task and t.method == method]
            assert len(mine) == pv.TRIALS_PER_METHOD
            assert [t.changes["learning_rate"] for t in mine if t.stage == 1] == list(pv.STAGE1_LR)
    adv2 = [t.changes for t in trials if t.task == "xnli" and t.method == "adv" and t.stage == 2]
    assert adv2 == [{"learning_rate": "stage1", "adv_eps_rel": r, "adv_steps": k} for r, k in ((0.01, 1), (0.1, 1),
                                                                                                   (0.03, 3))]
    assert all(t.needs == (pv.NEEDS_RATE,) for t in trials if t.method == "rs-da")  # no rate setting exists yet
    assert pv.trial_path("R", trials[0]).as_posix() == "R/tuning/v3/xnli-baseline-s1-0.json"


def test_relative_strengths_by_hand():
    out = pv.resolve({"learning_rate": "stage1", "adv_eps_rel": 0.03, "adv_steps": 3}, norm=1.5, dim=384,
                     stage1_lr=5e-5, task_copies=3)
    assert out == {"learning_rate": 5e-5, "adv_eps": pytest.approx(0.045), "adv_alpha": pytest.approx(0.045),
                   "adv_steps": 3}
    # per-coordinate σ = r·‖e‖/√d, so the noise vector's norm is about r·‖e‖
    assert pv.resolve({"rs_sigma_rel": 0.1}, norm=1.6, dim=64, stage1_lr=None, task_copies=3)["rs_sigma"] == \
        pytest.approx(0.1 * 1.6 / 8)
    assert pv.resolve({"rsda_copies": "double"}, norm=1, dim=1, stage1_lr=None, task_copies=10)["rsda_copies"] == 20
    with pytest.raises(ValueError, match="stage 1 first"):
        pv.resolve({"learning_rate": "stage1"}, norm=1, dim=1, stage1_lr=None, task_copies=3)


def test_tuning_units_are_resumable_and_stage_two_reads_stage_one(tmp_path):
    design = make_design("cpu")
    calls: list = []
    acc = {1e-5: 0.50, 3e-5: 0.62, 5e-5: 0.58}  # stage 1: 3e-5 wins for every method

    def fake_train(kwargs):
        calls.append(kwargs)
        return {"select": {"accuracy": acc.get(kwargs["learning_rate"], 0.6), "best_step": 1}, "steps": 1}

    kw = dict(data_root=tmp_path / "data", results_dir=tmp_path / "results", work_dir=tmp_path / "w", tasks=("xnli",),
              train=fake_train, norm=lambda d, t, root: {"mean_token_l2": 1.5, "dim": 384},
              prepare=lambda *a: {})
    written = run_v3_tuning(design, **kw)
    # the norm unit, then baseline / adv / rs-rp × 6 trials; rs-da waits for its rate setting
    assert len(written) == 1 + 3 * 6 and len(calls) == 18
    assert json.loads(pv.norm_path(tmp_path / "results", "xnli").read_text())["mean_token_l2"] == 1.5
    adv = [c for c in calls if c["method"] == "adv"]
    assert [c["learning_rate"] for c in adv] == [1e-5, 3e-5, 5e-5, 3e-5, 3e-5, 3e-5]  # stage 2 at stage 1's best
    assert [round(c["adv_eps"], 6) for c in adv] == [0.045] * 3 + [0.015, 0.15, 0.045]
    assert all(c["eval_langs"] == ["en"] and c["seed"] == pv.TUNING_SEED for c in calls)
    assert run_v3_tuning(design, **kw) == [] and len(calls) == 18  # finished trials are never rerun


def test_the_sib200_arm_lists_every_method_and_seed_and_says_what_it_needs(monkeypatch):
    design = make_design("cpu")
    monkeypatch.setattr(pv, "sib200_available", lambda: False)
    units = pv.sib200_units(design)
    assert len(units) == 1 + len(pv.SIB_METHODS) * len(pv.SIB_SEEDS) and units[0].name == "sib200/pretrained/pretrained"
    assert all(pv.NEEDS_SIB in u.needs for u in units)
    assert all(u.train["task"] == "sib200" and u.train["eval_langs"] == "all" for u in units[1:])
    assert all(u.probe["data"] == "sib200:DIR" and u.probe["pair"] == "en-all" for u in units)
    assert [u.needs[-1] for u in units if u.method == "rs-da-paired"] == [pv.NEEDS_PAIRED] * len(pv.SIB_SEEDS)


def test_cost_is_fitted_to_the_finished_units_by_hand():
    design = make_design("cpu")
    # xnli baseline: 282 steps; evaluated items 15 × 400 + 25 × 120 + 600 × 4 selections = 11,400, at a third
    # of a training pass per item (÷ 3 · 32): c = train_s / (282 + 118.75) = 4007.5 / 400.75 = 10 s per step
    rec = {"timings": {"train_s": 4007.5, "probe_s": 68.0},
           "alignment": {"xnli-dev": {"n": 400, "pairs": {f"en-{k}": {} for k in range(14)}},
                         "flores-en-sw": {"n": 400, "pairs": {"en-sw": {}}}}}
    rates = pv.measured_rates(design, {("xnli", "baseline", 7): rec})
    assert rates["sec_per_step"]["xnli"] == pytest.approx(10.0)
    assert rates["sec_per_probe_sentence"] == pytest.approx(68.0 / (400 * 15 + 400 * 2))
    rows = {g.split(" (")[0]: h for g, _, h, _ in pv.plan_costs(design, {("xnli", "baseline", 7): rec})}
    # 24 trials of 282 steps at 10 s (adv trials 2 or 4 passes) + 4 selection passes of 600 items each
    passes = 6 + 6 + 6 + (5 * 2 + 4)
    expected = (282 * 10 * passes + 24 * 4 * 600 * 10 / 96) / 3600
    assert rows["tuning xnli"] == pytest.approx(expected)
    assert rows["tuning pawsx"] is None  # nothing measured for that task
    assert rows["main rerun with the chosen settings"] is None  # needs both tasks measured
    v3 = pv.v3_main_design(design)
    assert v3.tasks["pawsx"].epochs == 3.0 and v3.tasks["xnli"].generalized_n == 400
    steps = math.ceil(701 / 32) * 10
    assert rows["SIB-200 arm"] > 25 * steps * 10 / 3600  # at least the training of its 25 runs
