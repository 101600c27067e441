"""The report reads what the real probe pipeline writes (tiny random encoder): one pair gives the per-pair
report, eight pairs sharing English give the atlas."""

from __future__ import annotations

import dataclasses

from xalign.report import report_sections


def _corpora(codes):
    from xalign.data import load_demo

    base = load_demo("en-sw").head(24)
    return [dataclasses.replace(base, tgt_lang=code, name=f"demo-as-{code}") for code in codes]


def test_probe_output_reads_into_the_report(tiny_bert_dir, tmp_path):
    from xalign.pipelines.probe import ProbeConfig, probe

    config = dict(model=str(tiny_bert_dir), n_boot=20, n_boot_cka=0, bli=False, report=False)
    one = tmp_path / "one"
    probe(ProbeConfig(**config), corpora=_corpora(["sw"]), out_dir=one)
    _, _, sections = report_sections(one, projection="pca")
    assert [s.title for s in sections][:2] == ["Summary", "Layer curves"]
    codes = ["swh_Latn", "ace_Arab", "yor_Latn", "urd_Arab", "hin_Deva", "amh_Ethi", "zul_Latn", "kat_Geor"]
    many = tmp_path / "many"
    probe(ProbeConfig(**config), corpora=_corpora(codes), out_dir=many)
    _, _, sections = report_sections(many)
    assert [s.title for s in sections][:2] == ["Summary", "Languages × layers"]
    heatmap = sections[1].blocks[0]
    from xalign.report.langmeta import lang_id

    # the pipeline may name a language by its canonical code (am) or as given (amh_Ethi): the same language
    assert sorted(lang_id(y) for y in heatmap.data[0].y) == sorted(codes)
    assert "Acehnese" in " ".join(row[0] for row in heatmap.data[0].customdata)  # names from the language table
