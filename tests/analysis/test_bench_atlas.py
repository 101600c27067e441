"""Smoke test of analysis/bench_atlas.py on a tiny random encoder: it runs end to end on 3 SIB-200 languages and
its JSON/markdown agree with the atlas run's own manifest (no timing assertions)."""

from __future__ import annotations

import json

import pytest

from analysis import bench_atlas


def test_bench_atlas_end_to_end_matches_manifest(tiny_bert_dir, shared_data, tmp_path):
    sib = shared_data / "sib200"
    if not (sib / "eng_Latn" / "test.tsv").is_file():
        pytest.skip(f"{sib} holds no SIB-200 test split")
    out, keep = tmp_path / "bench.json", tmp_path / "runs"
    assert bench_atlas.main(["--model", str(tiny_bert_dir), "--data", str(sib), "--langs", "3", "--n-boot", "7",
                             "--threads", "1", "--out", str(out), "--keep-runs", str(keep)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    (row,) = doc["rows"]
    manifest = json.loads((keep / "langs3" / "atlas" / "manifest.json").read_text(encoding="utf-8"))
    stages = manifest["stage_seconds"]
    # the first 3 languages in sorted order, English left out, as the run itself recorded them
    expected = sorted(p.name for p in sib.iterdir() if (p / "test.tsv").is_file() and p.name != "eng_Latn")[:3]
    assert row["language_codes"] == expected == manifest["data"]["languages"]
    assert row["stage_seconds"] == stages
    assert row["extraction_seconds"] == pytest.approx(stages["extraction"], abs=0.006)
    assert row["after_extraction_seconds"] == pytest.approx(stages["metrics"] + stages.get("report", 0.0), abs=0.006)
    assert row["after_over_extraction"] == pytest.approx(stages_ratio(stages), rel=1e-3, abs=1e-4)
    assert row["n_boot"] == 7 == manifest["config"]["n_boot"]
    assert row["layers"] == 3  # the tiny encoder: embeddings + 2 layers, all of them
    n_pivot = manifest["data"]["n_pivot"]
    assert row["sentences"] == n_pivot * 4
    assert row["atlas_sentences_per_second"] == pytest.approx(
        row["sentences"] / (stages["extraction"] + stages["metrics"] + stages.get("report", 0.0)), rel=1e-3)
    assert row["speed_ratio"] == pytest.approx(
        row["atlas_sentences_per_second"] / row["embed_sentences_per_second"], rel=1e-2)
    assert row["peak_rss_atlas_mb"] > 0 and row["peak_rss_process_mb"] >= row["peak_rss_atlas_mb"]
    assert row["full_corpus"]["extrapolated"] is True
    md = out.with_suffix(".md").read_text(encoding="utf-8")
    assert f"| 3 | {row['sentences']} | {row['extraction_seconds']} |" in md


def stages_ratio(stages: dict) -> float:
    return (stages["metrics"] + stages.get("report", 0.0)) / stages["extraction"]
