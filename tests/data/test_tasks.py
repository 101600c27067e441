"""Task data readers and protocols (XNLI myXNLI layout, PAWS-X, generic TSV/JSONL)."""

from __future__ import annotations

import csv
import json

import pytest

from xalign.data.tasks.splits import generalized_pairs, standard_splits, xnli_noleak_splits
from xalign.data.tasks import load_task, make_dataset, read_pairs, task_spec
from xalign.data.tasks.xnli import LABELS as XNLI_LABELS
from xalign.errors import DataError, MissingFileError


@pytest.fixture(scope="module")
def xnli_dir(shared_data):
    return shared_data / "xnli_via_myxnli"


def _raw_rows(path):
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows[0], rows[1:]


def test_xnli_local_matches_files(xnli_dir):
    sw = load_task("xnli", "sw", "dev", data_dir=xnli_dir)
    en = load_task("xnli", "en", "dev", data_dir=xnli_dir)
    header, rows = _raw_rows(xnli_dir / "my.genre.dev.tsv")
    assert len(sw) == len(en) == len(rows) == 2490
    assert en[5]["sentence1"] == rows[5][header.index("sentence1_en")]
    assert en[5]["sentence2"] == rows[5][header.index("sentence2_en")]
    assert XNLI_LABELS[en[5]["label"]] == rows[5][header.index("label")]
    assert list(sw["item_id"]) == list(en["item_id"]) and list(sw["label"]) == list(en["label"])
    assert [list(en["label"]).count(i) for i in range(3)] == [830, 830, 830]
    assert len(load_task("xnli", "ur", "test", data_dir=xnli_dir)) == 5010


def test_xnli_errors_name_what_is_missing(xnli_dir, tmp_path):
    with pytest.raises(ValueError, match="xnli has no language 'xx'"):
        load_task("xnli", "xx", "dev", data_dir=xnli_dir)
    with pytest.raises(MissingFileError, match=r"no xnli train data in .*looked for the layouts xtreme: train-<lang>"):
        load_task("xnli", "en", "train", data_dir=xnli_dir)
    with pytest.raises(ValueError, match="unknown task 'mnli'"):
        load_task("mnli", "en", "dev", data_dir=xnli_dir)
    bad = tmp_path / "sw.genre.dev.tsv"
    bad.write_text("genre\tlabel\tsentence1_sw\tsentence2_sw\nfiction\tneutral\tA\tB\nfiction\tmaybe\tC\tD\n")
    with pytest.raises(DataError, match=r"sw.genre.dev.tsv item dev-00001: label 'maybe' is not one of"):
        load_task("xnli", "sw", "dev", data_dir=tmp_path)
    bad.write_text("genre\tlabel\tsentence1_sw\tsentence2_sw\nfiction\tneutral\tA\n")
    with pytest.raises(DataError, match=r"sw.genre.dev.tsv:2: expected 4 tab-separated fields, found 3"):
        load_task("xnli", "sw", "dev", data_dir=tmp_path)


def test_noleak_protocol_ids_are_disjoint(xnli_dir):
    s = xnli_noleak_splits(xnli_dir, n_train=300, n_select=120, n_eval=150, seed=3, languages=["en", "sw", "ur"])
    train_ids, select_ids = set(s.train["item_id"]), set(s.select["item_id"])
    assert len(s.train) == 300 and len(s.select) == 120 and all(len(d) == 150 for d in s.eval.values())
    assert all(i.startswith("test-") for i in train_ids) and all(i.startswith("dev-") for i in select_ids)
    for lang, ds in s.eval.items():
        ids = set(ds["item_id"])
        assert not ids & train_ids and not ids & select_ids, lang
    # no premise is shared by selection and evaluation items
    assert not set(s.select["sentence1"]) & set(s.eval["en"]["sentence1"])
    # translations are aligned: every eval language holds the same items with the same labels
    assert list(s.eval["sw"]["item_id"]) == list(s.eval["ur"]["item_id"]) == list(s.eval["en"]["item_id"])
    again = xnli_noleak_splits(xnli_dir, n_train=300, n_select=120, n_eval=150, seed=3, languages=["en", "sw"])
    assert list(again.train["item_id"]) == list(s.train["item_id"])


def test_generalized_pairs_mix_languages(xnli_dir):
    s = xnli_noleak_splits(xnli_dir, n_train=10, n_select=10, n_eval=20, seed=0, languages=["en", "sw"])
    g = generalized_pairs(s.eval, "en", "sw")
    assert list(g["sentence1"]) == list(s.eval["en"]["sentence1"])
    assert list(g["sentence2"]) == list(s.eval["sw"]["sentence2"])
    assert list(g["label"]) == list(s.eval["en"]["label"])


def test_read_pairs_tsv_and_jsonl(tmp_path):
    tsv = tmp_path / "train.tsv"
    tsv.write_text("premise\thypothesis\tgold\tuid\nA b\tC d\tyes\tu1\nE f\tG h\tno\tu2\n", encoding="utf-8")
    ds = read_pairs(tsv, sentence1="premise", sentence2="hypothesis", label="gold", item_id="uid")
    assert list(ds["sentence1"]) == ["A b", "E f"] and list(ds["item_id"]) == ["u1", "u2"]
    assert ds.features["label"].names == ["no", "yes"] and list(ds["label"]) == [1, 0]
    jl = tmp_path / "dev.jsonl"
    jl.write_text(json.dumps({"s1": "x", "s2": "y", "y": 1}) + "\n\n" + json.dumps({"s1": "z", "s2": "w", "y": 0}))
    ds = read_pairs(jl, sentence1="s1", sentence2="s2", label="y", label_names=["no", "yes"])
    assert list(ds["label"]) == [1, 0] and list(ds["item_id"]) == ["row-000000", "row-000001"]
    # integers without declared names are class ids, never re-sorted names
    ds = read_pairs(jl, sentence1="s1", sentence2="s2", label="y")
    assert list(ds["label"]) == [1, 0] and ds.features["label"].names == ["0", "1"]
    # a file mixing names and integers is refused, naming both lines
    jl.write_text(json.dumps({"s1": "x", "s2": "y", "y": "yes"}) + "\n" + json.dumps({"s1": "z", "s2": "w", "y": 0}))
    with pytest.raises(DataError, match=r"labels mix integers and names \(.*dev.jsonl:2: '0', .*dev.jsonl:1: 'yes'\)"):
        read_pairs(jl, sentence1="s1", sentence2="s2", label="y", label_names=["no", "yes"])


def test_read_pairs_errors(tmp_path):
    f = tmp_path / "eval.tsv"
    f.write_text("sentence1\tsentence2\tlabel\na\tb\tyes\nc\td\tmaybe\n")
    with pytest.raises(ValueError, match=r"eval.tsv:3: label 'maybe' is not one of \['no', 'yes'\]"):
        read_pairs(f, label_names=["no", "yes"])
    f.write_text("sentence1\tsentence2\tlabel\n")
    with pytest.raises(ValueError, match="eval.tsv: no data rows"):
        read_pairs(f)
    f.write_text("sentence1\tsentence2\tlabel\na\t\tyes\n")
    with pytest.raises(ValueError, match=r"eval.tsv:2: empty sentence"):
        read_pairs(f)
    j = tmp_path / "x.jsonl"
    j.write_text('{"sentence1": "a", "label": 1}\n')
    with pytest.raises(ValueError, match=r"x.jsonl:1: missing field\(s\) \['sentence2'\]"):
        read_pairs(j)
    j.write_text('{"sentence1": "a",\n')
    with pytest.raises(ValueError, match=r"x.jsonl:1: invalid JSON"):
        read_pairs(j)
    with pytest.raises(FileNotFoundError, match="nope.tsv"):
        read_pairs(tmp_path / "nope.tsv")


def test_standard_splits_and_alignment_checks():
    def load(lang, split):
        n = {"train": 8, "dev": 4, "test": 6}[split]
        return make_dataset([f"{lang}{i}" for i in range(n)], ["h"] * n, [i % 2 for i in range(n)],
                            [f"{split}-{i}" for i in range(n)], ["a", "b"]), 0

    s = standard_splits(load, train_lang="en", languages={"test": ["en", "de"]}, n_train=5, n_eval=3, seed=0)
    assert len(s.train) == 5 and len(s.select) == 4
    assert list(s.eval["en"]["item_id"]) == list(s.eval["de"]["item_id"]) and len(s.eval["de"]) == 3
    with pytest.raises(ValueError, match="unique"):
        make_dataset(["a", "b"], ["c", "d"], [0, 1], ["x", "x"], ["n", "y"])
    assert task_spec("paws-x").name == "pawsx"


def test_subsamples_do_not_depend_on_each_other():
    """Each subsample has its own generator: another n_train leaves the dev halves and eval items as they were."""
    def load(lang, split):
        n = {"train": 30, "dev": 20, "test": 25}[split]
        return make_dataset([f"{split}{i}" for i in range(n)], ["h"] * n, [i % 2 for i in range(n)],
                            [f"{split}-{i}" for i in range(n)], ["a", "b"]), 0

    langs = {"test": ["en"], "dev": ["en"]}
    a = standard_splits(load, train_lang="en", languages=langs, n_train=None, n_select=6, n_eval=7, data_seed=3)
    b = standard_splits(load, train_lang="en", languages=langs, n_train=10, n_select=6, n_eval=7, data_seed=3)
    assert len(a.train) == 30 and len(b.train) == 10
    assert list(a.select["item_id"]) == list(b.select["item_id"])
    for split in ("test", "dev"):
        assert list(a.eval_sets[split]["en"]["item_id"]) == list(b.eval_sets[split]["en"]["item_id"])
    # selection and dev evaluation never share an item
    assert not set(a.select["item_id"]) & set(a.eval_sets["dev"]["en"]["item_id"])


def test_hub_path_for_pair_tasks(monkeypatch):
    """XNLI and PAWS-X from the hub through ``datasets.load_dataset`` (a local stand-in here)."""
    import datasets

    calls = []

    def fake(path, name=None, split=None, **kw):
        calls.append((path, name, split))
        if path == "facebook/xnli":  # no id column: items are rows
            return datasets.Dataset.from_dict({"premise": ["P0", "P1"], "hypothesis": ["H0", "H1"], "label": [2, 0]})
        return datasets.Dataset.from_dict({"id": [7, 3], "sentence1": ["a", "b"], "sentence2": ["c", "d"],
                                           "label": [1, 0]})

    monkeypatch.setattr(datasets, "load_dataset", fake)
    ds = load_task("xnli", "swh_Latn", "dev")
    assert calls[-1] == ("facebook/xnli", "sw", "validation")
    assert ds.to_dict() == {"sentence1": ["P0", "P1"], "sentence2": ["H0", "H1"], "label": [2, 0],
                            "item_id": ["dev-00000", "dev-00001"]}
    ds = load_task("paws-x", "de", "test")
    assert calls[-1] == ("google-research-datasets/paws-x", "de", "test")
    assert list(ds["item_id"]) == ["7", "3"] and list(ds["label"]) == [1, 0]

    def offline(*a, **kw):
        raise ConnectionError("no network\nsecond line")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(MissingFileError, match=r"could not load xnli en/test from the Hugging Face hub \(facebook/xnli, "
                                               r"ConnectionError: no network\); pass a local data directory instead$"):
        load_task("xnli", "en", "test")
