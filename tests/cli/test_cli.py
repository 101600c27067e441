"""The CLI: thin commands, one-line errors, exit codes."""

from __future__ import annotations

import argparse
import json

import pytest

from xalign.cli.main import main


def test_help_and_version(capsys):
    assert main([]) == 0
    assert "probe" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0


def test_env_json(capsys):
    assert main(["env", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert "torch" in info["versions"] and "cache_dir" in info and info["devices"]["cpu"]["cores"] >= 1


def test_probe_cli_writes_run(tiny_bert_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["-q", "probe", "--model", str(tiny_bert_dir), "--pair", "en-sw", "--limit", "25", "--n-boot", "50",
                 "--n-boot-cka", "0", "--no-report", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "retrieval.csls.en->sw.p@1" in text and "wrote" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["pairs"]["en-sw"]["n"] == 25


def test_embed_cli(tiny_bert_dir, tmp_path, capsys):
    import numpy as np

    code = main(["-q", "embed", "--model", str(tiny_bert_dir), "--pair", "en-ur", "--limit", "12", "--layers", "0,2",
                 "--out", str(tmp_path / "emb")])
    assert code == 0
    arr = np.load(tmp_path / "emb" / "en-ur" / "ur.npy")
    # against a naive reference: HF forward, mean over non-special tokens of hidden_states[0] and [2]
    import torch
    from transformers import AutoModel, AutoTokenizer

    from xalign.data import load_demo

    texts = load_demo("en-ur").head(12).tgt
    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    model = AutoModel.from_pretrained(tiny_bert_dir).eval()
    for i, text in enumerate(texts):
        enc = tok(text, return_tensors="pt", truncation=True, max_length=tok.model_max_length,
                  return_special_tokens_mask=True)
        keep = (enc.pop("special_tokens_mask")[0] == 0)
        with torch.no_grad():
            hidden = model(**enc, output_hidden_states=True).hidden_states
        for row, layer in enumerate((0, 2)):
            np.testing.assert_allclose(arr[row, i], hidden[layer][0][keep].mean(0).numpy(), atol=1e-5)
    manifest = json.loads((tmp_path / "emb" / "en-ur" / "manifest.json").read_text())
    assert manifest["layers"] == [0, 2] and manifest["data"]["n"] == 12


@pytest.mark.parametrize("argv, expected", [
    (["probe", "--pair", "en-xx"], "xx"),
    (["probe", "--src-file", "/nonexistent/a.txt", "--tgt-file", "/nonexistent/b.txt", "--pair", "en-sw"],
     "/nonexistent/a.txt"),
    (["probe", "--pair", "en-sw", "--limit", "0"], "limit"),
    (["embed", "--model", "/nonexistent/model-dir", "--pair", "en-sw"], "/nonexistent/model-dir"),
])
def test_errors_are_one_line_with_exit_2(argv, expected, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("xalign ") and expected in err[0]


def test_align_cli_on_bundled_sample(tiny_bert_dir, tmp_path, capsys):
    from importlib import resources

    demo = resources.files("xalign.data.demo")
    out = tmp_path / "align"
    code = main(["-q", "align", "--model", str(tiny_bert_dir), "--src-file", str(demo / "simalign_sample.eng.txt"),
                 "--tgt-file", str(demo / "simalign_sample.deu.txt"), "--gold",
                 str(demo / "simalign_sample.eng-deu.gold.txt"), "--layer", "1", "--n-boot", "50", "--out", str(out)])
    assert code == 0
    lines = (out / "alignments.txt").read_text().splitlines()
    assert len(lines) == 5 and all("-" in tok for line in lines for tok in line.split())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_pairs"] == 5
    # precision, recall and AER recomputed by hand from the written alignments and the gold file
    pred = [{tuple(map(int, tok.split("-"))) for tok in line.split()} for line in lines]
    sure, possible = [], []
    for line in (demo / "simalign_sample.eng-deu.gold.txt").read_text().splitlines():
        links = line.split("\t")[1].split()
        sure.append({tuple(map(int, t.split("-"))) for t in links if "-" in t})
        possible.append(sure[-1] | {tuple(map(int, t.split("p"))) for t in links if "p" in t})
    a = sum(len(x) for x in pred)
    a_s = sum(len(x & s) for x, s in zip(pred, sure))
    a_p = sum(len(x & p) for x, p in zip(pred, possible))
    n_s = sum(len(s) for s in sure)
    assert metrics["precision"] == pytest.approx(a_p / a, abs=1e-9)
    assert metrics["recall"] == pytest.approx(a_s / n_s, abs=1e-9)
    assert metrics["aer"] == pytest.approx(1 - (a_s + a_p) / (a + n_s), abs=1e-9)
    # the printed line comes from the typed result, the same numbers as the file
    printed = capsys.readouterr().out
    assert f"precision {metrics['precision']:.3f} recall {metrics['recall']:.3f}" in printed
    assert f"AER {metrics['aer']:.3f} [{metrics['aer_ci95'][0]:.3f}, {metrics['aer_ci95'][1]:.3f}]" in printed


def test_align_api_returns_typed_metrics(tiny_bert_dir, tmp_path):
    from importlib import resources

    from xalign.encoders import load_encoder
    from xalign.pipelines.align import AlignMetrics, align

    demo = resources.files("xalign.data.demo")
    gold = dict(gold=str(demo / "simalign_sample.eng-deu.gold.txt"), src_file=str(demo / "simalign_sample.eng.txt"),
                tgt_file=str(demo / "simalign_sample.deu.txt"))
    run, _ = align(gold, load_model=lambda: load_encoder(str(tiny_bert_dir)), layer=1, method="argmax",
                   level="word", n_boot=0, seed=0, out_dir=tmp_path / "a")
    assert isinstance(run.metrics, AlignMetrics) and run.metrics.aer_ci95 is None
    written = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert {k: written[k] for k in run.metrics.to_json()} == run.metrics.to_json()
    assert run.metrics.f1 == pytest.approx(2 * run.metrics.precision * run.metrics.recall
                                           / (run.metrics.precision + run.metrics.recall))


def test_report_of_a_malformed_run_is_one_line(tmp_path, capsys):  # issue 13 item 13
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text('{"pairs": {"en-sw": {"layers": [{"layer": 0, "cka": {"linear": [1, 2, 3]}}]}}}')
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "metrics.json" in err[0] and "cka.linear" in err[0]


def test_compare_no_report_n_boot_0_and_real_model_name(tiny_bert_dir, tmp_path, capsys):  # issues 13.16, 15.6
    out = tmp_path / "cmp"
    code = main(["-q", "compare", "--before", str(tiny_bert_dir), "--after", str(tiny_bert_dir), "--pair", "en-sw",
                 "--limit", "12", "--layers", "0,2", "--n-boot", "0", "--n-boot-cka", "0", "--no-bli", "--no-report",
                 "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "report.html" not in text and not (out / "report.html").exists()
    doc = json.loads((out / "compare.json").read_text())
    p1 = doc["pairs"]["en-sw"]["layers"][0]["metrics"]["retrieval.csls.en->sw.p@1"]
    assert "ci95" not in p1 and "p_value" not in p1 and p1["delta"]["after"] == 0.0  # 0 resamples means none
    assert doc["manifest"]["config"]["probe"]["n_boot"] == 0
    assert doc["models"][0]["name"] == json.loads((out / "models" / "before" / "manifest.json").read_text())[
        "model"]["name"]


@pytest.mark.parametrize("command", ["embed", "report", "env", "align", "probe", "compare", "train"])
def test_every_option_and_command_has_help_text(command):
    """Issue 23 E: `env` had no description and several options (--pooling, --batch-size, --method …) no help."""
    from xalign.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert all(a.help for a in parser._actions), "xalign --help has an entry without text"
    cmd = sub.choices[command]
    assert cmd.description, f"xalign {command} --help has no description"
    missing = [a.option_strings or a.dest for a in cmd._actions if not a.help]
    assert missing == [], f"xalign {command}: options without help text: {missing}"
    text = cmd.format_help()
    assert "%%" not in text, f"xalign {command} --help shows a doubled percent sign"
