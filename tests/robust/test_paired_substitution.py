"""RS-DA with paired substitution (issue 25, item 4): a word is replaced the same way wherever it occurs in an
item, so a pair whose sentence 2 reorders sentence 1's words keeps that relation after substitution."""

from __future__ import annotations

import pytest

from xalign.robust.substitutions import augment_pairs, item_rng, substitute, substitute_item, substitute_paired
from xalign.training.features import PairDataset

TABLE = {"big": ("large", "huge"), "dog": ("hound",), "cat": ("kitten", "feline", "puss")}
S1 = "the big dog chased a big cat"
S2 = "a big cat chased the big dog"  # PAWS-style: the same words, another order, another meaning


class Draws:
    """A stand-in for ``numpy.random.Generator`` that returns hand-chosen draws and records each bound."""

    def __init__(self, *values):
        self.values, self.bounds = list(values), []

    def integers(self, n):
        self.bounds.append(n)
        return self.values.pop(0)


def test_paired_substitution_of_a_hand_built_pair():
    # one draw per word type, in order of first appearance: big (3 options), dog (2), cat (4)
    rng = Draws(2, 1, 0)  # big → "huge", dog → "hound", cat → itself
    assert substitute_paired([S1, S2], TABLE, rng) == ["the huge hound chased a huge cat",
                                                       "a huge cat chased the huge hound"]
    assert rng.bounds == [3, 2, 4] and rng.values == []


def test_independent_substitution_of_the_same_pair_draws_per_occurrence():
    # Robust-XLT: every occurrence draws on its own, sentence 1 first: big, dog, big, cat | big, cat, big, dog
    rng = Draws(2, 1, 1, 3, 0, 2, 1, 0)
    a, b = substitute_item(S1, S2, TABLE, rng)
    assert (a, b) == ("the huge hound chased a large puss", "a big feline chased the large dog")
    assert rng.bounds == [3, 2, 3, 4, 3, 4, 3, 2]


def test_paired_keeps_the_word_order_relation_for_every_seed():
    words1 = S1.split()
    perm = [S1.split().index(w) if w not in ("a", "the") else None for w in S2.split()]
    for seed in range(200):
        a, b = substitute_item(S1, S2, TABLE, item_rng(seed, 0, 0), paired=True)
        x, y = a.split(), b.split()
        # each word of sentence 2 is the substitute its source word got in sentence 1
        for j, i in enumerate(perm):
            if i is not None:
                assert y[j] == x[i], (seed, a, b)
        for w, orig in zip(x, words1):
            assert w in (orig, *TABLE.get(orig, ()))


def test_unpaired_mode_is_unchanged_and_paired_mode_reaches_copies_and_the_dataset(tiny_classifier):
    _, tok = tiny_classifier
    a, b, src = augment_pairs([S1, "big cat"], [S2, "cat big"], TABLE, copies=2, seed=5)
    assert a[3] == substitute("big cat", TABLE, (r := item_rng(5, 1, 1))) and b[3] == substitute("cat big", TABLE, r)
    pa, pb, psrc = augment_pairs([S1, "big cat"], [S2, "cat big"], TABLE, copies=2, seed=5, paired=True)
    assert psrc == src == [0, 1, 0, 1]
    for k in range(4):
        assert [pa[k], pb[k]] == substitute_paired([[S1, "big cat"][src[k]], [S2, "cat big"][src[k]]], TABLE,
                                                   item_rng(5, k // 2, src[k]))
        assert sorted(pa[k].split()) == sorted(pb[k].split())  # the same words in both sentences
    ds = PairDataset([S1], [S2], [0], tok, max_length=32, table=TABLE, seed=5, paired=True)
    ds.set_epoch(3)
    assert list(ds.texts(0)) == substitute_paired([S1, S2], TABLE, item_rng(5, 3, 0))


@pytest.mark.parametrize("paired", [False, True])
def test_one_sentence_items_substitute_their_one_sentence(paired):
    out, none = substitute_item("big big dog", None, TABLE, Draws(1, 0, 1), paired=paired)
    assert none is None
    # paired: big → large (everywhere), dog → dog; independent: big → large, big → big, dog → hound
    assert out == ("large large dog" if paired else "large big hound")


def test_rsda_paired_is_a_train_setting_and_reaches_the_offline_copies(tmp_path, tiny_bert_dir):
    """``TrainConfig(rsda_paired=True)`` → the rs-da method's settings → copies whose two sentences share one
    substitution per word (the synthetic pairs repeat sentence 1's words in sentence 2)."""
    import csv
    import json

    from xalign.pipelines.train import train

    from ..pipelines.test_train import _config, _write_pairs
    from .conftest import synthetic_pairs

    a, b, y = synthetic_pairs(12, seed=1)
    files = {"train_file": _write_pairs(tmp_path / "train.tsv", a, b, y, [f"t{i}" for i in range(12)]),
             "select_file": _write_pairs(tmp_path / "dev.tsv", a[:6], b[:6], y[:6], [f"d{i}" for i in range(6)]),
             "columns": {"item_id": "id"}, "label_names": ["same", "different", "shuffled"]}
    files["eval_files"] = {"en": files["select_file"]}
    table = {"The": ["A", "This"], "cat": ["kitten"], "dog": ["hound"], "park": ["garden"], "the": ["a", "one"]}
    syn = tmp_path / "syn.json"
    syn.write_text(json.dumps(table), encoding="utf-8")
    cfg = _config(tmp_path, tiny_bert_dir, files, method="rs-da", synonyms=str(syn), rsda_copies=3, rsda_paired=True,
                  max_steps=2, eval_steps=2)
    train(cfg)
    with open(tmp_path / "run" / "rsda_copies.tsv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(rows) == 36 and [r["copy"] for r in rows[::12]] == ["0", "1", "2"]
    subs = {w: tuple(s) for w, s in table.items()}
    for k, row in enumerate(rows):
        i = int(row["item_id"][1:])
        assert [row["sentence1"], row["sentence2"]] == substitute_paired([a[i], b[i]], subs, item_rng(11, k // 12, i))
        if y[i] == 0:  # label "same": sentence 2 is sentence 1, and stays so under paired substitution
            assert row["sentence1"] == row["sentence2"]
        if y[i] == 2:  # label "shuffled": still the same words in another order
            assert sorted(row["sentence1"].split()) == sorted(row["sentence2"].split())
