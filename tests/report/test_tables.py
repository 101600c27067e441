"""Summary tables: values as stored, everything escaped."""

from __future__ import annotations

from xalign.report.tables import (Html, best_table, bli_table, compare_table, is_headline, layer_table, manifest_table,
                                  table)
from xalign.results.json_io import comparison_from_json, probe_from_json


def test_table_escapes_cells_and_keeps_html_cells():
    out = table(["<h>"], [["<script>alert(1)</script>"], [Html("<b>ok</b>")], [0.123456], [None], [{"a": "<x>"}]])
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&lt;h&gt;" in out and "<b>ok</b>" in out and "0.1235" in out
    assert "&quot;a&quot;: &quot;&lt;x&gt;&quot;" in out


def test_manifest_table_lists_model_data_hashes_and_versions():
    manifest = {"model": {"name": "m<1>", "revision": "abc"}, "preset": "xtreme-tatoeba", "seed": 3,
                "data": [{"path": "a.tsv", "sha256": "f" * 64}], "versions": {"torch": "2.13"}, "extra": "<i>"}
    out = manifest_table(manifest)
    for text in ("m&lt;1&gt;", "abc", "xtreme-tatoeba", "a.tsv", "f" * 64, "torch 2.13", "&lt;i&gt;"):
        assert text in out


def test_best_and_layer_tables_show_stored_values():
    block = {"n": 5, "best": {"retrieval.csls.en->sw.p@1": {"layer": 8, "value": 0.93},
                              "retrieval.margin.en->sw.p@1": {"layer": 7, "value": 0.9}},
             "layers": [{"layer": 8, "retrieval": {"csls": {"en->sw": {"p@1": 0.93, "p@1_ci95": [0.9, 0.95],
                                                                       "p@5": 0.99, "mrr": 0.95}},
                                                     "margin": {"en->sw": {"p@1": 0.9}}},
                                       "cka": {"linear": 0.8, "linear_ci95": [0.7, 0.9]}},
                        {"layer": 7, "retrieval": {"margin": {"en->sw": {"p@1": 0.91}}}}]}
    pair = probe_from_json({"pairs": {"en-sw": block}}).pairs["en-sw"]
    full = best_table({"en-sw": pair})
    short = best_table({"en-sw": pair}, headline_only=True)
    assert "margin P@1 en→sw" in full and "margin P@1" not in short  # human labels from the registry
    assert "0.930" in short and "<td>8</td>" in short
    lt = layer_table(pair, 8, name="en-sw")
    assert "[0.900, 0.950]" in lt and "en-sw: retrieval at layer 8" in lt
    assert "CKA" not in lt and "0.800" not in lt  # retrieval only: no CKA row (issue 23 E)
    assert "not in this run" in layer_table(pair, 3)
    assert is_headline("cka.linear") and not is_headline("retrieval.csls.en->sw.p@5")


def _comparison(item):
    doc = {"models": [{"label": "a"}, {"label": "b"}], "pairs": {"en-sw": {"layers": [
        {"layer": 2, "metrics": {"cka.linear": item}}]}}}
    return comparison_from_json(doc).pairs["en-sw"]


def test_compare_table():
    cka = {"a": 0.5, "b": 0.6, "delta": {"b": 0.1}, "ci95": {"b": [0.05, 0.15]}, "p_value": {"b": 0.01}}
    out = compare_table(_comparison(cka), ["a", "b"], 2, ["cka.linear", "absent"])
    for text in ("0.500", "0.600", "+0.100", "[+0.050, +0.150]", "p = 0.010"):
        assert text in out


def test_a_tiny_significant_delta_does_not_read_as_zero():
    """Issue 23 E: "+0.000" beside "p = 0.010" reads as a contradiction; small deltas get more digits."""
    item = {"a": 0.5, "b": 0.50031, "delta": {"b": 0.00031}, "ci95": {"b": [0.0001, 0.0004]},
            "p_value": {"b": 0.0004}}
    out = compare_table(_comparison(item), ["a", "b"], 2, ["cka.linear"])
    assert "+0.000<" not in out and "+0.00031" in out
    assert "[+0.00010, +0.00040]" in out and "p &lt; 0.001" in out


def test_bli_details_are_rows_not_a_json_object():
    facts = {"dictionary": "bundled en-sw", "static_input_embeddings": {"cosine.p@1": 0.25, "csls.p@1": 0.3,
                                                                        "cosine.n": 40.0},
             "src_vocabulary": 50, "tgt_vocabulary": 48}
    out = bli_table(facts, caption="en-sw: BLI")
    assert "<code>" not in out and "{" not in out
    assert "BLI P@1 (cosine), static input embeddings</td><td>0.250" in out
    assert "BLI queries (cosine), static input embeddings</td><td>40<" in out


def test_manifest_data_records_with_sources_show_every_file_hash():
    manifest = {"data": [{"name": "flores200-demo", "pair": "en-sw", "n": 80,
                          "sources": [{"path": "demo:en.txt", "sha256": "a" * 64},
                                      {"path": "demo:sw.txt", "sha256": "b" * 64}]}]}
    out = manifest_table(manifest)
    assert "flores200-demo" in out
    assert f"demo:en.txt sha256 {'a' * 64}" in out and f"demo:sw.txt sha256 {'b' * 64}" in out
    assert "&quot;pair&quot;: &quot;en-sw&quot;" in out and "sources" not in out
