"""FLORES-200 codes on the command line: the pair is named as given, an ambiguous code is one error line."""

from __future__ import annotations

import csv
import json

from xalign.cli.main import main


def test_probe_names_the_pair_with_the_flores_code(tiny_bert_dir, tmp_path, capsys):
    src, tgt = tmp_path / "en.txt", tmp_path / "ace.txt"
    src.write_text("".join(f"sentence number {i} about cats\n" for i in range(12)), encoding="utf-8")
    tgt.write_text("".join(f"ayat {i} tentang kucing\n" for i in range(12)), encoding="utf-8")
    out = tmp_path / "run"
    code = main(["-q", "probe", "--model", str(tiny_bert_dir), "--src-file", str(src), "--tgt-file", str(tgt),
                 "--pair", "en-ace_Arab", "--n-boot", "0", "--n-boot-cka", "0", "--no-report", "--out", str(out)])
    assert code == 0
    assert list(json.loads((out / "metrics.json").read_text())["pairs"]) == ["en-ace_Arab"]
    with open(out / "metrics.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and {r["pair"] for r in rows} == {"en-ace_Arab"}
    assert any(r["metric"] == "retrieval.csls.en->ace_Arab.p@1" for r in rows)


def test_ambiguous_code_is_one_line_with_the_choices(capsys):
    assert main(["probe", "--pair", "en-ace"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ace_Arab" in err[0] and "ace_Latn" in err[0] and "'en-ace'" in err[0]
