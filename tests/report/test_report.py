"""write_report end to end on fabricated probe, compare and train runs."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
from plotly.offline import get_plotlyjs

from tests.report.conftest import make_probe_run
from xalign.report import render_report, report_sections, write_report


def _figure_specs(html: str) -> list[dict]:
    blocks = re.findall(r'<script type="application/json" id="fig-\d+-json">(.*?)</script>', html, flags=re.S)
    return [json.loads(b) for b in blocks]


def _section_titles(sections) -> list[str]:
    return [s.title for s in sections]


def test_probe_report(probe_run):
    path = write_report(probe_run, projection="pca")
    assert path == probe_run / "report.html"
    html = path.read_text(encoding="utf-8")
    assert html.count(get_plotlyjs()[:200]) == 1
    _, _, sections = report_sections(probe_run, projection="pca")
    assert _section_titles(sections) == ["Summary", "Layer curves", "CKA", "Embedding maps",
                                         "Similarity distributions", "Word alignments", "Run details"]
    specs = _figure_specs(html)
    # curves, layer CKA, map, similarity, 2 word-alignment examples
    assert len(specs) == 6 == html.count('class="xfigure"')
    roles = [(s["layout"].get("meta") or {}).get("role") for s in specs]
    assert roles.count("embedding-map") == 1
    # nothing hostile survives unescaped anywhere in the file
    for raw in ("<script>window.__xss", "<img src=x", "</script><script>", "<b>model</b>", "<b>sat</b>"):
        assert raw not in html
    assert "tiny-&lt;b&gt;model&lt;/b&gt;" in html  # the manifest table


def test_metrics_are_not_recomputed(probe_run):
    """The report draws the stored numbers even when they disagree with the embeddings."""
    metrics = json.loads((probe_run / "metrics.json").read_text(encoding="utf-8"))
    metrics["pairs"]["en-sw"]["layers"][1]["retrieval"]["csls"]["en->sw"]["p@1"] = 0.123456
    (probe_run / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    _, _, sections = report_sections(probe_run, projection="pca")
    fig = sections[1].blocks[0]
    (line,) = [t for t in fig.data if t.meta == {"key": "retrieval.csls.en->sw.p@1", "role": "value"}]
    assert line.y[1] == 0.123456


def test_report_is_deterministic(probe_run, tmp_path):
    a = render_report(probe_run, projection="pca")
    b = render_report(probe_run, projection="pca")
    assert a == b


def test_layer_option(probe_run):
    _, _, sections = report_sections(probe_run, projection="pca", layer=1)
    maps = sections[3].blocks[0]
    assert maps.layout.sliders[0].active == 1
    assert "retrieval at layer 1" in "".join(b for b in sections[0].blocks if isinstance(b, str))
    with pytest.raises(ValueError, match="layer 9 is not in"):
        report_sections(probe_run, layer=9)
    with pytest.raises(ValueError, match="max_points"):
        report_sections(probe_run, max_points=0)
    with pytest.raises(ValueError, match="projection"):
        report_sections(probe_run, projection="tsne")


def test_default_layer_is_the_best_csls_layer(probe_run):
    metrics = json.loads((probe_run / "metrics.json").read_text(encoding="utf-8"))
    best = metrics["pairs"]["en-sw"]["best"]["retrieval.csls.en->sw.p@1"]["layer"]
    _, _, sections = report_sections(probe_run, projection="pca")
    sim = sections[4].blocks[0]
    assert sim.layout.sliders[0].active == best


def test_partial_runs_and_bad_parts_degrade_to_notes(tmp_path, caplog):
    root = make_probe_run(tmp_path / "p", n=12, word_level=False, embeddings=False)
    details = json.loads((root / "details.json").read_text(encoding="utf-8"))
    details["pairs"]["en-sw"]["cka_layers"]["en"] = [[1, 2, 3]]  # malformed
    (root / "details.json").write_text(json.dumps(details), encoding="utf-8")
    html = render_report(root, projection="pca")
    _, _, sections = report_sections(root, projection="pca")
    assert _section_titles(sections) == ["Summary", "Layer curves", "CKA", "Similarity distributions", "Run details"]
    assert "layer CKA en-sw could not be drawn" in html
    assert any("skipped" in r.message for r in caplog.records)


def test_multi_pair_probe_has_language_cka(probe_run_multi):
    _, _, sections = report_sections(probe_run_multi, projection="pca")
    cka = sections[2].blocks
    assert any((getattr(b, "data", None) and b.data[0].meta.get("key") == "language_cka") for b in cka)


def test_compare_report(compare_run):
    path = write_report(compare_run, projection="pca", out=compare_run / "out" / "cmp.html")
    html = path.read_text(encoding="utf-8")
    _, _, sections = report_sections(compare_run, projection="pca")
    assert _section_titles(sections) == ["Summary", "Before / after per layer", "Model × model CKA",
                                         "Embedding maps side by side", "Run details"]
    specs = _figure_specs(html)
    assert sum((s["layout"].get("meta") or {}).get("role") == "embedding-map" for s in specs) == 2
    assert html.count('<div class="row">') == 1
    assert "before vs after at layer" in html


def test_train_report(tmp_path):
    from tests.report.conftest import make_train_run

    root = make_train_run(tmp_path / "t", with_probe=True)
    _, _, sections = report_sections(root, projection="pca")
    titles = _section_titles(sections)
    assert titles[:3] == ["Training summary", "Training", "Probe summary"]
    keys = [t.meta["key"] for fig in sections[1].blocks for t in fig.data]
    assert {"history.loss", "eval.accuracy", "eval.generalized", "select.curve"} <= set(keys)
    html = render_report(root, projection="pca")
    assert "&lt;i&gt;tiny&lt;/i&gt;" in html and "<i>tiny</i>" not in html


def test_failed_rendering_leaves_the_previous_report(probe_run, monkeypatch):
    path = write_report(probe_run, projection="pca")
    before = path.read_bytes()
    import xalign.report.page as page

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(page, "render_page", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_report(probe_run, projection="pca")
    assert path.read_bytes() == before


def test_size_bound_for_2000_pairs_13_layers_384_dims(tmp_path):
    root = make_probe_run(tmp_path / "big", n=2000, n_layers=13, hidden=384, word_level=True)
    path = write_report(root, projection="pca")  # the projection method does not change the size
    size = path.stat().st_size
    assert size <= 10 * 2**20, f"{size / 2**20:.1f} MB"
    spec = next(s for s in _figure_specs(path.read_text(encoding="utf-8"))
                if (s["layout"].get("meta") or {}).get("role") == "embedding-map")
    assert len(spec["data"][0]["x"]) == 1000  # at most 1000 sentences per language
    assert len(spec["frames"]) == 13


def test_png_without_kaleido_fails_with_one_clear_line(probe_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "kaleido", None)  # import kaleido → ImportError
    with pytest.raises(ImportError, match=r"kaleido>=1 and a Chrome/Chromium browser .*HTML report was written"):
        write_report(probe_run, projection="pca", png=True)
    assert (probe_run / "report.html").is_file()


@pytest.mark.browser
def test_png_with_kaleido(probe_run):
    pytest.importorskip("kaleido", reason="kaleido is not installed (pip install 'kaleido>=1')")
    from shutil import which

    if not (which("chromium") or which("google-chrome") or which("chrome")):
        pytest.skip("no Chrome/Chromium on PATH for kaleido")
    write_report(probe_run, projection="pca", png=True)
    pngs = sorted((probe_run / "report_png").glob("*.png"))
    assert len(pngs) == 6
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pngs[0].name == "01-en-sw-alignment-per-layer.png"


def test_map_subsample_respects_max_points(probe_run):
    _, _, sections = report_sections(probe_run, projection="pca", max_points=10, seed=1)
    fig = sections[3].blocks[0]
    ids = np.asarray(fig.data[0].customdata)
    assert len(ids) == 10 and np.all(np.diff(ids) > 0)


@pytest.mark.slow  # numba compiles UMAP on first use
def test_umap_projection_on_request(probe_run):
    pytest.importorskip("umap")
    assert report_sections(probe_run)[2][3].blocks[0].layout.meta["method"] == "pca"  # auto: the fast default
    _, _, sections = report_sections(probe_run, projection="umap", cache=False)  # 60 pairs = 120 points per layer
    fig = sections[3].blocks[0]
    assert fig.layout.meta["method"] == "umap"
    assert "UMAP of 60 pairs" in fig.layout.annotations[0].text
    again = report_sections(probe_run, projection="umap", cache=False)[2][3].blocks[0]
    assert list(again.data[0].x) == list(fig.data[0].x)  # seeded: the same map every time


def test_compare_maps_show_the_same_layer_for_every_model(compare_run):
    metrics = json.loads((compare_run / "models" / "before" / "metrics.json").read_text(encoding="utf-8"))
    best = metrics["pairs"]["en-sw"]["best"]["retrieval.csls.en->sw.p@1"]["layer"]
    _, _, sections = report_sections(compare_run, projection="pca")
    row = sections[3].blocks[1]
    assert [f.layout.sliders[0].active for f in row.blocks] == [best, best]
    _, _, sections = report_sections(compare_run, projection="pca", layer=4)
    assert [f.layout.sliders[0].active for f in sections[3].blocks[1].blocks] == [4, 4]


def test_a_second_report_reads_the_cached_projection(probe_run, monkeypatch):
    """Issue 23 E: `xalign report` recomputed the maps every time."""
    import xalign.report.cache as cache

    first = render_report(probe_run, projection="pca")
    assert list((probe_run / "report_cache").glob("projection-*.npz"))

    def boom(*args, **kwargs):
        raise AssertionError("projected again")

    monkeypatch.setattr(cache, "project_joint", boom)
    assert render_report(probe_run, projection="pca") == first


def test_compare_maps_are_one_joint_projection(compare_run, monkeypatch):
    import xalign.report.cache as cache

    calls = []
    real = cache.project_joint

    def spy(groups, *args, **kwargs):
        calls.append(len(groups))
        return real(groups, *args, **kwargs)

    monkeypatch.setattr(cache, "project_joint", spy)
    _, _, sections = report_sections(compare_run, projection="pca", cache=False)
    assert calls == [2]  # one fit for both models
    row = sections[3].blocks[1]
    assert all("one fit for the 2 models' maps" in f.layout.annotations[0].text for f in row.blocks)


def test_the_summary_says_why_the_headline_layer_was_chosen(probe_run):
    metrics = json.loads((probe_run / "metrics.json").read_text(encoding="utf-8"))
    best = metrics["pairs"]["en-sw"]["best"]["retrieval.csls.en->sw.p@1"]
    html = render_report(probe_run, projection="pca")
    assert (f"Layer {best['layer']} is shown first: it has the highest CSLS P@1 en→sw ({best['value']:.3f}) "
            "of the 5 layers probed") in html
    assert "is shown first because it was asked for (--layer 1)" in render_report(probe_run, projection="pca", layer=1)


def test_tiny_train_run_and_chance_level(tmp_path):
    """Issue 23 E: one logged step drew a lone dot; the generalized heatmap's colours had no chance reference."""
    from tests.report.conftest import make_train_run

    root = make_train_run(tmp_path / "t")
    doc = json.loads((root / "train_metrics.json").read_text(encoding="utf-8"))
    doc["history"] = doc["history"][:1]
    doc["config"]["logging_steps"], doc["steps"] = 50, 5
    doc["config"]["label_names"] = ["entailment", "neutral", "contradiction"]
    (root / "train_metrics.json").write_text(json.dumps(doc), encoding="utf-8")
    _, _, sections = report_sections(root, projection="pca")
    blocks = sections[1].blocks
    assert "1 logged training loss value(s): the loss is logged every 50 steps and the run took 5" in blocks[0]
    loss = next(t for b in blocks if hasattr(b, "data") for t in b.data if t.meta.get("key") == "history.loss")
    assert loss.mode == "lines+markers" and loss.marker.size == 10
    bars = next(b for b in blocks if hasattr(b, "data") and b.data[0].meta.get("key") == "eval.accuracy")
    assert bars.layout.shapes[0].y0 == pytest.approx(1 / 3)
    heat = next(b for b in blocks if hasattr(b, "data") and b.data[0].meta.get("key") == "eval.generalized")
    z = np.asarray(doc["eval"]["generalized"]["matrix"])
    spread = max(0.1, float(np.abs(z - 1 / 3).max()))
    assert heat.data[0].zmid == pytest.approx(1 / 3)
    assert (heat.data[0].zmin, heat.data[0].zmax) == pytest.approx((1 / 3 - spread, 1 / 3 + spread))


def test_compare_models_of_different_widths_are_projected_one_by_one(compare_run):
    folder = compare_run / "models" / "after" / "embeddings" / "en-sw"
    for lang in ("en", "sw"):
        arr = np.load(folder / f"{lang}.npy")
        np.save(folder / f"{lang}.npy", np.ascontiguousarray(arr[:, :, :8]))  # 8 dims instead of 16
    _, _, sections = report_sections(compare_run, projection="pca", cache=False)
    blocks = sections[3].blocks
    assert "differ in hidden size or layers" in blocks[1]
    row = blocks[2]
    assert len(row.blocks) == 2 and not any("one fit" in f.layout.annotations[0].text for f in row.blocks)
