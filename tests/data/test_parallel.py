"""Parallel corpus readers: line pairs, TSV, FLORES/SIB-200 and NTREX folders, validation errors."""

from __future__ import annotations

import hashlib
import logging
import random
from pathlib import Path

import pytest

from xalign.data import ParallelCorpus, load_parallel

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
LANGS = ("sw", "ur", "yo", "hi", "de", "fr")


@pytest.fixture
def caplog(caplog, monkeypatch):
    """caplog that also works after the CLI has set propagate=False on the 'xalign' logger."""
    monkeypatch.setattr(logging.getLogger("xalign"), "propagate", True)
    return caplog


def _shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    return path


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# --------------------------------------------------------------------------- two text files
def test_line_pair_keeps_text_exactly_and_strips_only_line_endings(tmp_path: Path) -> None:
    src = _write(tmp_path / "a.en", "\ufeffHello  world\r\n  leading\ttab \r\nlast line")
    tgt = _write(tmp_path / "a.sw", "Habari  dunia\n  mwanzo\ttab \nmstari wa mwisho\n")
    c = load_parallel(src, tgt)
    assert (c.src_lang, c.tgt_lang, c.pair) == ("en", "sw", "en-sw")
    assert c.src == ["Hello  world", "  leading\ttab ", "last line"]
    assert c.tgt == ["Habari  dunia", "  mwanzo\ttab ", "mstari wa mwisho"]
    assert c.ids is None and c.dropped_empty == 0 and len(c) == 3
    assert c.sources == [{"path": str(src.resolve()), "sha256": hashlib.sha256(src.read_bytes()).hexdigest()},
                         {"path": str(tgt.resolve()), "sha256": hashlib.sha256(tgt.read_bytes()).hexdigest()}]


def test_languages_come_from_pair_or_suffix_else_a_clear_error(tmp_path: Path) -> None:
    src, tgt = _write(tmp_path / "x.txt", "a\n"), _write(tmp_path / "y.txt", "b\n")
    assert load_parallel(src, tgt, pair="sw-en").pair == "sw-en"
    assert load_parallel(src, tgt, src_lang="eng_Latn", tgt_lang="yor").pair == "en-yo"
    assert load_parallel(_write(tmp_path / "f.de.txt", "a\n"), _write(tmp_path / "f.fr.txt", "b\n")).pair == "de-fr"
    with pytest.raises(ValueError, match=r"cannot tell the languages of .*x\.txt and .*y\.txt: pass --pair en-sw \(pair="):
        load_parallel(src, tgt)
    with pytest.raises(ValueError, match="contradicts"):
        load_parallel(src, tgt, pair="en-sw", src_lang="de")


@pytest.mark.parametrize(("n_src", "n_tgt"), [(3, 2), (2, 3), (1, 4)])
def test_line_count_mismatch_names_both_files_and_counts(tmp_path: Path, n_src: int, n_tgt: int) -> None:
    src = _write(tmp_path / "s.txt", "".join(f"s{i}\n" for i in range(n_src)))
    tgt = _write(tmp_path / "t.txt", "".join(f"t{i}\n" for i in range(n_tgt)))
    with pytest.raises(ValueError) as exc:
        load_parallel(src, tgt, pair="en-sw")
    assert str(exc.value) == f"line counts differ: {src} has {n_src} lines but {tgt} has {n_tgt}"


def test_empty_lines_are_dropped_pairwise_with_one_counting_warning(tmp_path: Path, caplog) -> None:
    src = _write(tmp_path / "s.txt", "one\n\nthree\nfour\n   \nsix\n")
    tgt = _write(tmp_path / "t.txt", "moja\nmbili\n\nnne\ntano\nsita\n")
    with caplog.at_level(logging.WARNING, logger="xalign.data"):
        c = load_parallel(src, tgt, pair="en-sw")
    assert c.src == ["one", "four", "six"] and c.tgt == ["moja", "nne", "sita"]
    assert c.dropped_empty == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "dropped 3 sentence pair(s)" in warnings[0] and f"{src}:2" in warnings[0]


def test_strict_rejects_the_first_empty_line(tmp_path: Path) -> None:
    src = _write(tmp_path / "s.txt", "one\ntwo\nthree\n")
    tgt = _write(tmp_path / "t.txt", "moja\nmbili\n\n")
    with pytest.raises(ValueError, match=rf"^{tgt}:3: empty line \(strict=True"):
        load_parallel(src, tgt, pair="en-sw", strict=True)


def test_invalid_utf8_names_file_and_line(tmp_path: Path) -> None:
    src = _write(tmp_path / "s.txt", "ok\nalso ok\n")
    tgt = _write(tmp_path / "t.txt", b"sawa\nmbaya \xff\xfe\n")
    with pytest.raises(ValueError, match=rf"^{tgt}:2: invalid UTF-8 \(byte 0xff at offset 6 of the line\)"):
        load_parallel(src, tgt, pair="en-sw")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    src = _write(tmp_path / "s.txt", "a\n")
    with pytest.raises(FileNotFoundError, match=f"target file not found: {tmp_path / 'nope.txt'}"):
        load_parallel(src, tmp_path / "nope.txt", pair="en-sw")
    with pytest.raises(FileNotFoundError, match="TSV file not found"):
        load_parallel(tmp_path / "nope.tsv", pair="en-sw")


# --------------------------------------------------------------------------- TSV
def test_tsv_two_columns_without_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.tsv", "Hello there\tHabari\nGood  night \tUsiku mwema\n")
    c = load_parallel(path, pair="en-sw")
    assert c.src == ["Hello there", "Good  night "] and c.tgt == ["Habari", "Usiku mwema"] and c.ids is None


def test_tsv_language_header_gives_languages_and_picks_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.tsv", "id\ten\tsw\tde\n7\tHello\tHabari\tHallo\n9\tNight\tUsiku\tNacht\n")
    c = load_parallel(path, pair="en-de")
    assert c.pair == "en-de" and c.src == ["Hello", "Night"] and c.tgt == ["Hallo", "Nacht"] and c.ids == ["7", "9"]
    c = load_parallel(path, columns=("sw", "en"))
    assert c.pair == "sw-en" and c.src == ["Habari", "Usiku"] and c.tgt == ["Hello", "Night"]
    c = load_parallel(path, columns=(2, 3))
    assert c.pair == "sw-de" and c.tgt == ["Hallo", "Nacht"]
    with pytest.raises(ValueError, match=r":1: no column named 'fr'; header columns: \['id', 'en', 'sw', 'de'\]"):
        load_parallel(path, columns=("en", "fr"))
    two = _write(tmp_path / "two.tsv", "sw\ten\nHabari\tHello\n")
    c = load_parallel(two, pair="en-sw")  # the header decides which column is which
    assert c.src == ["Hello"] and c.tgt == ["Habari"]
    with pytest.raises(ValueError, match=r"two\.tsv:1: column 1 is headed 'en' \(en\) but the requested language"):
        load_parallel(two, pair="sw-fr")


def test_tsv_errors_name_the_file_and_line(tmp_path: Path) -> None:
    three = _write(tmp_path / "three.tsv", "a\tb\tc\nd\te\tf\n")
    with pytest.raises(ValueError, match=rf"{three} has 3 tab-separated columns; pick the two text columns"):
        load_parallel(three, pair="en-sw")
    short = _write(tmp_path / "short.tsv", "a\tb\nno tab here\n")
    with pytest.raises(ValueError, match=rf"^{short}:2: expected at least 2 tab-separated fields, found 1$"):
        load_parallel(short, pair="en-sw")
    with pytest.raises(ValueError, match="columns= only applies to TSV"):
        load_parallel(short, tmp_path / "x", pair="en-sw", columns=(0, 1))


# --------------------------------------------------------------------------- FLORES / NTREX folders (synthetic)
def _sib(root: Path, code: str, split: str, rows: list[tuple[str, str]]) -> None:
    body = "".join(f"{i}\tcat\t{t}\n" for i, t in rows)
    _write(root / code / f"{split}.tsv", "index_id\tcategory\ttext\n" + body)


def test_flores_sib_folder_joins_on_index_id_in_split_order(tmp_path: Path) -> None:
    _sib(tmp_path, "eng_Latn", "train", [("5", "five"), ("2", "two")])
    _sib(tmp_path, "swh_Latn", "train", [("2", "mbili"), ("5", "tano")])  # other order: joined on id
    _sib(tmp_path, "eng_Latn", "dev", [("8", "eight")])
    _sib(tmp_path, "swh_Latn", "dev", [("8", "nane")])
    _sib(tmp_path, "eng_Latn", "test", [("1", " one")])
    _sib(tmp_path, "swh_Latn", "test", [("1", "moja")])
    c = load_parallel(data=f"flores:{tmp_path}", pair="en-sw")
    assert c.src == ["five", "two", "eight", " one"] and c.tgt == ["tano", "mbili", "nane", "moja"]
    assert c.ids == ["5", "2", "8", "1"] and c.name == "flores200:train+dev+test" and len(c.sources) == 6
    dev = load_parallel(tmp_path, pair="swh_Latn-eng_Latn", split="dev")  # folder passed as src, auto-detected
    assert dev.pair == "sw-en" and dev.src == ["nane"] and dev.tgt == ["eight"]
    both = load_parallel(tmp_path, pair="en-sw", split=["test", "train"])
    assert both.ids == ["5", "2", "1"]  # canonical split order
    with pytest.raises(ValueError, match=r"unknown split 'devtest' .* expected one of train, dev, test"):
        load_parallel(tmp_path, pair="en-sw", split="devtest")
    with pytest.raises(FileNotFoundError, match=r"no FLORES-200 train file for 'de'.*available languages: en, sw"):
        load_parallel(tmp_path, pair="en-de")
    with pytest.raises(FileNotFoundError, match=r"deu_Latn/train\.tsv not found: .*'de'.*available languages: en, sw"):
        load_parallel(tmp_path, pair="de-en")


def test_flores_unmatched_ids_warn_or_fail_under_strict(tmp_path: Path, caplog) -> None:
    _sib(tmp_path, "eng_Latn", "dev", [("1", "one"), ("2", "two"), ("3", "three")])
    _sib(tmp_path, "yor_Latn", "dev", [("3", "eta"), ("1", "ookan")])
    with caplog.at_level(logging.WARNING, logger="xalign.data"):
        c = load_parallel(tmp_path, pair="en-yo")
    assert c.src == ["one", "three"] and c.tgt == ["ookan", "eta"]
    assert "skipped 1 row(s)" in caplog.text and "dev.tsv:3 (index_id '2' missing from" in caplog.text
    with pytest.raises(ValueError, match=r"eng_Latn/dev\.tsv:3 .*do not hold the same rows \(1 unmatched\)"):
        load_parallel(tmp_path, pair="en-yo", strict=True)


def test_flores_bad_header_and_duplicate_ids(tmp_path: Path) -> None:
    _write(tmp_path / "eng_Latn" / "dev.tsv", "id\ttext\n1\tone\n")
    _sib(tmp_path, "fra_Latn", "dev", [("1", "un")])
    with pytest.raises(ValueError, match=r"eng_Latn/dev\.tsv:1: expected a header with index_id and text"):
        load_parallel(tmp_path, pair="en-fr")
    _sib(tmp_path, "eng_Latn", "dev", [("1", "one"), ("1", "uno")])
    with pytest.raises(ValueError, match=r"eng_Latn/dev\.tsv:3: duplicate index_id '1'"):
        load_parallel(tmp_path, pair="en-fr")


def test_flores_original_layout(tmp_path: Path) -> None:
    _write(tmp_path / "dev" / "eng_Latn.dev", "a\nb\n")
    _write(tmp_path / "dev" / "hin_Deva.dev", "क\nख\n")
    _write(tmp_path / "devtest" / "eng_Latn.devtest", "c\n")
    _write(tmp_path / "devtest" / "hin_Deva.devtest", "ग\n")
    c = load_parallel(data=f"flores200:{tmp_path}", pair="hi-en")
    assert c.src == ["क", "ख", "ग"] and c.tgt == ["a", "b", "c"] and c.ids == ["dev:1", "dev:2", "devtest:1"]


def test_ntrex_folder_strips_crlf_and_pairs_any_two_languages(tmp_path: Path) -> None:
    _write(tmp_path / "newstest2019-src.eng.txt", "One.\r\nTwo  words.\r\n")
    _write(tmp_path / "newstest2019-ref.swa.txt", "Moja.\r\nManeno  mawili.\r\n")
    _write(tmp_path / "newstest2019-ref.deu.txt", "Eins.\r\nZwei Wörter.\r\n")
    c = load_parallel(data=f"ntrex:{tmp_path}", pair="en-sw")
    assert c.src == ["One.", "Two  words."] and c.tgt == ["Moja.", "Maneno  mawili."] and c.ids == ["1", "2"]
    c = load_parallel(tmp_path, pair="sw-de")
    assert c.src == ["Moja.", "Maneno  mawili."] and c.tgt == ["Eins.", "Zwei Wörter."]
    with pytest.raises(FileNotFoundError, match=r"ref\.yor\.txt not found: no NTREX reference for 'yo'.*"
                                                r"available languages: de, en, sw"):
        load_parallel(tmp_path, pair="en-yo")


def test_data_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"data='flores' needs the folder: data='flores:/path/to/folder'"):
        load_parallel(data="flores", pair="en-sw")
    with pytest.raises(ValueError, match=r"unknown data='wmt': expected 'demo', 'flores:<folder>'"):
        load_parallel(data="wmt", pair="en-sw")
    with pytest.raises(ValueError, match="either files"):
        load_parallel(tmp_path, data="demo", pair="en-sw")
    with pytest.raises(ValueError, match=r"nothing to load: .*available pairs: en-sw, en-ur"):
        load_parallel()
    with pytest.raises(ValueError, match=r"no bundled demo data for en-es.*available pairs: en-sw"):
        load_parallel(pair="en-es")
    with pytest.raises(ValueError, match=r"cannot tell the format of folder"):
        load_parallel(tmp_path, pair="en-sw")
    with pytest.raises(ValueError, match="unknown fmt='csv'"):
        load_parallel(tmp_path, pair="en-sw", fmt="csv")
    with pytest.raises(ValueError, match="split= only applies to FLORES"):
        load_parallel(_write(tmp_path / "a.tsv", "x\ty\n"), pair="en-sw", split="dev")


def test_no_source_means_the_bundled_demo() -> None:
    c = load_parallel(pair="en-sw")
    assert c.name == "flores200-demo" and len(c) == 1004 and c.sources[0]["path"] == "demo:flores200.en.txt"
    assert load_parallel(data="demo", pair="sw-en").src == c.tgt


# --------------------------------------------------------------------------- the container
def test_corpus_subset_head_sample_swapped() -> None:
    c = ParallelCorpus("eng", "swh", [f"s{i}" for i in range(10)], [f"t{i}" for i in range(10)], "toy",
                       [{"path": "x"}], [str(i) for i in range(10)])
    assert c.pair == "en-sw"  # canonicalised
    sub = c.subset([3, 1])
    assert sub.src == ["s3", "s1"] and sub.tgt == ["t3", "t1"] and sub.ids == ["3", "1"] and sub.name == "toy"
    assert c.head(3).src == ["s0", "s1", "s2"] and len(c.head(50)) == 10
    expected = sorted(random.Random(7).sample(range(10), 4))
    s = c.sample(4, seed=7)
    assert s.src == [f"s{i}" for i in expected] and s.ids == [str(i) for i in expected]
    assert c.sample(4, seed=7).src == s.src
    w = c.swapped()
    assert w.pair == "sw-en" and w.src == c.tgt and w.tgt == c.src
    assert repr(c) == "ParallelCorpus(pair='en-sw', n=10, name='toy')"  # no texts in logs
    assert c.info() == {"name": "toy", "pair": "en-sw", "n": 10, "sources": [{"path": "x"}], "dropped_empty": 0}
    with pytest.raises(ValueError, match="index 10 is out of range for a corpus of 10"):
        c.subset([10])
    with pytest.raises(ValueError, match=r"sample\(n\) needs 0 <= n <= 10"):
        c.sample(11, seed=0)


def test_corpus_validation() -> None:
    with pytest.raises(ValueError, match="as many src as tgt sentences, got 2 and 1"):
        ParallelCorpus("en", "sw", ["a", "b"], ["c"])
    with pytest.raises(TypeError, match=r"ParallelCorpus.src\[1\] must be a str, got int"):
        ParallelCorpus("en", "sw", ["a", 2], ["c", "d"])
    with pytest.raises(TypeError, match="must be a list of str, got str"):
        ParallelCorpus("en", "sw", "ab", "cd")
    assert ParallelCorpus("kab", "en", ["a"], ["b"]).pair == "kab-en"  # unknown codes kept in hand-built corpora


# --------------------------------------------------------------------------- the real shared data
@pytest.mark.parametrize("lang", LANGS)
def test_shared_flores_has_1004_rows_per_language(lang: str) -> None:
    root = _shared("flores200_via_sib200")
    c = load_parallel(data=f"flores:{root}", pair=f"en-{lang}", strict=True)
    assert len(c) == 1004 and c.dropped_empty == 0 and len(set(c.ids)) == 1004
    # reference: the TSVs read naively, train + dev + test
    ref_src, ref_tgt = [], []
    for split in ("train", "dev", "test"):
        for code, out in (("eng_Latn", ref_src), (c.sources[1]["path"].split("/")[-2], ref_tgt)):
            lines = (root / code / f"{split}.tsv").read_text(encoding="utf-8").split("\n")[1:]
            out += [line.split("\t")[2] for line in lines if line]
    assert c.src == ref_src and c.tgt == ref_tgt
    assert [len(load_parallel(root, pair=f"en-{lang}", split=s)) for s in ("train", "dev", "test")] == [701, 99, 204]


@pytest.mark.parametrize("lang", LANGS)
def test_shared_ntrex_has_1997_rows_without_carriage_returns(lang: str) -> None:
    root = _shared("ntrex128")
    c = load_parallel(data=f"ntrex:{root}", pair=f"en-{lang}", strict=True)
    assert len(c) == 1997 and not any("\r" in t for t in c.src + c.tgt)
    raw = (root / "newstest2019-src.eng.txt").read_bytes().decode("utf-8").split("\r\n")
    assert c.src == raw[:1997] and raw[1997:] == [""]
    assert c.sources[0]["sha256"] == hashlib.sha256((root / "newstest2019-src.eng.txt").read_bytes()).hexdigest()


def test_sib_language_reader_and_shuffled_rows(tmp_path: Path) -> None:
    """One language at a time, by index_id: a shuffled file joins to the same rows; 'all' reads every split."""
    from xalign.data.folders import read_sib_language, sib_folder, sib_languages

    _sib(tmp_path, "eng_Latn", "train", [("5", "five"), ("2", "two"), ("7", "seven")])
    _sib(tmp_path, "ace_Arab", "train", [("7", "tujoh"), ("5", "limong"), ("2", "dua")])  # shuffled
    _sib(tmp_path, "eng_Latn", "dev", [("8", "eight")])
    _sib(tmp_path, "ace_Arab", "dev", [("8", "lapan")])
    assert sib_languages(tmp_path) == ["ace_Arab", "eng_Latn"]
    assert sib_folder(tmp_path, "en", sib_languages(tmp_path)) == "eng_Latn"
    with pytest.raises(ValueError, match=r"language 'de' has no folder in .* 2 languages there"):
        sib_folder(tmp_path, "de", sib_languages(tmp_path))
    ace = read_sib_language(tmp_path, "ace_Arab", split="all")
    assert dict(zip(ace.ids, ace.texts)) == {"7": "tujoh", "5": "limong", "2": "dua", "8": "lapan"}
    assert len(ace.sources) == 2
    shuffled = load_parallel(data=f"sib200:{tmp_path}", pair="en-ace_Arab", split="all")
    assert shuffled.src == ["five", "two", "seven", "eight"] and shuffled.tgt == ["limong", "dua", "tujoh", "lapan"]
    _sib(tmp_path, "ace_Arab", "test", [("5", "x"), ("5", "y")])
    with pytest.raises(ValueError, match=r"ace_Arab/test\.tsv:3: duplicate index_id '5'"):
        read_sib_language(tmp_path, "ace_Arab", split="test")
