"""Task files a careless user writes: degenerate and mixed labels, bad JSON fields, broken TSV (issue 23 B/C)."""

from __future__ import annotations

import json
import re
import tracemalloc

import pytest

from xalign.data.tasks import check_label_names, load_task_split, read_pairs, read_task_file
from xalign.errors import ConfigError, DataError
from xalign.pipelines.train.config import TrainConfig
from xalign.pipelines.train.data import load_splits


def _tsv(path, labels, texts=None):
    texts = texts or [(f"a{i}", f"b{i}") for i in range(len(labels))]
    path.write_text("sentence1\tsentence2\tlabel\n" + "".join(f"{a}\t{b}\t{y}\n" for (a, b), y in zip(texts, labels)),
                    encoding="utf-8")
    return path


def _pairs_config(tmp_path, train, select, evals, **kw):
    return TrainConfig(task="pairs", out=str(tmp_path / "run"), train_file=str(train), select_file=str(select),
                       eval_files={"en": str(evals)}, **kw)


def test_integer_labels_must_be_contiguous_class_ids(tmp_path):
    f = _tsv(tmp_path / "t.tsv", [0, 1, 2, 5, 1])
    with pytest.raises(DataError, match=r"t.tsv: integer labels must be the class ids 0..k-1, each used; found "
                                         r"0, 1, 2, 5 \(give the class names"):
        read_pairs(f)
    _tsv(f, [1, 2, 1])  # 1-based ids are not silently a 3-class model with an empty class 0
    with pytest.raises(DataError, match="found 1, 2 "):
        read_pairs(f)
    _tsv(f, [0, 2, 1, 1])
    ds = read_pairs(f)
    assert ds.features["label"].names == ["0", "1", "2"] and list(ds["label"]) == [0, 2, 1, 1]


def test_a_huge_typo_label_is_one_line_and_allocates_nothing(tmp_path):
    f = _tsv(tmp_path / "t.tsv", [0, 1, 10**12, 1])
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="found 0, 1, 1000000000000 ") as err:
            read_pairs(f)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "\n" not in str(err.value) and peak < 50 * 2**20  # a 10**12-class model would need terabytes
    # with declared names the typo is out of range: one line naming the file and line
    with pytest.raises(DataError, match=r"t.tsv:4: label '1000000000000' is not one of \['no', 'yes'\]"):
        read_pairs(f, label_names=["no", "yes"])
    _tsv(f, [0, 1, "9" * 5000])  # beyond int()'s digit limit too
    with pytest.raises(DataError, match="integer labels must be the class ids"):
        read_pairs(f)


def test_single_label_training_data_is_refused(tmp_path):
    train = _tsv(tmp_path / "train.tsv", ["yes", "yes", "yes"])
    other = _tsv(tmp_path / "dev.tsv", ["yes", "yes"])
    with pytest.raises(DataError, match=r"train.tsv: every training item has the label 'yes' \(3 items\); a "
                                        r"classifier needs at least two labels"):
        load_splits(_pairs_config(tmp_path, train, other, other))
    # declaring a second name does not help: the model would never see it
    with pytest.raises(DataError, match="every training item has the label 'yes'"):
        load_splits(_pairs_config(tmp_path, train, other, other, label_names=["no", "yes"]))
    # a single-label evaluation file is fine
    _tsv(train, ["yes", "no", "yes"])
    splits = load_splits(_pairs_config(tmp_path, train, other, other))
    assert splits.train.features["label"].names == ["no", "yes"] and list(splits.eval["en"]["label"]) == [1, 1]


@pytest.mark.parametrize("label_names", [None, ["yes", "no"]])
def test_names_and_integers_across_files_are_refused(tmp_path, label_names):
    """A train file with names and an eval file with integers: which integer is which name is a convention the
    files do not share, so the run is refused, also when --label-names gives an order."""
    train = _tsv(tmp_path / "train.tsv", ["yes", "no", "yes"])
    select = _tsv(tmp_path / "dev.tsv", ["no", "yes"])
    evals = _tsv(tmp_path / "eval.tsv", [0, 1])
    with pytest.raises(DataError, match=r"eval.tsv has integers as labels but the training file .*train.tsv has "
                                        r"names"):
        load_splits(_pairs_config(tmp_path, train, select, evals, label_names=label_names))
    # and the other way round
    with pytest.raises(DataError, match="dev.tsv has names as labels but the training file .* has integers"):
        load_splits(_pairs_config(tmp_path, evals, select, evals, label_names=label_names))


@pytest.mark.parametrize("value, found", [(None, "NoneType null"), (["a", "b"], 'list ["a", "b"]'),
                                          (3, "int 3"), ({"t": "x"}, 'dict {"t": "x"}')])
def test_json_text_fields_must_be_strings(tmp_path, value, found):
    f = tmp_path / "train.jsonl"
    rows = [{"premise": "A man.", "hypothesis": "A person.", "label": 0},
            {"premise": value, "hypothesis": "B.", "label": 1}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"train.jsonl:2: field 'premise' must be a string, found " + re.escape(found)):
        read_task_file(f, "xnli")


def test_json_labels_must_be_names_or_integers(tmp_path):
    f = tmp_path / "train.jsonl"
    for bad, shown in ((None, "NoneType null"), (True, "bool true"), (1.5, "float 1.5")):
        f.write_text(json.dumps({"premise": "A.", "hypothesis": "B.", "label": bad}) + "\n", encoding="utf-8")
        with pytest.raises(DataError, match=rf"train.jsonl:1: label field 'label' must be a name or an integer, "
                                            rf"found {shown}"):
            read_task_file(f, "xnli")


def test_invalid_utf8_and_huge_fields_name_file_and_line(tmp_path):
    f = tmp_path / "train.tsv"
    f.write_bytes(b"sentence1\tsentence2\tlabel\na\tb\tyes\nc\t\xff\xfe\tno\n")
    with pytest.raises(DataError, match=r"train.tsv:3: invalid UTF-8"):
        read_pairs(f)
    f.write_text("sentence1\tsentence2\tlabel\na\tb\tyes\n" + "x" * 1_000_000 + "\tb\tno\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"train.tsv:3: field 1 has 1,000,000 characters \(at most 100,000"):
        read_pairs(f)
    j = tmp_path / "train.jsonl"
    j.write_text(json.dumps({"premise": "y" * 1_000_000, "hypothesis": "B.", "label": 0}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"train.jsonl:1: field 'premise' has 1,000,000 characters"):
        read_task_file(j, "xnli")
    # the same rules hold in a task's local copy (XTREME layout)
    (tmp_path / "xnli").mkdir()
    (tmp_path / "xnli" / "dev-en.tsv").write_bytes(b"a\tb\tneutral\nc\xc3\td\tneutral\n")
    with pytest.raises(DataError, match=r"dev-en.tsv:2: invalid UTF-8"):
        load_task_split("xnli", "en", "dev", data_dir=tmp_path / "xnli")


def test_duplicate_label_names_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"--label-names\) must be two or more distinct names in class order: "
                                          r"'yes' is given twice in \['yes', 'no', 'yes'\]"):
        check_label_names(["yes", "no", "yes"])
    with pytest.raises(ConfigError, match="fewer than two"):
        check_label_names(["yes"])
    f = _tsv(tmp_path / "t.tsv", ["yes", "no"])
    with pytest.raises(ConfigError, match="'no' is given twice"):
        read_pairs(f, label_names=["no", "no"])
    with pytest.raises(ConfigError, match="'yes' is given twice"):
        _pairs_config(tmp_path, f, f, f, label_names=["yes", "yes"])


def test_cli_refuses_bad_task_data_in_one_line(tmp_path, capsys):
    from xalign.cli.main import main

    train = tmp_path / "train.tsv"
    train.write_bytes(b"sentence1\tsentence2\tlabel\na\tb\tyes\nc\t\xff\tno\n")
    dev = _tsv(tmp_path / "dev.tsv", ["yes", "no"])
    base = ["train", "--task", "pairs", "--train-file", str(train), "--select-file", str(dev), "--eval-file",
            f"en={dev}", "--out", str(tmp_path / "run")]
    assert main(base) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "train.tsv:3: invalid UTF-8" in err
    assert main([*base, "--label-names", "yes,no,yes"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'yes' is given twice" in err
