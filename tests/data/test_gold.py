"""Gold word alignments: Pharaoh/bitext/SimAlign/JSONL readers, range checks, write_pharaoh."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from xalign.data import GoldAlignment, load_gold, parse_pharaoh, write_pharaoh

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "word_alignment"


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


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- parsing and writing
def test_parse_pharaoh_sure_and_possible() -> None:
    sure, possible = parse_pharaoh("0-0 1p2 3-1 3p1")
    assert sure == {(0, 0), (3, 1)}
    assert possible == {(0, 0), (1, 2), (3, 1)}  # a link marked both ways is sure
    assert parse_pharaoh("1-1 2p3", one_indexed=True) == ({(0, 0)}, {(0, 0), (1, 2)})
    assert parse_pharaoh("0?1 2-2", possible_mark="?") == ({(2, 2)}, {(0, 1), (2, 2)})
    assert parse_pharaoh("") == (set(), set())


@pytest.mark.parametrize("line", ["0-", "a-1", "0:1", "0p1p2", "-1-2"])
def test_parse_pharaoh_rejects_malformed_links(line: str) -> None:
    with pytest.raises(ValueError, match="bad link .*expected 'i-j' \\(sure\\) or 'ipj' \\(possible\\)"):
        parse_pharaoh(line)


def test_possible_mark_is_validated() -> None:
    for bad in ("", "-", "1", " "):
        with pytest.raises(ValueError, match="possible_mark must be"):
            parse_pharaoh("0-0", possible_mark=bad)


def test_write_pharaoh_sorted_zero_indexed_lines() -> None:
    text = write_pharaoh([{(2, 1), (0, 0), (10, 3)}, set(), [(1, 1)]])
    assert text == "0-0 2-1 10-3\n\n1-1\n"
    text = write_pharaoh([{(0, 0)}, {(1, 1)}], possible=[{(0, 0), (0, 2)}, set()])
    assert text == "0-0 0p2\n1-1\n"
    # round trip through the parser
    sure, possible = parse_pharaoh("0-0 0p2")
    assert (sure, possible) == ({(0, 0)}, {(0, 0), (0, 2)})
    with pytest.raises(ValueError, match=r"sentence 0: link \(-1, 2\) is not a pair of non-negative ints"):
        write_pharaoh([[(-1, 2)]])


def test_gold_alignment_validates_itself() -> None:
    with pytest.raises(ValueError, match=r"sentence 0: sure link \(0, 1\) is not among the possible links"):
        GoldAlignment([["a", "b"]], [["x", "y"]], [{(0, 1)}], [{(0, 0)}])
    with pytest.raises(ValueError, match=r"sentence 0: link \(2, 0\) is outside a 2x2 sentence pair"):
        GoldAlignment([["a", "b"]], [["x", "y"]], [set()], [{(2, 0)}])
    with pytest.raises(ValueError, match="tgt_words has 0 entries, src_words has 1"):
        GoldAlignment([["a"]], [], [set()], [set()])


# --------------------------------------------------------------------------- readers on small files
def test_pharaoh_with_bitext_one_indexed_drops_out_of_range(tmp_path: Path, caplog) -> None:
    bitext = _write(tmp_path / "b.txt", "a b c ||| x y\nd e ||| z\n")
    gold = _write(tmp_path / "g.txt", "1-1 2p2 3-2 4-1\n1-1 2-2 0-1\n")
    with caplog.at_level(logging.WARNING, logger="xalign.data"):
        g = load_gold(gold, bitext=bitext, one_indexed=True, pair="en-de")
    assert g.src_words == [["a", "b", "c"], ["d", "e"]] and g.tgt_words == [["x", "y"], ["z"]]
    assert g.sure == [{(0, 0), (2, 1)}, {(0, 0)}]
    assert g.possible == [{(0, 0), (1, 1), (2, 1)}, {(0, 0)}]
    assert g.out_of_range == 3 and g.pair == "en-de" and len(g) == 2
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(msgs) == 1
    assert f"{gold}:1: link 4-1 (1-indexed) is outside the sentence pair (3 source words, 2 target words)" in msgs[0]
    assert "dropped 3 out-of-range link(s) in total" in msgs[0]
    with pytest.raises(ValueError, match=rf"^{gold}:1: link 4-1 \(1-indexed\) is outside .*on_out_of_range='drop'"):
        load_gold(gold, bitext=bitext, one_indexed=True, on_out_of_range="error")
    with pytest.raises(ValueError, match="on_out_of_range must be 'drop' or 'error'"):
        load_gold(gold, bitext=bitext, on_out_of_range="ignore")


def test_simalign_style_id_files_are_matched_by_id(tmp_path: Path) -> None:
    src = _write(tmp_path / "s.txt", "0\tWe do not\n1\tBut this\n")
    tgt = _write(tmp_path / "t.txt", "0\tWir nicht\n1\tDas stimmt\n")
    gold = _write(tmp_path / "g.gold", "1\t0-0 1p1\n0\t0-0 2-1 1p1\n")  # ids in another order
    g = load_gold(gold, src_file=src, tgt_file=tgt)
    assert g.ids == ["0", "1"] and g.src_words == [["We", "do", "not"], ["But", "this"]]
    assert g.sure == [{(0, 0), (2, 1)}, {(0, 0)}] and g.possible == [{(0, 0), (2, 1), (1, 1)}, {(0, 0), (1, 1)}]
    assert g.out_of_range == 0 and g.pair is None and len(g.sources) == 3


def test_plain_sentence_files_are_matched_by_line(tmp_path: Path) -> None:
    src = _write(tmp_path / "s.txt", "a b\nc\n")
    tgt = _write(tmp_path / "t.txt", "x\ny z\n")
    gold = _write(tmp_path / "g.txt", "0-0 1-0\n0-1\n")
    g = load_gold(gold, src_file=src, tgt_file=tgt, pair="en-fr")
    assert g.sure == [{(0, 0), (1, 0)}, {(0, 1)}] and g.ids is None
    corpus = g.to_parallel()
    assert corpus.pair == "en-fr" and corpus.src == ["a b", "c"] and corpus.tgt == ["x", "y z"]
    sub = g.subset([1])
    assert sub.src_words == [["c"]] and sub.sure == [{(0, 1)}]


def test_reader_errors_name_files_lines_and_counts(tmp_path: Path) -> None:
    bitext = _write(tmp_path / "b.txt", "a ||| x\nb ||| y\n")
    short = _write(tmp_path / "g.txt", "0-0\n")
    with pytest.raises(ValueError, match=rf"^{short} has 1 lines but {bitext} has 2 sentences$"):
        load_gold(short, bitext=bitext)
    bad = _write(tmp_path / "bad.txt", "0-0\n0_1\n")
    with pytest.raises(ValueError, match=rf"^{bad}:2: bad link '0_1'"):
        load_gold(bad, bitext=bitext)
    nosep = _write(tmp_path / "nosep.txt", "a ||| x\nb y\n")
    with pytest.raises(ValueError, match=rf"^{nosep}:2: expected one 'src words \|\|\| tgt words' separator, found 0"):
        load_gold(_write(tmp_path / "g2.txt", "0-0\n0-0\n"), bitext=nosep)
    with pytest.raises(ValueError, match="Pharaoh file without words: pass --bitext FILE"):
        load_gold(short)
    with pytest.raises(FileNotFoundError, match=f"gold alignment file not found: {tmp_path / 'none.txt'}"):
        load_gold(tmp_path / "none.txt", bitext=bitext)
    ids = _write(tmp_path / "ids.txt", "0\ta b\nno id here\n")
    with pytest.raises(ValueError, match=rf"^{ids}:2: expected 'id<TAB>...' like the file's first line"):
        load_gold(_write(tmp_path / "g3.txt", "0-0\n0-0\n"), src_file=ids, tgt_file=ids)
    s = _write(tmp_path / "s.txt", "0\ta\n1\tb\n")
    t = _write(tmp_path / "t.txt", "0\tx\n1\ty\n")
    with pytest.raises(ValueError, match=r"ids do not match .*first id without gold: '1'"):
        load_gold(_write(tmp_path / "g4.txt", "0\t0-0\n7\t0-0\n"), src_file=s, tgt_file=t)


def test_jsonl_with_optional_possible(tmp_path: Path) -> None:
    rows = [{"src_words": ["a", "b"], "tgt_words": ["x"], "alignment": [[0, 0], [1, 0]], "possible": [[1, 0]]},
            {"src_words": ["c"], "tgt_words": ["y", "z"], "alignment": [[0, 1], [0, 2]]}]
    path = _write(tmp_path / "g.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    g = load_gold(path)
    assert g.sure == [{(0, 0), (1, 0)}, {(0, 1)}] and g.possible == [{(0, 0), (1, 0)}, {(0, 1)}]
    assert g.out_of_range == 1 and g.src_words == [["a", "b"], ["c"]]
    broken = _write(tmp_path / "b.jsonl", json.dumps(rows[0]) + "\n{oops\n")
    with pytest.raises(ValueError, match=rf"^{broken}:2: invalid JSON"):
        load_gold(broken)
    missing = _write(tmp_path / "m.jsonl", json.dumps({"src_words": [], "tgt_words": []}) + "\n")
    with pytest.raises(ValueError, match=rf"^{missing}:1: expected an object with src_words, tgt_words and alignment"):
        load_gold(missing)
    links = _write(tmp_path / "l.jsonl", json.dumps({"src_words": [], "tgt_words": [], "alignment": [[0]]}) + "\n")
    with pytest.raises(ValueError, match=rf"^{links}:1: alignment entry \[0\] is not a pair of ints"):
        load_gold(links)
    with pytest.raises(ValueError, match="carries its own words"):
        load_gold(path, bitext=path)


# --------------------------------------------------------------------------- the real shared data
def _naive_pharaoh_out_of_range(gold: Path, bitext: Path, one_indexed: bool) -> tuple[int, int]:
    """Reference: count sentences and links outside their sentence, written independently of xalign."""
    n_bad = n = 0
    for gline, bline in zip(gold.read_text(encoding="utf-8").splitlines(),
                            bitext.read_text(encoding="utf-8").splitlines()):
        n += 1
        s, t = bline.split(" ||| ")
        ns, nt = len(s.split()), len(t.split())
        for tok in gline.split():
            i, j = (int(x) - one_indexed for x in tok.replace("p", "-").split("-"))
            n_bad += not (0 <= i < ns and 0 <= j < nt)
    return n, n_bad


def test_kftt_582_sentences_and_6_links_past_the_end(caplog) -> None:
    gold, bitext = _shared("kftt_jaen", "jaen.gold"), _shared("kftt_jaen", "jaen.src-tgt")
    with caplog.at_level(logging.WARNING, logger="xalign.data"):
        g = load_gold(gold, bitext=bitext, one_indexed=True, pair="ja-en")
    assert len(g) == 582 and g.out_of_range == 6
    assert _naive_pharaoh_out_of_range(gold, bitext, True) == (582, 6)
    assert f"{gold}:351: link 18-25 (1-indexed)" in caplog.text
    assert g.src_words[0][:2] == ["足利", "義満"] and g.tgt_words[0][:2] == ["yoshimitsu", "ashikaga"]
    assert (0, 1) in g.sure[0] and (1, 0) in g.sure[0]  # "1-2 2-1" shifted to 0-indexed
    assert all(s == p for s, p in zip(g.sure, g.possible))  # KFTT has no possible links
    zero = load_gold(gold, bitext=bitext, one_indexed=False)
    assert zero.out_of_range == _naive_pharaoh_out_of_range(gold, bitext, False)[1]


def test_simalign_sample_reads_with_possible_links() -> None:
    d = _shared("simalign_sample")
    g = load_gold(d / "sample_eng_deu.gold", src_file=d / "sample_eng.txt", tgt_file=d / "sample_deu.txt",
                  pair="en-de", on_out_of_range="error")
    assert len(g) == 5 and g.out_of_range == 0 and g.ids == ["0", "1", "2", "3", "4"]
    assert g.src_words[1] == ["But", "this", "is", "not", "what", "happens", "."]
    assert g.tgt_words[1] == ["Das", "stimmt", "nicht", "!"]
    assert g.sure[1] == {(1, 0), (2, 1), (3, 2), (4, 1), (5, 1), (6, 3)} and g.possible[1] == g.sure[1]
    assert g.possible[3] - g.sure[3] == {(0, 0), (5, 7)}
    assert [len(s) for s in g.sure] == [12, 6, 22, 19, 31] and [len(p) for p in g.possible] == [12, 6, 29, 21, 39]


@pytest.mark.parametrize("rel", ["train/en-hi/hindi.jsonl", "valid/en-hi/hindi.jsonl", "valid/en-fr/fr_golden.jsonl",
                                 "train/en-es/es_golden.jsonl", "valid/en-cz/czenali.jsonl"])
def test_binaryalign_jsonl(rel: str) -> None:
    path = _shared("binaryalign_processed", *rel.split("/"))
    g = load_gold(path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    bad = sum(not (0 <= i < len(r["src_words"]) and 0 <= j < len(r["tgt_words"]))
              for r in rows for i, j in r["alignment"])
    assert len(g) == len(rows) and g.out_of_range == bad
    assert sum(len(s) for s in g.sure) == sum(len({tuple(x) for x in r["alignment"]}) for r in rows) - bad
    assert g.src_words == [r["src_words"] for r in rows]
