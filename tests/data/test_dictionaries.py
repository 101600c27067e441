"""Bilingual dictionary readers and the bundled test dictionaries."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from xalign.data import demo_dictionary, dictionary_for_pair, read_dictionary

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture
def caplog(caplog, monkeypatch):
    """caplog that also works after the CLI has set propagate=False on the 'xalign' logger."""
    monkeypatch.setattr(logging.getLogger("xalign"), "propagate", True)
    return caplog


def _write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_tab_separated_entries_may_contain_spaces(tmp_path: Path) -> None:
    path = _write(tmp_path / "en_fr.tsv", "a\tun\na little\tun peu\r\n\nA lot\tBeaucoup\na little\tun peu\n")
    assert read_dictionary(path) == [("a", "un"), ("a little", "un peu"), ("A lot", "Beaucoup")]
    assert read_dictionary(path, src_first=False, lowercase=True) == [("un", "a"), ("un peu", "a little"),
                                                                      ("beaucoup", "a lot")]
    assert len(read_dictionary(path, dedupe=False)) == 4


def test_muse_space_separated(tmp_path: Path) -> None:
    path = _write(tmp_path / "de-en.txt", "Hund dog\nKatze  cat\n")
    assert read_dictionary(path) == [("Hund", "dog"), ("Katze", "cat")]
    bad = _write(tmp_path / "bad.txt", "Hund dog\nroter Hund red dog\n")
    with pytest.raises(ValueError, match=rf"^{bad}:2: expected 2 space-separated fields .* found 4"):
        read_dictionary(bad)


def test_errors_name_file_and_line(tmp_path: Path) -> None:
    three = _write(tmp_path / "three.tsv", "a\tb\nc\td\te\n")
    with pytest.raises(ValueError, match=rf"^{three}:2: expected 2 tab-separated fields .* found 3"):
        read_dictionary(three)
    mixed = _write(tmp_path / "mixed.tsv", "a\tb\nc d\n")
    with pytest.raises(ValueError, match=rf"^{mixed}:2: expected 2 tab-separated fields .* found 1"):
        read_dictionary(mixed)
    empty = _write(tmp_path / "empty.tsv", "\n\n")
    with pytest.raises(ValueError, match=rf"^{empty} holds no dictionary entries"):
        read_dictionary(empty)
    utf = _write(tmp_path / "utf.tsv", b"a\tb\n\xc3\x28\tc\n")
    with pytest.raises(ValueError, match=rf"^{utf}:2: invalid UTF-8"):
        read_dictionary(utf)
    with pytest.raises(FileNotFoundError, match=f"dictionary file not found: {tmp_path / 'no.tsv'}"):
        read_dictionary(tmp_path / "no.tsv")


def test_entries_with_an_empty_side_are_skipped_or_strict(tmp_path: Path, caplog) -> None:
    path = _write(tmp_path / "sw-en.test", "kazi\twork\nule\t\nhuyo\t\njana\tyesterday\n")
    with caplog.at_level(logging.WARNING, logger="xalign.data"):
        assert read_dictionary(path) == [("kazi", "work"), ("jana", "yesterday")]
    assert f"skipped 2 entries with an empty side (first at {path}:2)" in caplog.text
    with pytest.raises(ValueError, match=rf"^{path}:2: entry with an empty side"):
        read_dictionary(path, strict=True)


def test_bundled_dictionary_is_oriented_like_the_pair() -> None:
    path = demo_dictionary("sw-en")
    assert path is not None and path == demo_dictionary("en-sw") and path.name == "dict.sw-en.test.tsv"
    lines = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
    naive = list(dict.fromkeys((a, b) for a, b in lines if a.strip() and b.strip()))
    assert dictionary_for_pair("sw-en") == naive
    assert dictionary_for_pair("en-sw") == [(b, a) for a, b in naive]
    assert dictionary_for_pair("swh_Latn-eng")[0] == ("kazi", "work")
    assert dictionary_for_pair("en-es") is None and demo_dictionary("sw-hi") is None
    with pytest.raises(ValueError, match="expected a language pair like 'en-sw'"):
        dictionary_for_pair("english")


@pytest.mark.parametrize("lang", ["sw", "ur", "yo", "hi", "de", "fr"])
def test_bundled_dictionaries_equal_the_shared_wiktionary_test_sets(lang: str) -> None:
    src = SHARED / "dict_wiktionary_bli" / f"{lang}-en.test"
    if not src.is_file():
        pytest.skip(f"shared data not found at {src}")
    assert read_dictionary(src) == dictionary_for_pair(f"{lang}-en")
    assert len(dictionary_for_pair(f"en-{lang}")) > 1500


def test_shared_gatitos_english_first() -> None:
    path = SHARED / "dict_gatitos" / "en_fr.tsv"
    if not path.is_file():
        pytest.skip(f"shared data not found at {path}")
    pairs = read_dictionary(path)
    assert len(pairs) == 3999 and pairs[:3] == [("a", "un"), ("a little", "un peu"), ("a lot", "beaucoup")]


def test_bundled_dictionary_known_gaps_are_not_logged_every_run(caplog) -> None:
    """The shipped sw-en file's known 'word<TAB>' lines are a fact of the file: DEBUG, not a line per run."""
    import logging

    from xalign.data.dictionaries import dictionary_for_pair

    with caplog.at_level(logging.INFO, logger="xalign"):
        assert dictionary_for_pair("en-sw")
    assert "skipped" not in caplog.text
