"""The CLI: thin commands, one-line errors, exit codes."""

from __future__ import annotations

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
                 "--out", str(tmp_path)])
    assert code == 0
    arr = np.load(tmp_path / "en-ur" / "ur.npy")
    assert arr.shape == (2, 12, 32)
    manifest = json.loads((tmp_path / "en-ur" / "manifest.json").read_text())
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
    assert 0 <= metrics["aer"] <= 1 and metrics["n_pairs"] == 5
    # precision/recall/F1 are consistent with each other
    p, r = metrics["precision"], metrics["recall"]
    assert metrics["f1"] == pytest.approx(0 if p + r == 0 else 2 * p * r / (p + r), abs=1e-9)
