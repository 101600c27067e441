"""Summary tables: values as stored, everything escaped."""

from __future__ import annotations

from xalign.report.tables import Html, best_table, compare_table, is_headline, layer_table, manifest_table, table


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
                                                                       "p@5": 0.99, "mrr": 0.95}}}}]}
    full = best_table({"en-sw": block})
    short = best_table({"en-sw": block}, headline_only=True)
    assert "margin P@1 en→sw" in full and "margin P@1" not in short  # human labels from the registry
    assert "0.930" in short and "<td>8</td>" in short
    lt = layer_table(block, 8, pair="en-sw")
    assert "[0.900, 0.950]" in lt and "en-sw: retrieval at layer 8" in lt
    assert "not in this run" in layer_table(block, 3)
    assert is_headline("cka.linear") and not is_headline("retrieval.csls.en->sw.p@5")


def test_compare_table():
    cka = {"a": 0.5, "b": 0.6, "delta": {"b": 0.1}, "ci95": {"b": [0.05, 0.15]}, "p_value": {"b": 0.01}}
    block = {"layers": [{"layer": 2, "metrics": {"cka.linear": cka}}]}
    out = compare_table(block, ["a", "b"], 2, ["cka.linear", "absent"])
    for text in ("0.500", "0.600", "+0.100", "[0.050, 0.150]", "0.01"):
        assert text in out


def test_manifest_data_records_with_sources_show_every_file_hash():
    manifest = {"data": [{"name": "flores200-demo", "pair": "en-sw", "n": 80,
                          "sources": [{"path": "demo:en.txt", "sha256": "a" * 64},
                                      {"path": "demo:sw.txt", "sha256": "b" * 64}]}]}
    out = manifest_table(manifest)
    assert "flores200-demo" in out
    assert f"demo:en.txt sha256 {'a' * 64}" in out and f"demo:sw.txt sha256 {'b' * 64}" in out
    assert "&quot;pair&quot;: &quot;en-sw&quot;" in out and "sources" not in out
