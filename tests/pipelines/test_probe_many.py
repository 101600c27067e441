"""The many-language probe (``--pair en-all --data sib200:DIR``) on a tiny encoder: each text set embedded
once, values equal to the single-pair probe's, rows matched by index_id, kill + resume equal to an
uninterrupted run, the per-language summary, and the input checks."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from xalign.errors import DataError
from xalign.pipelines.probe import ProbeConfig, probe

LANGS = ("eng_Latn", "swh_Latn", "deu_Latn", "ace_Arab", "yor_Latn")
N_ROWS = 12


@pytest.fixture
def sib_dir(shared_data, tmp_path) -> Path:
    """A 5-language SIB-200 folder with the first 12 test rows of the real data (ace_Arab's rows reversed
    and one row missing: matching must go by index_id)."""
    root = tmp_path / "sib"
    for lang in LANGS:
        lines = (shared_data / "sib200" / lang / "test.tsv").read_text(encoding="utf-8").splitlines()
        body = lines[1:N_ROWS + 1]
        if lang == "ace_Arab":
            body = body[::-1][:-1]  # reversed, and the first English row has no partner
        (root / lang).mkdir(parents=True)
        (root / lang / "test.tsv").write_text("\n".join([lines[0], *body]) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def encoder(tiny_bert_dir):
    from xalign.encoders import load_encoder

    return load_encoder(str(tiny_bert_dir), device="cpu")


def _count_rows(encoder) -> list[int]:
    """Rows of every forward pass of ``encoder`` (a hook on the model)."""
    seen: list[int] = []
    encoder.model.register_forward_hook(lambda mod, args, kwargs, out: seen.append(int(kwargs["input_ids"].shape[0])),
                                        with_kwargs=True)
    return seen


def _config(root: Path, **kw) -> ProbeConfig:
    base = dict(pairs=["en-all"], data=f"sib200:{root}", split="test", n_boot=20, n_boot_cka=5, report=False,
                progress=False)
    return ProbeConfig(**{**base, **kw})


def _pairs(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())["pairs"]


def test_english_is_embedded_once_and_values_equal_single_pair_probe(sib_dir, encoder, tmp_path):
    rows = _count_rows(encoder)
    result = probe(_config(sib_dir), encoder=encoder, out_dir=tmp_path / "atlas")
    # English once (12 rows), then each language's own rows once: 12 + 12 + 11 + 12
    assert sum(rows) == N_ROWS + N_ROWS + N_ROWS + (N_ROWS - 1) + N_ROWS
    assert list(result.pairs) == ["en-ace_Arab", "en-deu_Latn", "en-swh_Latn", "en-yor_Latn"]
    assert result.pairs["en-ace_Arab"].n == N_ROWS - 1
    single = probe(ProbeConfig(pairs=["en-sw"], data=f"flores:{sib_dir}", split="test", n_boot=20, n_boot_cka=5,
                               report=False, bli=False), encoder=encoder)
    ref, got = single.pairs["en-sw"], result.pairs["en-swh_Latn"]
    for a, b in zip(ref.layers, got.layers):
        for rule in ("cosine", "csls", "margin", "cosine_centered"):
            for (s, t), (s2, t2) in ((("en", "sw"), ("en", "swh_Latn")), (("sw", "en"), ("swh_Latn", "en"))):
                k_ref, k_got = f"retrieval.{rule}.{s}->{t}.p@1", f"retrieval.{rule}.{s2}->{t2}.p@1"
                assert b.values[k_got].value == pytest.approx(a.values[k_ref].value, abs=1e-6)  # kept as in metrics.json
                assert b.values[k_got].ci95 == pytest.approx(a.values[k_ref].ci95, abs=1e-6)
        assert b.values["cka.linear"].value == pytest.approx(a.values["cka.linear"].value, abs=1e-6)
    # per-query correctness kept, and its mean is the value
    key = "retrieval.csls.en->swh_Latn.p@1"
    assert got.correctness(key, got.layers[-1].layer).mean() == pytest.approx(got.layers[-1].values[key].value, abs=1e-6)
    rows_csv = list(csv.DictReader((tmp_path / "atlas" / "metrics.csv").open()))
    assert {r["pair"] for r in rows_csv} == set(result.pairs)
    assert not (tmp_path / ".atlas.partial").exists()  # removed once the run is complete


def test_rows_are_matched_by_index_id_not_position(sib_dir, encoder, shared_data):
    """ace_Arab's file is reversed: each English row must meet its own translation (same index_id)."""
    from xalign.pipelines.probe.many import join_language, plan_many, read_pivot

    plan = plan_many(_config(sib_dir))
    pivot = read_pivot(plan, None)
    lang = join_language(plan, pivot, "ace_Arab", "ace_Arab", strict=False)
    real = {}
    for line in (shared_data / "sib200" / "ace_Arab" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        row_id, _, text = line.split("\t")
        real[row_id] = text
    assert lang.ids == pivot.ids[1:] and lang.texts == [real[i] for i in lang.ids]
    assert lang.rows.tolist() == list(range(1, N_ROWS)) and lang.unmatched == 1
    with pytest.raises(DataError, match="--strict"):
        join_language(plan, pivot, "ace_Arab", "ace_Arab", strict=True)


def test_killed_run_resumes_and_equals_an_uninterrupted_run(sib_dir, encoder, tmp_path, monkeypatch):
    import xalign.pipelines.probe.many as many

    full = probe(_config(sib_dir), encoder=encoder, out_dir=tmp_path / "full")
    real, calls = many.probe_language, []

    def dying(*args, **kw):
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(many, "probe_language", dying)
    with pytest.raises(KeyboardInterrupt):
        probe(_config(sib_dir), encoder=encoder, out_dir=tmp_path / "run")
    kept = sorted(p.name for p in (tmp_path / ".run.partial").iterdir())
    assert kept == ["ace_Arab.json", "deu_Latn.json"] and not (tmp_path / "run").exists()
    monkeypatch.setattr(many, "probe_language", real)
    rows = _count_rows(encoder)
    resumed = probe(_config(sib_dir), encoder=encoder, out_dir=tmp_path / "run")
    assert sum(rows) == N_ROWS + 2 * N_ROWS  # the pivot, swh_Latn and yor_Latn only
    assert resumed.manifest["data"]["resumed_languages"] == 2
    assert _pairs(tmp_path / "run") == _pairs(tmp_path / "full")
    assert (tmp_path / "run" / "metrics.csv").read_text() == (tmp_path / "full" / "metrics.csv").read_text()
    assert full.manifest["data"]["resumed_languages"] == 0


def test_changed_settings_do_not_reuse_kept_languages(sib_dir, encoder, tmp_path):
    from xalign.pipelines.probe.many import _kept, run_fingerprint, plan_many, read_pivot

    plan = plan_many(_config(sib_dir))
    a = run_fingerprint(_config(sib_dir), encoder, plan, read_pivot(plan, None))
    b = run_fingerprint(_config(sib_dir, seed=1), encoder, plan, read_pivot(plan, None))
    c = run_fingerprint(_config(sib_dir, progress=True), encoder, plan, read_pivot(plan, None))
    assert a != b and a == c
    (tmp_path / "deu_Latn.json").write_text(json.dumps({"fingerprint": b}))
    assert _kept(tmp_path, "deu_Latn", a) is None


def test_langs_file_pivot_and_summary(sib_dir, encoder, tmp_path):
    langs = tmp_path / "langs.txt"
    langs.write_text("# two languages\nyor_Latn\nsw\n", encoding="utf-8")
    result = probe(_config(sib_dir, pairs=["de-all"], langs=str(langs)), encoder=encoder, out_dir=tmp_path / "o")
    assert list(result.pairs) == ["de-yor_Latn", "de-sw"]  # the codes as given
    summary = list(csv.DictReader((tmp_path / "o" / "languages.csv").open()))
    pairs = _pairs(tmp_path / "o")
    for row in summary:
        key = row["metric"]
        assert key == f"retrieval.csls.de->{row['tgt_lang']}.p@1"
        by_layer = [(e["layer"], e["retrieval"]["csls"][f"de->{row['tgt_lang']}"]["p@1"])
                    for e in pairs[row["pair"]]["layers"]]
        best = max(by_layer, key=lambda lv: lv[1])  # first of ties
        assert int(row["best_layer"]) == best[0] and float(row["best_value"]) == pytest.approx(best[1])
        assert int(row["last_layer"]) == by_layer[-1][0] and float(row["last_value"]) == pytest.approx(by_layer[-1][1])


@pytest.mark.parametrize("text, match", [("yor_Latn\nxxx_Zzzz\n", r"langs.txt:2: language 'xxx_Zzzz' has no folder"),
                                         ("yor_Latn\nyor_Latn\n", r"langs.txt:2: 'yor_Latn' repeats line 1"),
                                         ("en\n", r"langs.txt:1: 'en' is the pivot")])
def test_langs_file_errors_name_the_line(sib_dir, tmp_path, text, match):
    from xalign.pipelines.probe.many import plan_many

    (tmp_path / "langs.txt").write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        plan_many(_config(sib_dir, langs=str(tmp_path / "langs.txt")))


def test_many_needs_a_sib_folder_and_checks_before_the_model_loads(tmp_path):
    from xalign.errors import ConfigError

    with pytest.raises(ConfigError, match="needs --data sib200:DIR"):
        probe(ProbeConfig(pairs=["en-all"], data="demo", report=False), out_dir=tmp_path / "x")
    with pytest.raises(ConfigError, match="--langs"):
        ProbeConfig(pairs=["en-sw"], langs="x.txt")
    random.seed(0)


def test_cli_probe_and_compare_en_all(sib_dir, _tiny_dirs, tmp_path, capsys):
    from xalign.cli.main import main

    model = str(_tiny_dirs["bert"])
    code = main(["-q", "probe", "--model", model, "--pair", "en-all", "--data", f"sib200:{sib_dir}", "--split", "test",
                 "--n-boot", "10", "--n-boot-cka", "0", "--no-report", "--no-progress", "--out", str(tmp_path / "p")])
    out = capsys.readouterr().out
    assert code == 0 and "en-ace_Arab" in out and "languages.csv" in out
    assert len(list(csv.DictReader((tmp_path / "p" / "languages.csv").open()))) == 4
    code = main(["-q", "compare", "--before", model, "--after", model, "--pair", "en-all", "--data",
                 f"sib200:{sib_dir}", "--split", "test", "--n-boot", "10", "--n-boot-cka", "0", "--no-report",
                 "--no-progress", "--out", str(tmp_path / "c")])
    out = capsys.readouterr().out
    assert code == 0 and "Holm across 4 languages" in out and "after gained (0)" in out
    assert main(["-q", "probe", "--pair", "en-all", "--data", f"sib200:{sib_dir}", "--split", "nope"]) == 2
    assert "--split" in capsys.readouterr().err


def test_locked_output_is_refused_before_the_model_loads(tmp_path, monkeypatch):
    """Issue 23: a second probe into a folder another process writes finds out at the start."""
    import xalign.encoders as encoders
    from xalign.errors import OutputError
    from xalign.io import output_lock

    loads = []
    monkeypatch.setattr(encoders, "load_encoder", lambda *a, **k: loads.append(a))
    with output_lock(tmp_path / "busy"):
        with pytest.raises(OutputError, match="being written by another xalign process"):
            probe(ProbeConfig(pairs=["en-sw"], limit=5, report=False), out_dir=tmp_path / "busy")
    assert loads == []


def test_compare_checks_every_model_before_loading_any(tiny_bert_dir, tmp_path, monkeypatch):
    """Issue 23: a missing --after fails before --before is loaded and probed."""
    import xalign.encoders as encoders
    from xalign.errors import MissingFileError
    from xalign.pipelines.compare import CompareConfig, compare

    loads = []
    monkeypatch.setattr(encoders, "load_encoder", lambda *a, **k: loads.append(a))
    config = CompareConfig(before=str(tiny_bert_dir), after=[str(tmp_path / "missing")],
                           probe=ProbeConfig(pairs=["en-sw"], limit=5, report=False))
    with pytest.raises(MissingFileError, match=r"--after .*missing: model directory .* does not exist"):
        compare(config, out_dir=tmp_path / "c")
    assert loads == [] and not (tmp_path / "c").exists()


def test_manifest_records_seconds_per_stage(tiny_bert_dir, tmp_path):
    probe(ProbeConfig(model=str(tiny_bert_dir), pairs=["en-sw"], limit=6, n_boot=5, n_boot_cka=0, bli=False,
                      report=True), out_dir=tmp_path / "p")
    stages = json.loads((tmp_path / "p" / "manifest.json").read_text())["stage_seconds"]
    assert set(stages) == {"load", "extraction", "metrics", "report"} and all(v >= 0 for v in stages.values())


def test_xlm_family_draws_the_atlas(sib_dir, tiny_xlm_dir, tmp_path):
    """A slow tokenizer (no word_ids()) gets every sentence-level metric in the many-language probe."""
    result = probe(_config(sib_dir, model=str(tiny_xlm_dir), n_boot=5, n_boot_cka=0), out_dir=tmp_path / "x")
    layer = result.pairs["en-yor_Latn"].layers[-1].values
    assert {"retrieval.csls.en->yor_Latn.p@1", "retrieval.margin.yor_Latn->en.p@1", "cka.linear"} <= set(layer)
    assert not any(k.startswith(("bli.", "word_alignment.")) for k in layer)
    assert any("word-level metrics" in n for n in result.manifest["data"]["notes"])


def test_a_bad_language_file_is_found_before_the_model_loads(sib_dir, tmp_path, monkeypatch):
    import xalign.encoders as encoders

    (sib_dir / "yor_Latn" / "test.tsv").write_text("id\ttext\n1\tx\n", encoding="utf-8")
    loads = []
    monkeypatch.setattr(encoders, "load_encoder", lambda *a, **k: loads.append(a))
    with pytest.raises(DataError, match=r"yor_Latn/test\.tsv:1: expected a header with index_id and text"):
        probe(_config(sib_dir), out_dir=tmp_path / "o")
    assert loads == []


@pytest.mark.parametrize("n_pairs", [0, 1, 3])
def test_streamed_metrics_json_is_the_whole_document(n_pairs):
    """metrics.json is written pair by pair (flat memory at 205 languages) yet equals json.dumps of the whole."""
    from xalign.io import to_jsonable
    from xalign.results.json_io import iter_probe_json, probe_to_json
    from xalign.results.types import LayerValues, MetricValue, PairMetrics, ProbeMetrics

    pairs = {f"en-x{i}": PairMetrics(pair=f"en-x{i}", src_lang="en", tgt_lang=f"x{i}", n=3, notes=["a\nb", "ü"],
                                     layers=[LayerValues(layer=j, values={"cka.linear": MetricValue(0.1 * j, (0, 1))})
                                             for j in range(2)]) for i in range(n_pairs)}
    result = ProbeMetrics(manifest={"command": "probe", "nested": {"x": [1, 2]}, "empty": {}}, pairs=pairs)
    want = json.dumps(to_jsonable(probe_to_json(result)), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    assert "".join(iter_probe_json(result)) == want
