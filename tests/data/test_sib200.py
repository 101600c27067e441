"""SIB-200 as a task: the local layout, labels, items matched by index_id, the hub path, the zero-shot protocol."""

from __future__ import annotations

import csv
import random

import pytest

from xalign.data.tasks import load_task_split, task_languages, task_spec
from xalign.data.tasks.sib200 import LABELS, LANGUAGES
from xalign.errors import ConfigError, DataError
from xalign.pipelines.train.config import TrainConfig
from xalign.pipelines.train.data import load_splits

LANGS = ("eng_Latn", "swh_Latn", "ace_Arab", "ace_Latn")
SIZES = {"train": 14, "dev": 6, "test": 8}


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("index_id\tcategory\ttext\n" + "".join(f"{i}\t{c}\t{t}\n" for i, c, t in rows), encoding="utf-8")


def _items(split):
    """Item ids (not in numeric order, as upstream) with a topic each; every topic occurs in train."""
    start = {"train": 1, "dev": 100, "test": 200}[split]
    ids = [start + 7 * k for k in range(SIZES[split])]
    random.Random(split).shuffle(ids)
    return [(str(i), LABELS[k % len(LABELS)]) for k, i in enumerate(ids)]


@pytest.fixture
def sib_dir(tmp_path):
    root = tmp_path / "sib200"
    for lang in LANGS:
        for split in SIZES:
            _write(root / lang / f"{split}.tsv", [(i, c, f"{lang} sentence {i}") for i, c in _items(split)])
    (root / "labels.txt").write_text("\n".join(LABELS) + "\n", encoding="utf-8")
    return root


def _by_id(ds):
    return {i: (t, ds.features["label"].names[y]) for i, t, y in zip(ds["item_id"], ds["sentence1"], ds["label"])}


def test_spec_labels_languages_and_codes():
    spec = task_spec("sib200")
    assert spec.text_columns == ("sentence1",) and not spec.is_pair
    assert spec.labels == ("science/technology", "travel", "politics", "sports", "health", "entertainment",
                           "geography")
    assert len(LANGUAGES) == len(set(LANGUAGES)) == 205 and "nqo_Nkoo" in LANGUAGES
    assert spec.language("sw") == "swh_Latn" and spec.language("en") == "eng_Latn"
    assert spec.language("ace_Arab") == "ace_Arab" and task_spec("SIB-200") is spec
    with pytest.raises(ConfigError, match=r"sib200 has no language 'xx_Latn': expected one of ace_Arab, .*\(205 in"):
        spec.language("xx_Latn")


def test_reads_the_layout_by_index_id(sib_dir):
    ds, dropped = load_task_split("sib200", "sw", "test", data_dir=sib_dir)
    assert dropped == 0 and ds.column_names == ["sentence1", "label", "item_id"]
    with open(sib_dir / "swh_Latn" / "test.tsv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert _by_id(ds) == {r["index_id"]: (r["text"], r["category"]) for r in rows}
    assert list(ds["item_id"]) == sorted(ds["item_id"], key=int)  # one order in every language: by index_id
    assert task_languages("sib200", "test", data_dir=sib_dir) == sorted(LANGS)
    # a parent folder works too (the layout may sit in a subfolder)
    assert task_languages("sib200", "dev", data_dir=sib_dir.parent) == sorted(LANGS)


def test_bad_files_are_one_line(sib_dir):
    (sib_dir / "labels.txt").write_text("science/technology\ntravel\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"labels.txt: expected the 7 SIB-200 topics"):
        load_task_split("sib200", "en", "dev", data_dir=sib_dir)
    (sib_dir / "labels.txt").unlink()
    _write(sib_dir / "eng_Latn" / "dev.tsv", [("1", "travel", "a"), ("2", "cooking", "b")])
    with pytest.raises(DataError, match=r"eng_Latn/dev.tsv item 2: label 'cooking' is not one of"):
        load_task_split("sib200", "en", "dev", data_dir=sib_dir)
    _write(sib_dir / "eng_Latn" / "dev.tsv", [("1", "travel", "a"), ("1", "travel", "b")])
    with pytest.raises(DataError, match=r"eng_Latn/dev.tsv:3: duplicate index_id '1'"):
        load_task_split("sib200", "en", "dev", data_dir=sib_dir)


def _config(sib_dir, tmp_path, **kw):
    return TrainConfig(task="sib200", data_dir=str(sib_dir), out=str(tmp_path / "run"), **kw)


def test_zero_shot_protocol_in_every_language(sib_dir, tmp_path):
    splits = load_splits(_config(sib_dir, tmp_path, eval_langs=["all"]))
    assert splits.text_columns == ("sentence1",)
    assert len(splits.train) == SIZES["train"] and set(splits.train["sentence1"]) == {
        f"eng_Latn sentence {i}" for i, _ in _items("train")}
    assert set(splits.select["item_id"]) == {i for i, _ in _items("dev")}
    assert sorted(splits.eval) == sorted(LANGS)
    for lang, ds in splits.eval.items():
        assert _by_id(ds) == {i: (f"{lang} sentence {i}", c) for i, c in _items("test")}
    assert splits.info["train_source"] == "sib200 eng_Latn train"
    config = _config(sib_dir, tmp_path, eval_langs=["sw", "ace_Latn"], train_lang="eng_Latn")
    assert config.eval_langs == ["swh_Latn", "ace_Latn"] and config.train_lang == "eng_Latn"
    assert sorted(load_splits(config).eval) == ["ace_Latn", "swh_Latn"]
    with pytest.raises(ConfigError, match="needs a sentence-pair task; sib200 has one text column"):
        load_splits(_config(sib_dir, tmp_path, eval_langs=["all"], generalized=True))


def test_a_training_file_in_the_sib200_format(sib_dir, tmp_path):
    from xalign.data.tasks.splits import dataset_fingerprint

    path = tmp_path / "my_train.tsv"
    head, *rows = (sib_dir / "eng_Latn" / "train.tsv").read_text(encoding="utf-8").splitlines()
    random.Random(1).shuffle(rows)
    path.write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    from_file = load_splits(_config(sib_dir, tmp_path, train_file=str(path)))
    from_folder = load_splits(_config(sib_dir, tmp_path))
    assert dataset_fingerprint(from_file.train) == dataset_fingerprint(from_folder.train)
    assert from_file.info["train_source"] == str(path)


def test_a_shuffled_file_gives_the_same_items_in_the_same_order(sib_dir, tmp_path):
    before = load_splits(_config(sib_dir, tmp_path, eval_langs=["all"]))
    for lang, split in (("swh_Latn", "test"), ("ace_Arab", "test"), ("eng_Latn", "train"), ("eng_Latn", "dev")):
        path = sib_dir / lang / f"{split}.tsv"
        head, *rows = path.read_text(encoding="utf-8").splitlines()
        random.Random(5).shuffle(rows)
        path.write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    after = load_splits(_config(sib_dir, tmp_path, eval_langs=["all"]))
    assert after.fingerprint() == before.fingerprint()  # texts, labels and item ids, in order, per split/language
    for lang in LANGS:
        assert after.eval[lang].to_dict() == before.eval[lang].to_dict()


def test_hub_path_reads_davlan_sib200(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(path, name=None, split=None, **kw):
        calls.append((path, name, split))
        return datasets.Dataset.from_dict({"index_id": [12, 3], "category": ["sports", "travel"],
                                           "text": ["Mchezo.", "Safari."]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    ds, dropped = load_task_split("sib200", "sw", "dev")
    assert calls == [("Davlan/sib200", "swh_Latn", "validation")] and dropped == 0
    assert list(ds["item_id"]) == ["3", "12"] and list(ds["sentence1"]) == ["Safari.", "Mchezo."]
    assert [LABELS[y] for y in ds["label"]] == ["travel", "sports"] and "sentence2" not in ds.column_names
    assert task_languages("sib200", "test") == list(LANGUAGES)


def test_the_shared_copy_has_205_languages(shared_data, tmp_path):
    root = shared_data / "sib200"
    assert task_languages("sib200", "test", data_dir=root) == sorted(LANGUAGES)
    en, _ = load_task_split("sib200", "en", "train", data_dir=root)
    assert len(en) == 701 and sorted(set(en["label"])) == list(range(7))
    config = _config(root, tmp_path, eval_langs=["all"], n_eval=5)
    assert config.eval_langs == ["all"]
    splits = load_splits(config)
    assert len(splits.eval) == 205 and all(len(d) == 5 for d in splits.eval.values())
    ids = {tuple(d["item_id"]) for d in splits.eval.values()}
    assert len(ids) == 1  # the same five items in every language
