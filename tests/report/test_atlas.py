"""The atlas report (many languages sharing one pivot): every drawn number equals metrics.json /
compare.json, the row orders equal hand sorting, Holm colouring equals a hand computation, and missing
language facts degrade to "unknown"."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.report.conftest import make_atlas_compare_run, make_atlas_probe_run, make_probe_run, make_train_run
from xalign.report import render_report, report_sections
from xalign.report.build_atlas import (accuracy_alignment_block, atlas_layer, compare_grids, is_atlas, pivot_of,
                                      probe_grids)
from xalign.report.figures_atlas import language_layer_heatmap, ranked_deltas, ranked_languages, sort_orders
from xalign.report.langmeta import LangMeta
from xalign.report.loaders import load_probe_run
from xalign.results.json_io import read_comparison, read_probe_metrics


@pytest.fixture(scope="module")
def atlas(tmp_path_factory):
    return make_atlas_probe_run(tmp_path_factory.mktemp("atlas") / "run", n_langs=30, n_layers=5)


def _p1(doc, pair, layer):
    block = doc["pairs"][pair]
    e = block["layers"][layer]["retrieval"]["csls"][f"{block['src_lang']}->{block['tgt_lang']}"]
    return e["p@1"], e["p@1_ci95"]


def test_many_pairs_with_one_pivot_are_an_atlas(atlas, tmp_path):
    result = read_probe_metrics(atlas / "metrics.json")
    assert is_atlas(result) and pivot_of(result.pairs) == "eng_Latn"
    assert not is_atlas(read_probe_metrics(make_probe_run(tmp_path / "p", pairs=("en-sw", "en-ur"), n=10)
                                           / "metrics.json"))
    _, subtitle, sections = report_sections(atlas)
    assert [s.title for s in sections] == ["Summary", "Languages × layers", "Run details"]
    assert "30 pairs" in subtitle


def test_heatmap_and_ranked_chart_hold_the_stored_values(atlas):
    doc = json.loads((atlas / "metrics.json").read_text(encoding="utf-8"))
    grids = probe_grids(read_probe_metrics(atlas / "metrics.json"))
    assert grids[0].metric == "CSLS P@1 eng_Latn→xx" and grids[-1].metric == "linear CKA"
    fig = language_layer_heatmap(grids, layer=2)
    (hm,) = fig.data
    pairs = list(doc["pairs"])
    for i in (0, 7, 29):
        assert hm.y[i] == doc["pairs"][pairs[i]]["tgt_lang"]
        assert [hm.z[i][j] for j in range(5)] == [_p1(doc, pairs[i], j)[0] for j in range(5)]
    # the metric menu swaps z for another grid's values
    cka = fig.layout.updatemenus[1].buttons[-1]
    assert cka.label == "linear CKA"
    assert cka.args[0]["z"][0][3][1] == doc["pairs"][pairs[3]]["layers"][1]["cka"]["linear"]
    ranked = ranked_languages(grids[0], layer=2)
    by_code = {x: y for t in ranked.data for x, y in zip(t.x, t.y)}
    expected = sorted(((_p1(doc, p, 2)[0], doc["pairs"][p]["tgt_lang"]) for p in pairs), key=lambda v: -v[0])
    assert list(ranked.layout.xaxis.categoryarray) == [code for _, code in expected]
    assert by_code == {code: v for v, code in expected}
    t = ranked.data[0]
    value, (lo, hi) = _p1(doc, f"eng_Latn-{t.x[0]}", 2)
    assert t.error_y.array[0] == pytest.approx(hi - value) and t.error_y.arrayminus[0] == pytest.approx(value - lo)


def _meta(code, family, script, seen):
    return LangMeta(code=code, name=code.upper(), script=script, family=family, seen=seen)


def test_sort_orders_match_hand_sorting():
    from xalign.report.figures_atlas import AtlasGrid

    langs = [_meta("a", "F1", "Latn", True), _meta("b", "F2", "Arab", False), _meta("c", "F1", "Arab", None),
             _meta("d", None, "Latn", True), _meta("e", "F1", "Latn", False)]
    v = np.array([[0.1], [0.9], [0.5], [0.7], [0.3]])
    grid = AtlasGrid("m", langs, [4], v, v, v)
    orders = sort_orders(grid, 4)
    assert orders["score"] == ["b", "d", "c", "e", "a"]
    assert orders["family"] == ["c", "e", "a", "b", "d"]  # largest family first, by score inside, unknown last
    assert orders["script"] == ["d", "e", "a", "b", "c"]  # Latn (3) before Arab (2)
    assert orders["pre-training"] == ["d", "a", "b", "e", "c"]  # seen, unseen, unknown
    assert orders["code"] == ["a", "b", "c", "d", "e"]
    fig = language_layer_heatmap([grid], layer=4)
    buttons = {b.label: b.args[0]["yaxis.categoryarray"] for b in fig.layout.updatemenus[0].buttons}
    assert list(buttons["sort: family"]) == orders["family"][::-1]  # plotly draws the first category at the bottom
    assert fig.data[0].customdata[2][0] == "C · Arab · F1"  # name, script, family on hover


def test_atlas_layer_is_the_best_mean_or_the_requested_one():
    from xalign.report.figures_atlas import AtlasGrid

    v = np.array([[0.1, 0.5, 0.4], [0.3, 0.2, np.nan]])  # means 0.2, 0.35, 0.4 (NaN not counted)
    grid = AtlasGrid("m", [_meta("a", None, None, None), _meta("b", None, None, None)], [0, 6, 12], v, v, v)
    assert atlas_layer(grid, None)[0] == 12 and "averaged over the 2 languages (0.400)" in atlas_layer(grid, None)[1]
    assert atlas_layer(grid, 6)[0] == 6


def test_compare_atlas_colours_by_holm_against_a_hand_computation(tmp_path):
    # 10 languages; by hand, Holm (m = 10) over the sorted p: 0.001·10 = 0.01, 0.004·9 = 0.036, 0.006·8 = 0.048,
    # 0.02·7 = 0.14, 0.04·6 = 0.24, 0.2·5 = 1, then 1 (capped; running maximum) → the first three are significant
    p = [0.2, 0.001, 0.02, 0.004, 0.5, 0.9, 0.006, 0.3, 0.04, 0.7]
    d = [0.05, 0.10, 0.08, -0.07, 0.0, 0.01, 0.03, -0.02, 0.06, 0.02]
    root = make_atlas_compare_run(tmp_path / "cmp", n_langs=10, n_layers=3, p_values=p, deltas=d)
    comparison = read_comparison(root / "compare.json")
    _, deltas = compare_grids(comparison, "after")
    np.testing.assert_allclose(deltas[0].p_holm[:, 1], [1.0, 0.01, 0.14, 0.036, 1.0, 1.0, 0.048, 1.0, 0.24, 1.0])
    fig = ranked_deltas(deltas[0], layer=1)
    by_sig = {t.meta["sig"]: set(t.x) for t in fig.data}
    codes = [m.code for m in deltas[0].langs]
    assert by_sig["gain"] == {codes[1], codes[6]} and by_sig["loss"] == {codes[3]}
    assert len(by_sig["n.s."]) == 7
    html = render_report(root)
    assert "2 language(s) gained and 1 lost significantly (Holm across the 10 tested languages" in html


def test_accuracy_against_alignment_matches_languages_by_code(tmp_path):
    root = make_atlas_probe_run(tmp_path / "tr", n_langs=12, n_layers=4)
    probe = load_probe_run(root)
    grid = probe_grids(probe.metrics)[0]
    layer, _ = atlas_layer(grid, None)
    codes = [m.code for m in grid.langs]
    accuracy = {code: 0.3 + 0.05 * i for i, code in enumerate(codes[:9])} | {"eng_Latn": 0.9}
    block = accuracy_alignment_block(probe, {"accuracy": accuracy}, chance=1 / 7)
    xs = {c: x for t in block.data for c, x, y in zip(t.text, t.x, t.y)}
    ys = {c: y for t in block.data for c, x, y in zip(t.text, t.x, t.y)}
    assert set(xs) == set(codes[:9])  # English (the pivot) has no alignment value; 3 languages no accuracy
    doc = json.loads((root / "metrics.json").read_text(encoding="utf-8"))
    assert xs[codes[4]] == _p1(doc, f"eng_Latn-{codes[4]}", layer)[0] and ys[codes[4]] == accuracy[codes[4]]
    assert "Spearman ρ" in block.layout.title.text
    assert accuracy_alignment_block(probe, {"accuracy": {codes[0]: 0.5}}, chance=None) is None


def test_train_run_with_an_atlas_probe_draws_accuracy_against_alignment(tmp_path):
    root = make_atlas_probe_run(tmp_path / "t", n_langs=10, n_layers=3)
    make_train_run(root)
    doc = json.loads((root / "train_metrics.json").read_text(encoding="utf-8"))
    codes = [json.loads((root / "metrics.json").read_text(encoding="utf-8"))["pairs"][p]["tgt_lang"]
             for p in json.loads((root / "metrics.json").read_text(encoding="utf-8"))["pairs"]]
    doc["eval"] = {"accuracy": {c: 0.2 + 0.05 * i for i, c in enumerate(codes)}}
    doc["config"]["label_names"] = [str(i) for i in range(7)]
    (root / "train_metrics.json").write_text(json.dumps(doc), encoding="utf-8")
    _, _, sections = report_sections(root)
    keys = {t.meta.get("key") for s in sections if s.title == "Training" for b in s.blocks
            for t in getattr(b, "data", [])}
    assert "atlas.accuracy_vs_alignment" in keys
    assert "Languages × layers" in [s.title for s in sections]


def test_unknown_languages_degrade_to_what_the_code_says(monkeypatch):
    import xalign.report.langmeta as lm

    lm.language_meta.cache_clear()
    monkeypatch.setattr(lm, "_from_table", lambda code: None)  # as if the language table were not installed
    try:
        meta = lm.language_meta("xyz_Cyrl")
        assert (meta.script, meta.family, meta.seen) == ("Cyrl", None, None)
        assert meta.describe() == "xyz_Cyrl · Cyrl" and meta.seen_label == "unknown"
    finally:
        lm.language_meta.cache_clear()


def test_report_of_an_atlas_probe_with_a_separate_train_run(tmp_path, capsys):
    from xalign.cli.main import main

    probe = make_atlas_probe_run(tmp_path / "atlas", n_langs=9, n_layers=3)
    train = make_train_run(tmp_path / "train")
    doc = json.loads((train / "train_metrics.json").read_text(encoding="utf-8"))
    codes = [p["tgt_lang"] for p in json.loads((probe / "metrics.json").read_text(encoding="utf-8"))["pairs"].values()]
    doc["eval"] = {"accuracy": {c: 0.3 + 0.01 * i for i, c in enumerate(codes)}}
    (train / "train_metrics.json").write_text(json.dumps(doc), encoding="utf-8")
    _, _, sections = report_sections(probe, train=train)
    assert [s.title for s in sections][:3] == ["Summary", "Languages × layers", "Accuracy against alignment"]
    (fig,) = sections[2].blocks
    assert sorted(x for t in fig.data for x in t.text) == sorted(codes)
    assert fig.layout.shapes[0].y0 == pytest.approx(1 / 3)  # XNLI's three labels: the chance line
    out = tmp_path / "r.html"
    assert main(["-q", "report", str(probe), "--train", str(train), "--out", str(out)]) == 0
    assert "accuracy against alignment per language" in out.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="is a train run, not a probe run"):
        report_sections(train, train=train)
    doc["eval"] = {}
    (train / "train_metrics.json").write_text(json.dumps(doc), encoding="utf-8")
    assert main(["-q", "report", str(probe), "--train", str(train), "--out", str(out)]) == 2
    assert "expected eval.accuracy per language" in capsys.readouterr().err


def test_group_curves_are_the_means_of_seen_and_unseen_languages():
    from xalign.report.figures_atlas import AtlasGrid, group_curves

    langs = [_meta("a", None, None, True), _meta("b", None, None, False), _meta("c", None, None, True)]
    v = np.array([[0.2, 0.6], [0.1, np.nan], [0.4, 0.8]])
    fig = group_curves(AtlasGrid("m", langs, [0, 1], v, v, v))
    means = {t.meta["seen"]: (list(t.x), list(t.y)) for t in fig.data if t.meta["key"] == "atlas.group_mean"}
    assert means[True] == ([0, 1], [pytest.approx(0.3), pytest.approx(0.7)])
    assert means[False] == ([0], [pytest.approx(0.1)])  # a layer without values is left out
    assert "2 languages" in [t.name for t in fig.data if t.meta.get("seen") is True and t.name][0]


def test_compare_atlas_lists_every_language_with_its_delta(tmp_path):
    p = [0.001] + [0.5] * 8
    d = [-0.00031] + [0.01 * i for i in range(8)]
    root = make_atlas_compare_run(tmp_path / "cmp", n_langs=9, n_layers=3, p_values=p, deltas=d)
    html = render_report(root, layer=1)
    code = read_comparison(root / "compare.json").pairs
    first = next(iter(code.values())).tgt_lang
    # the one significant loss, with enough digits that its Δ is not "-0.000", and the Holm-adjusted p (0.009)
    assert f"<td>loss</td><td>{first}</td>" in html and "-0.00031" in html and "p = 0.009" in html
    assert "Δ for each of the 9 languages" in html
    _, _, sections = report_sections(root)
    keys = [t.meta.get("key") for s in sections for b in s.blocks for t in getattr(b, "data", [])]
    assert "atlas.group_mean" in keys and "atlas.delta" in keys and "atlas.heatmap" in keys
