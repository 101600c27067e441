"""Substitution sets and seeded word substitution (RS-DA)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from xalign.robust.substitutions import (augment_pairs, build_table, embedding_neighbours, item_rng,
                                         load_dictionary, load_synonyms, merge_tables, restrict, substitute,
                                         text_vocabulary, whole_word_pieces)

TABLE = {"good": ("fine", "nice", "great"), "movie": ("film",), "The": ("This",)}


def test_substitute_draws_only_from_word_or_its_set_and_uniformly():
    text = "The good movie was  long ."
    seen: list[Counter] = [Counter() for _ in text.split()]
    for seed in range(3000):
        out = substitute(text, TABLE, item_rng(seed, 0, 0)).split()
        assert len(out) == 6
        for i, w in enumerate(out):
            seen[i][w] += 1
    words = text.split()
    for i, word in enumerate(words):
        allowed = {word, *TABLE.get(word, ())}
        assert set(seen[i]) == allowed  # every option occurs, nothing else does
        if len(allowed) > 1:  # uniform over {word} ∪ subs (Robust-XLT keeps the word with prob 1/(n+1))
            counts = [seen[i][w] for w in sorted(allowed)]
            assert stats.chisquare(counts).pvalue > 1e-3


def test_substitute_is_case_sensitive_and_whitespace_tokenized():
    rng = item_rng(0, 0, 0)
    assert substitute("the Good movie, again", TABLE, rng) == "the Good movie, again"


def test_substitution_reproducible_under_seed_and_differs_across_seeds():
    texts = ["The good movie is good and the movie is good"] * 5
    a = augment_pairs(texts, texts, TABLE, copies=3, seed=1)
    b = augment_pairs(texts, texts, TABLE, copies=3, seed=1)
    c = augment_pairs(texts, texts, TABLE, copies=3, seed=2)
    assert a == b and a != c
    assert a[2] == [i for _ in range(3) for i in range(5)]
    assert len(set(a[0])) > 1  # copies and items differ from each other


def test_item_rng_depends_only_on_its_keys():
    x = item_rng(7, 1, 2).integers(1 << 30, size=4)
    np.testing.assert_array_equal(x, item_rng(7, 1, 2).integers(1 << 30, size=4))
    assert not np.array_equal(x, item_rng(7, 2, 1).integers(1 << 30, size=4))


def test_counterfitted_synonyms_match_published_counts(shared_data):
    table = load_synonyms(shared_data / "synonyms" / "counterfitted_neighbors.json")
    raw = json.loads((shared_data / "synonyms" / "counterfitted_neighbors.json").read_text())
    assert len(raw) == 49975
    assert len(table) == 25591  # keys with >= 1 neighbour (MANIFEST / Robust-XLT)
    assert max(len(v) for v in table.values()) == 8
    assert table["movie"][0] == "film"


def test_load_synonyms_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": ["b",\n  ]}')
    with pytest.raises(ValueError, match=r"bad.json:\d+: invalid JSON"):
        load_synonyms(bad)
    bad.write_text('{"a": "b"}')
    with pytest.raises(ValueError, match="must be a list of strings"):
        load_synonyms(bad)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_synonyms(tmp_path / "missing.json")


def test_dictionary_code_switching_table(tmp_path):
    f = tmp_path / "sw-en.train"
    f.write_text("paka\tcat\nnyumba\thouse\nkaya\thouse\nmbwa mdogo\tpuppy\n", encoding="utf-8")
    assert load_dictionary(f) == {"cat": ("paka",), "house": ("nyumba", "kaya")}
    assert load_dictionary(f, direction="xx->en") == {"paka": ("cat",), "nyumba": ("house",), "kaya": ("house",)}
    f.write_text("paka\tcat\nbroken line\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"sw-en.train:2: expected 'foreign<TAB>english'"):
        load_dictionary(f)


def test_real_dictionary_reads(shared_data):
    table = load_dictionary(shared_data / "dict_wiktionary_bli" / "sw-en.train")
    assert "vuruga" in table["mix"]


def test_merge_and_restrict():
    merged = merge_tables({"a": ["b", "c"]}, {"a": ["c", "d", "a"], "x": []})
    assert merged == {"a": ("b", "c", "d")}
    assert restrict({"a": ("b",), "z": ("y",)}, ["a", "q"]) == {"a": ("b",)}
    assert text_vocabulary(["a b", "b  c"]) == {"a", "b", "c"}


@pytest.mark.parametrize("kind", ["bert", "xlmr"])
def test_whole_word_pieces_and_embedding_neighbours_match_brute_force(kind, _tiny_dirs):
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(_tiny_dirs[kind])
    pieces = whole_word_pieces(tok)
    assert pieces
    for surface, idx in pieces.items():
        assert tok(surface, add_special_tokens=False)["input_ids"] == [idx]
        token = tok.convert_ids_to_tokens(idx)
        assert not token.startswith("##")
    weight = AutoModel.from_pretrained(_tiny_dirs[kind]).get_input_embeddings().weight.detach()
    words = sorted(pieces)[:10] + ["notaword-xyz"]
    table = embedding_neighbours(tok, weight, words, k=3, min_cos=-1.0, chunk=4)
    assert "notaword-xyz" not in table
    w = weight.double().numpy()
    surfaces = list(pieces)
    for word in words[:-1]:
        q = w[pieces[word]] / np.linalg.norm(w[pieces[word]])
        cos = [(q @ (w[pieces[s]] / np.linalg.norm(w[pieces[s]])), s) for s in surfaces if s != word]
        expected = [s for _, s in sorted(cos, key=lambda t: -t[0])[:3]]
        assert list(table[word]) == expected


def test_build_table_combines_sources(tmp_path):
    syn = tmp_path / "syn.json"
    syn.write_text(json.dumps({"good": ["fine"], "bad": ["poor"]}))
    dic = tmp_path / "d.train"
    dic.write_text("nzuri\tgood\n", encoding="utf-8")
    table = build_table(["synonyms", "dictionary"], texts=["a good day"], synonyms=syn, dictionaries=[dic])
    assert table == {"good": ("fine", "nzuri")}
    with pytest.raises(ValueError, match="unknown substitution source"):
        build_table(["thesaurus"], texts=["x"])
    with pytest.raises(ValueError, match="needs the tokenizer"):
        build_table(["embedding"], texts=["x"])
