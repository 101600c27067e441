"""The probe end to end on a tiny encoder, checked against naive numpy references."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from xalign.pipelines.probe import ProbeConfig, probe


def _naive_p1(q, k):
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    k = k / np.linalg.norm(k, axis=1, keepdims=True)
    return float((np.argmax(q @ k.T, axis=1) == np.arange(len(q))).mean())


def _naive_rule_p1(q, k, rule):
    """P@1 of CSLS (k = 10), ratio margin (k = 4) or centred cosine, written out in numpy."""
    q, k = q.astype(np.float64), k.astype(np.float64)
    if rule == "cosine_centered":
        q, k = q - q.mean(0), k - k.mean(0)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    k = k / np.linalg.norm(k, axis=1, keepdims=True)
    cos = q @ k.T
    if rule == "cosine_centered":
        return float((cos.argmax(1) == np.arange(len(q))).mean())
    nb = 10 if rule == "csls" else 4
    r_q = np.sort(cos, axis=1)[:, -nb:].mean(1)
    r_k = np.sort(cos.T, axis=1)[:, -nb:].mean(1)
    score = 2 * cos - r_q[:, None] - r_k[None, :] if rule == "csls" else cos / ((r_q[:, None] + r_k[None, :]) / 2)
    return float((score.argmax(1) == np.arange(len(q))).mean())


def _naive_cka(x, y):
    x = x - x.mean(0)
    y = y - y.mean(0)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


@pytest.fixture
def demo_corpus():
    from xalign.data import load_demo

    return load_demo("en-sw").head(40)


def test_probe_writes_run_and_numbers_match_reference(tiny_model_dir, demo_corpus, tmp_path):
    config = ProbeConfig(model=str(tiny_model_dir), n_boot=50, n_boot_cka=20, report=False)
    out = tmp_path / "run"
    result = probe(config, corpora=[demo_corpus], out_dir=out)
    for name in ("manifest.json", "metrics.json", "metrics.csv", "details.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    block = metrics["pairs"]["en-sw"]
    assert block["n"] == 40 and [e["layer"] for e in block["layers"]] == [0, 1, 2]
    src = np.load(out / "embeddings" / "en-sw" / "en.npy")
    tgt = np.load(out / "embeddings" / "en-sw" / "sw.npy")
    assert src.shape == (3, 40, 32)
    texts = json.loads((out / "embeddings" / "en-sw" / "texts.json").read_text())
    assert texts["src"] == demo_corpus.src and texts["tgt"] == demo_corpus.tgt
    for entry in block["layers"]:
        li = entry["layer"]
        cos = entry["retrieval"]["cosine"]
        assert cos["en->sw"]["p@1"] == pytest.approx(_naive_p1(src[li], tgt[li]), abs=1e-6)
        assert cos["sw->en"]["p@1"] == pytest.approx(_naive_p1(tgt[li], src[li]), abs=1e-6)
        lo, hi = cos["en->sw"]["p@1_ci95"]
        assert lo <= cos["en->sw"]["p@1"] <= hi
        assert entry["cka"]["linear"] == pytest.approx(_naive_cka(src[li].astype(float), tgt[li].astype(float)),
                                                      abs=1e-5)
        for rule in ("csls", "margin", "cosine_centered"):  # against a naive numpy reference
            for (q, k), direction in (((src[li], tgt[li]), "en->sw"), ((tgt[li], src[li]), "sw->en")):
                assert entry["retrieval"][rule][direction]["p@1"] == pytest.approx(_naive_rule_p1(q, k, rule),
                                                                                   abs=1e-6), (rule, direction)
        assert "bli" in entry  # the bundled sw-en dictionary is found for en-sw
    best = block["best"]["retrieval.cosine.en->sw.p@1"]
    assert best["value"] == max(e["retrieval"]["cosine"]["en->sw"]["p@1"] for e in block["layers"])
    with open(out / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    row = next(r for r in rows if r["layer"] == "1" and r["metric"] == "retrieval.cosine.en->sw.p@1")
    assert float(row["value"]) == pytest.approx(block["layers"][1]["retrieval"]["cosine"]["en->sw"]["p@1"])
    assert row["ci95_lo"] != ""
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["preset"] == "default" and manifest["model"]["revision"].startswith("sha256:")
    details = json.loads((out / "details.json").read_text())
    sim = details["pairs"]["en-sw"]["similarity"][2]
    a = src[2] / np.linalg.norm(src[2], axis=1, keepdims=True)
    b = tgt[2] / np.linalg.norm(tgt[2], axis=1, keepdims=True)
    np.testing.assert_allclose(sim["true"], (a * b).sum(1), atol=1e-4)
    assert result.pairs["en-sw"].n == 40


def test_xtreme_preset_uses_mean_all_and_cosine(tiny_model_dir, demo_corpus):
    config = ProbeConfig(model=str(tiny_model_dir), preset="xtreme-tatoeba", n_boot=0, n_boot_cka=0,
                         bli=False, report=False)
    result = probe(config, corpora=[demo_corpus])
    entry = result.metrics()["pairs"]["en-sw"]["layers"][0]
    assert set(entry["retrieval"]) == {"cosine"}
    assert result.manifest["pooling"] == "mean_all"


def test_bad_config_is_one_clear_error():
    with pytest.raises(ValueError, match="preset must be one of"):
        ProbeConfig(preset="tatoeba2")
    with pytest.raises(ValueError, match="unknown retrieval method"):
        ProbeConfig(methods=["dot"])
    with pytest.raises(ValueError, match="go together"):
        ProbeConfig(src_file="a.txt")


def test_failed_probe_leaves_no_run_dir(tiny_model_dir, demo_corpus, tmp_path, monkeypatch):
    from xalign.pipelines import probe as probe_mod

    def boom(*a, **k):
        raise RuntimeError("simulated failure while writing")

    monkeypatch.setattr("xalign.io.write_csv", boom)
    config = ProbeConfig(model=str(tiny_model_dir), n_boot=0, n_boot_cka=0, bli=False, report=False)
    with pytest.raises(RuntimeError):
        probe_mod.probe(config, corpora=[demo_corpus], out_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_bli_with_no_dictionary_word_in_the_corpus_is_a_note_not_a_crash(tiny_model_dir, demo_corpus, tmp_path):
    """Issue 23 C: a dictionary none of whose words occur in the corpus crashed in static_word_vectors([])."""
    from xalign.embed.vocab import static_word_vectors
    from xalign.encoders import load_encoder

    assert static_word_vectors(load_encoder(str(tiny_model_dir)), []).shape[0] == 0
    dictionary = tmp_path / "dict.tsv"
    dictionary.write_text("zzqxw\tqqzvx\nxwqzz\tvxqqz\n", encoding="utf-8")
    config = ProbeConfig(model=str(tiny_model_dir), n_boot=0, n_boot_cka=0, report=False, dictionary=str(dictionary))
    result = probe(config, corpora=[demo_corpus], out_dir=tmp_path / "run")
    block = json.loads((tmp_path / "run" / "metrics.json").read_text())["pairs"]["en-sw"]
    assert not any("bli" in layer for layer in block["layers"])
    assert any("BLI" in note or "dictionary" in note for note in block["notes"]), block["notes"]
    assert result is not None


def test_probe_shows_embedding_progress_on_a_terminal_only(tiny_model_dir, demo_corpus, tmp_path, monkeypatch,
                                                           capsys):
    """Issue 23 E: a default probe embedded for minutes without a word; on a terminal it now shows a bar per side,
    and it stays silent when stderr is not a terminal (logs, CI) or with progress off."""
    import sys

    config = ProbeConfig(model=str(tiny_model_dir), n_boot=0, n_boot_cka=0, bli=False, report=False)
    probe(config, corpora=[demo_corpus], out_dir=tmp_path / "quiet")
    assert "sent/s" not in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    probe(config, corpora=[demo_corpus], out_dir=tmp_path / "tty")
    err = capsys.readouterr().err
    assert err.count("/40 [") >= 2 and "sent/s" in err  # one bar per side, over the corpus's 40 sentences
    off = ProbeConfig(model=str(tiny_model_dir), n_boot=0, n_boot_cka=0, bli=False, report=False, progress=False)
    probe(off, corpora=[demo_corpus], out_dir=tmp_path / "off")
    assert "sent/s" not in capsys.readouterr().err


def test_every_file_a_probe_writes_is_a_known_run_output(tiny_model_dir, demo_corpus, tmp_path):
    """A name missing from RUN_OUTPUTS would be carried into the next run as if it were the user's file."""
    from xalign.staging import RUN_OUTPUTS

    config = ProbeConfig(model=str(tiny_model_dir), n_boot=0, n_boot_cka=0, bli=False, report=True)
    probe(config, corpora=[demo_corpus], out_dir=tmp_path / "run")
    written = {p.name for p in (tmp_path / "run").iterdir()}
    assert "report_cache" in written and written <= RUN_OUTPUTS, written - RUN_OUTPUTS
