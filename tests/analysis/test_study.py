"""The study package on tiny synthetic result files with hand-computed values; units with injected steps."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from analysis.study import aggregate as agg
from analysis.study.alignment_change import alignment_rows, seed_agreement
from analysis.study.design import make_design
from analysis.study.probe import alignment
from analysis.study.units import Hooks, run_all, train_kwargs, unit_path

# seeds 7, 8; sw items: rs-rp -> [[1,0,1,1],[1,1,0,1]] (0.75), baseline -> [[0,0,1,1],[1,0,0,1]] (0.5)
SW = {("rs-rp", 7): "1011", ("rs-rp", 8): "1101", ("baseline", 7): "0011", ("baseline", 8): "1001"}


def _design(**kw):
    """The CPU design with XNLI reporting en and sw only (the languages of the synthetic records)."""
    d = make_design("cpu", **kw)
    return dataclasses.replace(d, tasks={**d.tasks, "xnli": dataclasses.replace(d.tasks["xnli"],
                                                                                report={"test": ("en", "sw")})})


DESIGN = _design().to_dict()


def _align(values_by_layer: list[float]) -> dict:
    p = {"value": values_by_layer, "ci95": [[0, 1]] * len(values_by_layer), "correct": ["1"] * len(values_by_layer)}
    return {"xnli-dev": {"n": 4, "layers": list(range(len(values_by_layer))),
                         "pairs": {"en-sw": {"p1_fwd": p, "p1_bwd": p, "cka": p}}}}


def _record(method: str, seed: int | None, sw: str | None = None, layers=(0.2, 0.6, 0.4)) -> dict:
    rec = {"unit": {"task": "xnli", "method": method, "seed": seed}, "design": DESIGN, "versions": {},
           "data": {"probe": {}}, "alignment": _align(list(layers))}
    if sw is not None:
        rec["eval"] = {"splits": {"test": {"correct": {"en": "1111", "sw": sw}}},
                       "generalized": {"languages": ["en", "sw"], "correct": [["1111", sw], [sw, "1111"]]}}
    return rec


def _write(results_dir: Path, rec: dict) -> None:
    u = rec["unit"]
    path = unit_path(results_dir, u["task"], u["method"], u["seed"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))


@pytest.fixture()
def results_dir(tmp_path: Path) -> Path:
    d = tmp_path / "results"
    _write(d, _record("pretrained", None))
    for (method, seed), sw in SW.items():
        layers = (0.1, 0.5, 0.3) if method == "baseline" else (0.1, 0.8 if seed == 7 else 0.6, 0.3)
        _write(d, _record(method, seed, sw, layers))
    return d


def test_accuracy_and_paired_tests_by_hand(results_dir):
    results = agg.load_results(results_dir)
    assert set(results) == {("xnli", "pretrained", None), *(("xnli", m, s) for m, s in SW)}
    rows = {(r["method"], r["lang"]): r for r in agg.accuracy_rows(results, "xnli", n_boot=200, seed=0)}
    assert rows[("rs-rp", "sw")]["accuracy"] == pytest.approx(0.75)
    assert rows[("rs-rp", "sw")]["per_seed"] == pytest.approx([0.75, 0.75])
    assert rows[("baseline", "sw")]["accuracy"] == pytest.approx(0.5)
    tests = {(t["column"]): t for t in agg.paired_tests(results, "xnli", n_boot=20000, seed=0)
             if t["method"] == "rs-rp"}
    sw = tests["test:sw"]
    # seed-aware bootstrap: each seed's sw difference is one 1 among 4 items (seed 7 [1,0,0,0], seed 8
    # [0,1,0,0]), so whichever seeds are drawn, delta* = (K1 + K2) / 8 with K1 + K2 ~ Bin(8, 1/4):
    # P(delta* <= 0) = (3/4)^8 = 0.1001 -> p = 0.200; quantiles 0 and 5/8 (P(K <= 4) = 0.973 < 0.975)
    assert sw["delta"] == pytest.approx(0.25) and sw["n_seeds"] == 2 and sw["n_items"] == 4
    assert sw["seed_deltas"] == [0.25, 0.25]
    assert sw["ci95"] == [0.0, 0.625]
    assert sw["p_value"] == pytest.approx(2 * 0.75 ** 8, abs=0.01)
    assert (sw["claim"], sw["claim_reason"]) == (0, "2 seed(s), fewer than 3")  # the one rule needs 3 seeds
    assert tests["test:en"]["delta"] == 0.0 and tests["test:en"]["p_value"] == 1.0
    # Holm over the language family {en: 1.0, sw: p}: sw -> 2p, en -> max(2p, 1) = 1
    assert sw["p_holm"] == pytest.approx(min(1.0, 2 * sw["p_value"]))
    assert tests["test:en"]["p_holm"] == 1.0
    # zero-shot (non-English: sw only) equals the sw test; generalized cells are sw-only too
    assert tests["zero-shot"]["delta"] == pytest.approx(0.25)
    assert tests["generalized"]["delta"] == pytest.approx(0.25)
    assert tests["zero-shot"]["family"] == "primary"
    # generalized cells with sw (en→sw and sw→en, both the sw string): the same +0.25, in its own family
    assert tests["generalized:sw"]["delta"] == pytest.approx(0.25)
    assert tests["generalized:sw"]["family"] == "generalized-languages:rs-rp"
    assert tests["generalized:sw"]["p_holm"] == tests["generalized:sw"]["p_value"]  # a family of one
    # mixed − same language: mixed cells are the sw strings, same cells all correct -> sw − 1; Δ = +0.25
    assert tests["mixed-same"]["delta"] == pytest.approx(0.25)
    assert tests["mixed-same"]["family"] == "generalized-control"


def test_layer_rule_and_link_points_by_hand(results_dir):
    results = agg.load_results(results_dir)
    assert agg.chosen_layer(results, "xnli") == 1  # pre-trained P@1 per layer 0.2, 0.6, 0.4
    pts = {p["seed"]: p for p in agg.link_points(results, "xnli", 1)}
    assert pts[7]["d_align"] == pytest.approx(0.3) and pts[8]["d_align"] == pytest.approx(0.1)
    assert pts[7]["d_acc"] == pytest.approx(0.75 - 0.5) and pts[8]["d_acc"] == pytest.approx(0.75 - 0.5)
    out = agg.aggregate(results, n_boot=50)
    assert out["xnli"]["layer"] == 1 and "link" in out["xnli"]


def test_alignment_of_planted_embeddings():
    rng = np.random.default_rng(0)
    en = rng.normal(size=(3, 20, 8))
    emb = {"c": {"en": en, "sw": en.copy(), "ur": rng.normal(size=(3, 20, 8))}}
    out = alignment(emb, reference=emb, n_boot=20, device="cpu")["c"]
    assert out["pairs"]["en-sw"]["p1_fwd"]["value"] == [1.0, 1.0, 1.0]
    assert out["pairs"]["en-sw"]["p1_fwd"]["correct"][0] == "1" * 20
    assert out["pairs"]["en-sw"]["cka"]["value"] == pytest.approx([1.0, 1.0, 1.0])
    assert out["model_cka"]["ur"]["value"] == pytest.approx([1.0, 1.0, 1.0])
    assert out["pairs"]["en-ur"]["cka"]["value"][0] < 0.9


def _hooks(calls: list) -> Hooks:
    rng = np.random.default_rng(1)
    base = rng.normal(size=(2, 6, 4))

    def train(kwargs):
        calls.append(kwargs)
        return {"eval": {"splits": {"test": {"correct": {"en": "1010"}}}}, "select": {"best_step": 1}, "steps": 3}

    return Hooks(train=train, load_encoder=lambda spec, device: spec,
                 embed=lambda enc, corpora: {"c": {"en": base, "sw": base + 0.01}},
                 prepare_data=lambda design, task, root, out: {"test": {"n": 4}},
                 probe_corpora=lambda design, task, root: {"c": {"en": ["a"] * 6, "sw": ["b"] * 6}},
                 labels=lambda kwargs: {"label_names": ["a", "b"], "splits": {"test": {"labels": "0101"}}})


def test_units_skip_finished_ones_and_never_retrain(tmp_path):
    design = make_design("cpu", seeds=(7,))
    train_file = tmp_path / "data" / "mnli_en_9k" / "train.jsonl"
    train_file.parent.mkdir(parents=True)
    train_file.write_text("{}\n")
    calls: list = []
    kw = dict(data_root=tmp_path / "data", results_dir=tmp_path / "results", work_dir=tmp_path / "work",
              tasks=("xnli",), hooks=_hooks(calls))
    written = run_all(design, **kw)
    n_units = len(design.units(("xnli",)))
    assert len(written) == n_units and len(calls) == n_units - 1  # the pre-trained unit does not train
    rec = json.loads(unit_path(tmp_path / "results", "xnli", "baseline", 7).read_text())
    assert rec["eval"]["splits"]["test"]["correct"]["en"] == "1010" and rec["steps"] == 3
    assert rec["alignment"]["c"]["pairs"]["en-sw"]["p1_fwd"]["value"] == [1.0, 1.0]
    assert "model_cka" in rec["alignment"]["c"] and rec["train_config"]["seed"] == 7
    assert rec["labels"]["splits"]["test"]["labels"] == "0101"  # new units store their items' gold labels
    run_all(design, **kw)  # a rerun finds every JSON: nothing trains
    assert len(calls) == n_units - 1
    unit_path(tmp_path / "results", "xnli", "adv", 7).unlink()
    run_all(design, **kw)  # only the removed unit runs again
    assert len(calls) == n_units and calls[-1]["method"] == "adv"


def test_chunk_limit_starts_no_unit_after_the_budget(tmp_path):
    design = make_design("cpu", seeds=(7,))
    calls: list = []
    ticks = iter([0.0, 0.0, 10_000.0, 10_000.0, 10_000.0])
    written = run_all(design, data_root=tmp_path, results_dir=tmp_path / "r", work_dir=tmp_path / "w",
                      tasks=("xnli",), max_hours=1.0, hooks=_hooks(calls), clock=lambda: next(ticks))
    assert len(written) == 1  # the pre-trained probe ran, then the clock passed one hour


def test_train_kwargs_of_the_offline_pair_take_equal_steps(tmp_path):
    design = make_design("cpu")
    rsda = train_kwargs(design, "xnli", "rs-da-offline", 7, run_dir=tmp_path, data_dir=tmp_path, data_root=tmp_path)
    long = train_kwargs(design, "xnli", "baseline-long", 7, run_dir=tmp_path, data_dir=tmp_path, data_root=tmp_path)
    assert (rsda["method"], rsda["rsda_copies"], rsda["n_train"], rsda["epochs"]) == ("rs-da", 3, 3000, 1.0)
    assert (long["method"], long["n_train"], long["epochs"]) == ("baseline", 3000, 3.0)
    assert rsda["freeze_embeddings"] and rsda["seed"] == long["seed"] == 7


def test_rendering_with_missing_units_shows_the_banner(results_dir, tmp_path):
    from analysis.study.render import rewrite

    design = _design(seeds=(7, 8))
    md, html = tmp_path / "RESULTS.md", tmp_path / "report.html"
    missing = rewrite(design, results_dir, md, html, n_boot=50)
    text, appendix = md.read_text(), (tmp_path / "RESULTS_appendix.md").read_text()
    assert "Incomplete" in text and "`xnli/adv/seed7`" in text and "`pawsx/pretrained/pretrained`" in text
    assert len(missing) == len(design.units()) - 5
    verdict = text.split("## Verdict")[1].split("## ")[0]
    numbered = [x for x in verdict.splitlines() if x[:1].isdigit()]
    assert 1 <= len(numbered) <= 10 and "no robust method raises zero-shot accuracy" in verdict
    # the method × task row: zero-shot, generalized and English Δ with seeds agreeing (2 of 2; en: no difference)
    assert "| xnli | rs-rp − baseline | +0.250 [+0.000, +0.500] | +0.250 [" in text and "| 2/2 / 2/2 / 0/2 |" in text
    assert "| rs-rp − baseline | test:sw | +0.250 [" in appendix  # the long tables live in the appendix
    assert "no claim (2 seed(s), fewer than 3)" in appendix
    # transfer control: English is all correct here, so the gap is the sw accuracy minus 1 (0.75 - 1, 0.5 - 1)
    assert "| rs-rp − baseline | transfer gap (xx − en, same items) | test:sw | -0.250 | -0.500 | +0.250 [" in appendix
    assert "- xnli rs-rp − baseline transfer control (seeds [7, 8]): gap +0.250 [" in text
    page = html.read_text()
    assert '<script src="http' not in page and 'Content-Security-Policy" content="default-src' in page  # offline
    assert "Placeholder: no SIB-200 unit is committed yet" in page
    first = (text, appendix, page)
    rewrite(design, results_dir, md, html, n_boot=50)
    assert (md.read_text(), (tmp_path / "RESULTS_appendix.md").read_text(), html.read_text()) == first  # identical


def test_units_of_another_design_are_refused_with_the_file_named(results_dir, tmp_path):
    from analysis.study.render import rewrite

    design = _design(seeds=(7, 8))
    agg.check_design(agg.load_results(results_dir), design.to_dict(), results_dir)  # same design: accepted
    rec = json.loads(unit_path(results_dir, "xnli", "rs-rp", 8).read_text())
    rec["design"]["tasks"]["xnli"]["learning_rate"] = 5e-5
    rec["design"]["seeds"] = [8]  # the seed list a run was started with is free
    _write(results_dir, rec)
    with pytest.raises(agg.DesignMismatch, match=r"rs-rp/seed8\.json.*tasks\.xnli\.learning_rate: recorded 5e-05"):
        rewrite(design, results_dir, tmp_path / "R.md", tmp_path / "r.html", n_boot=10)
    assert not (tmp_path / "R.md").exists()
    rec["design"]["tasks"]["xnli"]["learning_rate"] = design.tasks["xnli"].learning_rate
    rec["design"]["tasks"]["pawsx"]["learning_rate"] = 5e-5  # the other task's entry does not matter
    _write(results_dir, rec)
    agg.check_design(agg.load_results(results_dir), design.to_dict(), results_dir)


def test_only_the_named_units_run(tmp_path):
    from analysis.study.units import parse_units

    design = make_design("cpu")
    only = parse_units(design, ["pawsx/adv/seed8", "xnli/baseline/seed9"])
    assert only == [("xnli", "baseline", 9), ("pawsx", "adv", 8)]  # design order
    with pytest.raises(ValueError, match="xnli/adv/seed3 not in the cpu design"):
        parse_units(design, ["xnli/adv/seed3"])
    for rel in (design.tasks["xnli"].train_file, design.tasks["pawsx"].train_file):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}\n")
    calls: list = []
    written = run_all(design, data_root=tmp_path, results_dir=tmp_path / "r", work_dir=tmp_path / "w",
                      hooks=_hooks(calls), only=only)
    assert [c["method"] for c in calls] == ["baseline", "adv"] and len(written) == 2
    assert {(c["task"], c["seed"]) for c in calls} == {("xnli", 9), ("pawsx", 8)}


def _probe_record(method: str, seed: int | None, fwd: str, bwd: str, cka: float, moved: float | None) -> dict:
    """One unit whose probe holds a 2-layer en-sw pair; layer 1 carries the per-sentence hits ``fwd``/``bwd``."""
    p1 = {"value": [0.0, 0.0], "ci95": [[0, 1]] * 2, "correct": ["0000", fwd]}
    p1b = {"value": [0.0, 0.0], "ci95": [[0, 1]] * 2, "correct": ["0000", bwd]}
    block = {"n": 4, "layers": [0, 1], "pairs": {"en-sw": {"p1_fwd": p1, "p1_bwd": p1b,
                                                           "cka": {"value": [0.1, cka], "ci95": [[0, 1]] * 2}}}}
    if moved is not None:
        block["model_cka"] = {"sw": {"value": [1.0, moved], "ci95": [[0, 1]] * 2}}
    rec = {"unit": {"task": "xnli", "method": method, "seed": seed}, "design": DESIGN, "alignment": {"xnli-dev": block}}
    if seed is not None:
        rec["select"] = {"best_step": 20, "accuracy": 0.5 + seed / 100,
                         "curve": [{"step": 10, "value": 0.4}, {"step": 20, "value": 0.5 + seed / 100}]}
        rec["timings"] = {"train_s": 10.0, "unit_s": 12.0}
    return rec


def test_alignment_before_and_after_by_hand():
    # per-sentence P@1 at layer 1 = (fwd + bwd) / 2
    results = {("xnli", "pretrained", None): _probe_record("pretrained", None, "1111", "1110", 0.8, None),  # .875
               ("xnli", "baseline", 7): _probe_record("baseline", 7, "1100", "1100", 0.6, 0.5),   # [1, 1, 0, 0]
               ("xnli", "baseline", 8): _probe_record("baseline", 8, "1000", "1100", 0.4, 0.7),   # [1, .5, 0, 0]
               ("xnli", "rs-rp", 7): _probe_record("rs-rp", 7, "1110", "1111", 0.7, 0.8),         # [1, 1, 1, .5]
               ("xnli", "rs-rp", 8): _probe_record("rs-rp", 8, "1110", "1100", 0.5, 0.6)}         # [1, 1, .5, 0]
    rows = {r["method"]: r for r in alignment_rows(results, "xnli", 1, n_boot=200, seed=0)}
    base, rsrp = rows["baseline"], rows["rs-rp"]
    assert base["p1_pretrained"] == pytest.approx(0.875)
    assert base["p1"] == pytest.approx((0.5 + 0.375) / 2)
    assert base["vs_pretrained"]["delta"] == pytest.approx(0.4375 - 0.875)
    assert rsrp["p1"] == pytest.approx((0.875 + 0.625) / 2)
    assert rsrp["vs_reference"]["delta"] == pytest.approx(0.75 - 0.4375)
    assert rsrp["vs_reference"]["reference"] == "baseline" and rsrp["vs_reference"]["seeds"] == [7, 8]
    assert rsrp["vs_reference"]["p_holm"] == pytest.approx(rsrp["vs_reference"]["p_value"])  # one test per family
    # per matched seed: seed 7 0.875 − 0.5, seed 8 0.625 − 0.375
    assert rsrp["vs_reference"]["seed_deltas"] == pytest.approx([0.375, 0.25])
    assert rsrp["vs_reference"]["collapsed_seeds"] == []
    assert "vs_reference" not in base
    assert rsrp["cka"] == pytest.approx(0.6) and rsrp["cka_range"] == [0.5, 0.7]
    assert base["model_cka"] == pytest.approx(0.6) and base["model_cka_range"] == [0.5, 0.7]
    assert base["cka_pretrained"] == pytest.approx(0.8)
    sel = agg.selection_rows(results, "xnli")
    assert [(r["method"], r["seed"]) for r in sel] == [("baseline", 7), ("baseline", 8), ("rs-rp", 7), ("rs-rp", 8)]
    assert [r["accuracy"] for r in sel] == pytest.approx([0.57, 0.58, 0.57, 0.58])
    assert sel[0]["curve"] == [(10, 0.4), (20, pytest.approx(0.57))] and sel[0]["best_step"] == 20


def test_alignment_vs_reference_leaves_out_collapsed_runs_and_reads_seed_agreement():
    results = {("xnli", "pretrained", None): _probe_record("pretrained", None, "1111", "1110", 0.8, None),
               ("xnli", "baseline", 7): _probe_record("baseline", 7, "1100", "1100", 0.6, 0.5),
               ("xnli", "baseline", 8): _probe_record("baseline", 8, "1000", "1100", 0.4, 0.7),
               ("xnli", "rs-rp", 7): _probe_record("rs-rp", 7, "1110", "1111", 0.7, 0.8),
               ("xnli", "rs-rp", 8): _probe_record("rs-rp", 8, "1111", "1111", 0.5, 0.6)}
    # rs-rp seed 8 answered one class: the same correctness string in every language of its split
    results[("xnli", "rs-rp", 8)]["eval"] = {"splits": {"test": {"correct": {"en": "0101", "sw": "0101"}}}}
    results[("xnli", "rs-rp", 7)]["eval"] = {"splits": {"test": {"correct": {"en": "0111", "sw": "0101"}}}}
    rows = {r["method"]: r for r in alignment_rows(results, "xnli", 1, n_boot=200, seed=0)}
    ref = rows["rs-rp"]["vs_reference"]
    assert ref["seeds"] == [7] and ref["collapsed_seeds"] == [8]
    assert ref["delta"] == pytest.approx(0.875 - 0.5) and ref["seed_deltas"] == pytest.approx([0.375])
    assert rows["rs-rp"]["p1"] == pytest.approx((0.875 + 1.0) / 2)  # vs pre-trained keeps every seed
    assert seed_agreement([ref]) == (pytest.approx([0.375]), False)  # one seed: no agreement to read
    two = [{"seed_deltas": [0.2, -0.1]}, {"seed_deltas": [0.0, -0.1]}]
    assert seed_agreement(two) == (pytest.approx([0.1, -0.1]), False)
    assert seed_agreement([{"seed_deltas": [0.2, 0.1]}, {"seed_deltas": [0.0, -0.05]}]) == (
        pytest.approx([0.1, 0.025]), True)


def test_bar_check_reads_the_baseline_seeds():
    from analysis.study.appendix import bar_check, selection_lines

    def row(method, seed, acc, curve=((5, 0.50), (10, None))):
        return {"method": method, "seed": seed, "curve": [(st, acc if v is None else v) for st, v in curve],
                "best_step": 10, "accuracy": acc, "steps": 10, "train_s": 1, "unit_s": 2, "n_select": 600}

    rows = [row("baseline", 7, 0.62), row("rs-rp", 7, 0.5)]
    assert bar_check("xnli", rows)[0] == "met"
    assert any("Every finished baseline seed reaches the bar (seed 7 0.620; bar 0.60)" in x
               for x in selection_lines("xnli", rows))
    rows.append(row("baseline", 8, 0.59))  # mean 0.605: met on the mean, not by every seed
    verdict, text = bar_check("xnli", rows)
    assert verdict == "mean" and "seed(s) 8 fall below it, by at most 0.010" in text
    rows[0]["accuracy"] = 0.61  # mean 0.600 exactly: the bar is >=
    assert bar_check("xnli", rows)[0] == "mean"
    rows = [row("baseline", 7, 0.61), row("baseline", 8, 0.587, ((5, 0.497), (10, None)))]  # session 5: mean 0.5985
    verdict, text = bar_check("xnli", rows)
    se = (0.5985 * 0.4015 / 600) ** 0.5  # 0.0200
    assert verdict == "missed" and "(0.5985 < 0.60; seed 7 0.610, seed 8 0.587) by 0.0015" in text
    assert f"({0.0015 / se:.1f} sampling SEs" in text and "SE of about 0.020" in text
    assert "mean gain +0.100" in text  # curves 0.50 -> 0.61 and 0.497 -> 0.587: (0.110 + 0.090) / 2
    assert bar_check("xnli", [row("rs-rp", 7, 0.7)])[0] == "none"


def test_a_unit_held_by_another_worker_is_skipped_not_repeated(tmp_path):
    from xalign.io import output_lock

    design = make_design("cpu", seeds=(7,))
    train_file = tmp_path / "data" / design.tasks["xnli"].train_file
    train_file.parent.mkdir(parents=True)
    train_file.write_text("{}\n")
    calls: list = []
    kw = dict(data_root=tmp_path / "data", results_dir=tmp_path / "r", work_dir=tmp_path / "w", tasks=("xnli",),
              hooks=_hooks(calls))
    with output_lock(tmp_path / "w" / "claims" / "cpu" / "xnli-rs-rp-seed7"):  # what a second worker holds
        run_all(design, **kw)
    assert "rs-rp" not in [c["method"] for c in calls] and not unit_path(tmp_path / "r", "xnli", "rs-rp", 7).exists()
    assert unit_path(tmp_path / "r", "xnli", "adv", 7).exists()  # the units after it still ran
    run_all(design, **kw)  # released: only the skipped unit runs now
    assert [c["method"] for c in calls].count("rs-rp") == 1 and unit_path(tmp_path / "r", "xnli", "rs-rp", 7).exists()


def test_workers_get_the_command_without_jobs(monkeypatch):
    import subprocess

    from analysis.study import run

    started = []

    class Proc:
        pid = 1

        def __init__(self, cmd, env, cwd):
            started.append((cmd, env["OMP_NUM_THREADS"]))

        def wait(self):
            return 0

    monkeypatch.setattr(subprocess, "Popen", Proc)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert run.run_workers(["--jobs", "2", "--max-hours", "1", "--jobs=2"], 2) == 0
    assert len(started) == 2 and all(t == "1" for _, t in started)
    assert started[0][0][1:] == ["-m", "analysis.study", "--max-hours", "1", "--no-rewrite"]


def test_each_scale_has_its_own_results(tmp_path):
    from analysis.study import run
    from analysis.study.units import RESULTS_DIR

    cpu = run.scale_paths(run.parse_args([]))
    full = run.scale_paths(run.parse_args(["--scale", "full"]))
    assert cpu[0] == RESULTS_DIR and full[0] == RESULTS_DIR / "full"
    assert (cpu[1].name, cpu[2].name) == ("RESULTS.md", "study_report.html")
    assert (full[1].name, full[2].name) == ("RESULTS_full.md", "study_report_full.html")
    # a full-scale unit under the CPU folder is refused, not compared
    rec = _record("baseline", 7, "1111")
    rec["design"] = make_design("full").to_dict()
    _write(tmp_path / "r", rec)
    with pytest.raises(agg.DesignMismatch, match="scale: recorded 'full', design 'cpu'"):
        agg.check_design(agg.load_results(tmp_path / "r"), make_design("cpu").to_dict(), tmp_path / "r")


def test_remaining_hours_from_measured_units(tmp_path):
    from analysis.study.run import remaining_hours

    design = make_design("cpu")
    assert remaining_hours(design, tmp_path, [("xnli", "adv", 7)]) is None  # nothing measured yet
    for method, seed, unit_s in (("baseline", 7, 1000.0), ("adv", 7, 4000.0)):  # per cost unit: 1000 and 2000
        rec = _record(method, seed, "1111")
        rec["timings"] = {"unit_s": unit_s}
        _write(tmp_path, rec)
    missing = [("xnli", "pretrained", None), ("xnli", "rs-rp", 8), ("xnli", "adv", 8)]
    assert remaining_hours(design, tmp_path, missing) == pytest.approx((1500 + 2 * 1500) / 3600)


def test_within_run_link_removes_differences_between_methods():
    # method A scores high everywhere but moved alignment little; B the reverse; inside each, languages agree
    pts = [{"method": m, "seed": 7, "lang": lg, "d_align": a, "d_acc": c}
           for m, aligns, accs in (("A", [0, 1, 2], [10, 11, 12]), ("B", [10, 11, 12], [0, 1, 2]))
           for lg, a, c in zip(("sw", "ur", "de"), aligns, accs)]
    out = agg.correlations(pts, "d_align", "d_acc", n_boot=50, seed=0)
    assert out["A"]["rho"] == pytest.approx(1.0) and out["B"]["rho"] == pytest.approx(1.0)
    # ranks: align 1..6, acc 4,5,6,1,2,3 -> d = [-3,-3,-3,3,3,3], Σd² = 54, ρ = 1 - 6·54/210
    assert out["pooled"]["rho"] == pytest.approx(1 - 6 * 54 / 210)
    assert out["within"]["rho"] == pytest.approx(1.0)  # centred: [-1, 0, 1] twice on both axes
    assert out["within"]["n_groups"] == 3


def test_link_reading_follows_the_ci():
    from analysis.study.summary import link_reading

    assert link_reading([0.05, 0.40]).startswith("a positive link") and "Gaschi" in link_reading([0.05, 0.40])
    assert link_reading([-0.40, -0.05]).startswith("a negative link")
    # issue 25: a null whose CI spans -0.26 to +0.18 is not "in line with Veitsman et al.": inconclusive
    wide = link_reading([-0.26, 0.18])
    assert wide.startswith("inconclusive") and "in line with" not in wide
    narrow = link_reading([-0.12, 0.15])  # the whole CI inside ±0.2: a null that says something
    assert narrow.startswith("no link beyond ±0.2") and "in line with Veitsman" in narrow
    assert link_reading([0.0, 0.3]).startswith("inconclusive")  # a CI touching 0 holds it


def test_gains_growing_with_distance_are_not_tested_without_gains():
    from analysis.study.summary import typology_reading

    typ = {"ci95": [-0.2, 0.3], "n_groups": 14}
    assert typology_reading(typ, gains=False).startswith("not tested: no method gains")
    assert typology_reading(typ, gains=True).startswith("not supported")
    assert typology_reading({"ci95": [0.1, 0.5], "n_groups": 14}, gains=True).startswith("the change in accuracy grows")
    assert typology_reading({"ci95": [0.1, 0.5], "n_groups": 6}, gains=True).startswith("cannot be tested")


def test_tuning_search_runs_once_and_is_reported_beside_the_baseline(results_dir, tmp_path):
    from analysis.study.render import rewrite
    from analysis.study.tuning import load_tuning, run_tuning, tuning_lines, tuning_path

    design = _design(seeds=(7, 8))
    calls: list = []

    def fake_train(kwargs):
        calls.append(kwargs)
        return {"select": {"best_step": 20, "accuracy": 0.62, "curve": [{"step": 10, "value": 0.5},
                                                                         {"step": 20, "value": 0.62}]},
                "data": {"n_select": 600}, "steps": 20}

    kw = dict(data_root=tmp_path / "data", results_dir=results_dir, work_dir=tmp_path / "w", tasks=("xnli",),
              train=fake_train, prepare=lambda *a: {})
    written = run_tuning(design, **kw)
    assert written == [tuning_path(results_dir, "xnli", v, 7) for v in ("mean-head", "lr-5e-5")] and len(calls) == 2
    c, lr = calls  # the design's baseline with the variant's change, English only
    assert (c["method"], c["head"], c["seed"], c["eval_langs"], c["generalized"]) == ("baseline", "mean", 7, ["en"],
                                                                                       False)
    assert c["learning_rate"] == design.tasks["xnli"].learning_rate and c["freeze_embeddings"] is True
    assert (lr["learning_rate"], "head" in lr) == (5e-5, False)  # one change per variant
    assert run_tuning(design, **kw) == [] and len(calls) == 2  # finished: never retrained
    tuning_path(results_dir, "xnli", "lr-5e-5", 7).unlink()  # keep one record for the rendering checks below
    assert len(agg.load_results(results_dir)) == 5  # the search's record is not read as a unit of the design
    tuning = load_tuning(results_dir)
    assert [r["tuning"]["variant"] for r in tuning["xnli"]] == ["mean-head"]

    def base(acc):
        return [{"method": "baseline", "seed": 7, "accuracy": acc, "curve": []}]

    lines = tuning_lines("xnli", tuning["xnli"], base(0.587), 0.60)
    row = next(x for x in lines if x.startswith("| mean-head"))
    assert row == "| mean-head (head=mean) | 7 | 10: 0.500, 20: 0.620 | 0.620 | 0.587 | +0.033 |"
    assert any("English dev 0.620 over 1 seed(s), +0.033 against" in x and "reaches the bar (0.60) where the "
               "design's setting does not" in x for x in lines)
    se = (2 * 0.62 * 0.38 / 600) ** 0.5  # 0.0280: a difference of two runs on the same 600 dev items
    assert any(f"better on English dev, by {0.02 / se:.1f} sampling SEs" in x and "SE 0.028" in x
               for x in tuning_lines("xnli", tuning["xnli"], base(0.60), 0.60))
    assert any("no better than the design's setting" in x for x in tuning_lines("xnli", tuning["xnli"], base(0.65),
                                                                                  0.60))
    for seed, acc in ((7, 0.61), (8, 0.587)):  # the baselines' selection: under the bar on the mean
        rec = json.loads(unit_path(results_dir, "xnli", "baseline", seed).read_text())
        rec["select"] = {"best_step": 20, "accuracy": acc, "curve": [{"step": 20, "value": acc}]}
        _write(results_dir, rec)
    md, html = tmp_path / "RESULTS.md", tmp_path / "report.html"
    rewrite(design, results_dir, md, html, n_boot=20)
    text = (tmp_path / "RESULTS_appendix.md").read_text()
    assert "| mean-head (head=mean) | 7 | 10: 0.500, 20: 0.620 | 0.620 | 0.610 | +0.010 |" in text
    assert "Tuning search (English dev only" in text and "| mean-head (head=mean) | 7 |" in text
    assert "the tuning search below tried other settings on English dev" in text


def test_time_words_count_core_hours_from_the_thread_record():
    from analysis.study.provenance import time_words

    results = {("xnli", "baseline", 7): {"timings": {"unit_s": 3600.0}, "host": {"torch_threads": 1}},
               ("xnli", "rs-rp", 7): {"timings": {"unit_s": 1800.0}, "host": {}},
               ("xnli", "adv", 7): {"timings": {"unit_s": 3600.0}, "host": {"torch_threads": 8}}}
    words = time_words(results, cores=2)
    # wall 2.5 h; core-hours 1×1 + 0.5×2 (no record: all cores) + 1×2 (capped at the machine's cores) = 4
    assert "measured 2.50 h summed" in words and "4.00 core-hours, i.e. about 2.00 h of a 2-core machine" in words
    assert "(1 unit(s) without a thread record" in words


def test_units_that_read_other_data_are_refused_and_stray_records_ignored(results_dir):
    design = DESIGN
    for (method, seed) in SW:
        rec = json.loads(unit_path(results_dir, "xnli", method, seed).read_text())
        rec["data"] = {"eval": {"test": {"sha256": {"en": "aa", "sw": "bb"}}}, "probe": {}}
        _write(results_dir, rec)
    agg.check_design(agg.load_results(results_dir), design, results_dir)  # same digests: accepted
    rec["data"]["eval"]["test"]["sha256"]["sw"] = "cc"
    _write(results_dir, rec)
    with pytest.raises(agg.DesignMismatch, match=r"baseline/seed8\.json: read other eval test data than .*seed7\.json"):
        agg.check_design(agg.load_results(results_dir), design, results_dir)
    # a tuning record two folders down (results/full/tuning/…) is not a unit and is not loaded
    stray = results_dir / "full" / "tuning" / "xnli-lr-seed7.json"
    stray.parent.mkdir(parents=True)
    stray.write_text(json.dumps({"tuning": {}}))
    assert ("xnli", "baseline", 8) in agg.load_results(results_dir)


def test_a_missing_reported_language_gives_no_zero_shot_score():
    rec = _record("rs-rp", 7, "1011")
    rec["design"] = {**DESIGN, "tasks": {**DESIGN["tasks"], "xnli": {**DESIGN["tasks"]["xnli"],
                                                                     "report": {"test": ["en", "sw", "ur"]}}}}
    assert agg.zero_shot_scores(rec, "xnli") is None  # ur is reported but absent: not a mean over sw alone
    rec["eval"]["splits"]["test"]["correct"]["ur"] = "0001"
    assert agg.zero_shot_scores(rec, "xnli").tolist() == [0.5, 0, 0.5, 1]


def test_link_reading_draws_nothing_from_few_languages_or_an_undefined_ci():
    from analysis.study.summary import MIN_CLUSTERS, link_reading

    assert link_reading([0.05, 0.40], n_groups=6).startswith("too few languages (6)")
    assert link_reading([0.05, 0.40], n_groups=MIN_CLUSTERS).startswith("a positive link")
    assert link_reading([float("nan"), float("nan")], n_groups=14).startswith("undefined")


def test_pooling_words_give_each_languages_weight_in_the_zero_shot_column():
    from analysis.study.provenance import pooling_words

    words = pooling_words(make_design("cpu"))
    # PAWS-X: two splits of 400 items; test has 4 non-English languages, dev 2 -> 1/(2·4) and 1/(2·2)
    assert "pawsx: test:de 1/8, test:fr 1/8, test:ko 1/8, test:zh 1/8, dev:es 1/4, dev:ja 1/4" in words
    assert "xnli: every non-English language equally" in words


def test_versions_are_one_line_when_shared_and_listed_per_unit_when_not():
    from analysis.study.provenance import versions_words

    same = {("xnli", "baseline", 7): {"versions": {"torch": "2.13.0", "xalign": "0.1.0"}},
            ("xnli", "rs-rp", 7): {"versions": {"xalign": "0.1.0", "torch": "2.13.0"}}}
    assert versions_words(same) == "Versions (all 2 units): torch 2.13.0, xalign 0.1.0"
    mixed = {**same, ("xnli", "adv", 7): {"versions": {"torch": "2.14.0", "xalign": "0.1.0"}}}
    words = versions_words(mixed)
    assert words.startswith("Versions differ between units: ")
    assert "torch 2.14.0, xalign 0.1.0 (`xnli/adv/seed7`)" in words
