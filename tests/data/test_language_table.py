"""The 205-language table (FLORES-200 / SIB-200 codes): round trips, aliases, ambiguity, hand-checked rows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from xalign.data import ParallelCorpus, load_parallel
from xalign.data.language_table import parse_language_table, read_language_table
from xalign.data.languages import (
    AmbiguousLanguageError,
    LanguageInfo,
    atlas_languages,
    flores_code,
    known_languages,
    language_info,
    language_name,
    normalize_lang,
    ntrex_code,
    parse_pair,
)

ROOT = Path(__file__).resolve().parents[2]


def test_table_has_205_distinct_flores_codes_made_of_their_halves() -> None:
    rows = atlas_languages()
    codes = [r.code for r in rows]
    assert len(codes) == 205 and codes == sorted(set(codes))
    for r in rows:
        assert r.code == f"{r.iso639_3}_{r.script}" and len(r.iso639_3) == 3 and len(r.script) == 4
        assert r.name and r.script_name and r.family
        assert (r.cc100_code is not None) == r.in_cc100


def test_table_matches_the_sib200_folders(shared_data: Path) -> None:
    folders = {p.name for p in (shared_data / "sib200").iterdir() if p.is_dir()}
    assert folders == {r.code for r in atlas_languages()}


def test_every_code_round_trips_through_the_table() -> None:
    for row in atlas_languages():
        canonical = normalize_lang(row.code)
        assert language_info(canonical) == row, row.code
        assert flores_code(canonical) == row.code
        assert language_info(row.code) == row
        assert normalize_lang(row.code.upper()) == canonical
        assert normalize_lang(row.code.replace("_", "-")) == canonical
        assert normalize_lang(row.name) == canonical
        assert normalize_lang(canonical) == canonical
    # one canonical code per language, the shortest unambiguous one: ISO 639-1, else 639-3, else FLORES-200
    assert len(known_languages()) == 205
    assert [normalize_lang(c) for c in ("swh_Latn", "kab_Latn", "ace_Arab")] == ["sw", "kab", "ace_Arab"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [("sw", "sw"), ("swh", "sw"), ("swh_Latn", "sw"), ("en", "en"), ("eng_Latn", "en"), ("ace_Arab", "ace_Arab"),
     ("ACE-ARAB", "ace_Arab"), ("ace_Latn", "ace_Latn"), ("Acehnese (Latin script)", "ace_Latn"),
     ("ast", "ast"), ("ast_Latn", "ast"), ("Asturian", "ast"), ("kab", "kab"), ("kab_Latn", "kab"),
     ("zho_Hant", "zho_Hant"), ("zh-Hant", "zho_Hant"), ("zh-Hant-TW", "zho_Hant"), ("zh", "zh"), ("zho", "zh"),
     ("zho_Hans", "zh"), ("ar", "ar"), ("arb", "ar"), ("arb_Latn", "arb_Latn"), ("ar-Latn", "arb_Latn"),
     ("twi", "tw"), ("twi_Latn", "tw"), ("ak", "ak"), ("aka_Latn", "ak"), ("yue", "yue"), ("yue_Hant", "yue"),
     ("ace_Arab_ID", "ace_Arab"), ("nqo_Nkoo", "nqo"), ("kas_Deva", "kas_Deva"), ("ks-Deva", "kas_Deva"),
     ("gd", "gd"), ("gla_Latn", "gd"), ("yi", "yi"), ("ydd_Hebr", "yi"), ("Scottish Gaelic", "gd")],
)
def test_aliases(code: str, expected: str) -> None:
    assert normalize_lang(code) == expected


@pytest.mark.parametrize(
    ("code", "choices"),
    [("ace", ("ace_Arab", "ace_Latn")), ("bjn", ("bjn_Arab", "bjn_Latn")), ("kas", ("kas_Arab", "kas_Deva")),
     ("knc", ("knc_Arab", "knc_Latn")), ("min", ("min_Arab", "min_Latn")), ("TAQ", ("taq_Latn", "taq_Tfng")),
     ("ks", ("kas_Arab", "kas_Deva")), ("kr", ("knc_Arab", "knc_Latn"))],
)
def test_ambiguous_code_is_one_line_listing_the_choices(code: str, choices: tuple[str, str]) -> None:
    with pytest.raises(AmbiguousLanguageError) as exc:
        normalize_lang(code)
    msg = str(exc.value)
    assert "\n" not in msg and repr(code) in msg
    assert all(c in msg for c in choices)
    assert isinstance(exc.value, ValueError)


def test_ambiguous_code_in_a_pair_names_the_pair_and_the_choices() -> None:
    with pytest.raises(AmbiguousLanguageError, match=r"'en-ace'.*ace_Arab \(Acehnese \(Arabic script\)\) or "
                                                     r"ace_Latn \(Acehnese \(Latin script\)\)"):
        parse_pair("en-ace")


def test_script_missing_from_flores_is_refused_with_the_supported_ones() -> None:
    with pytest.raises(ValueError, match=r"'ace_Cyrl'.*script 'Cyrl' differs from the supported 'ace_Arab' or "
                                         r"'ace_Latn'"):
        normalize_lang("ace_Cyrl")
    with pytest.raises(ValueError, match=r"script 'Latn' differs from the supported 'srp_Cyrl'"):
        normalize_lang("srp_Latn")


@pytest.mark.parametrize(
    ("pair", "expected"),
    [("en-ace_Arab", ("en", "ace_Arab")), ("eng_Latn-ace_Latn", ("en", "ace_Latn")),
     ("ace_Arab-zho_Hant", ("ace_Arab", "zho_Hant")), ("en-zh-Hant", ("en", "zho_Hant")),
     ("eng_Latn_ace_Arab", ("en", "ace_Arab")), (("en", "kas_Deva"), ("en", "kas_Deva")),
     ("en-sw", ("en", "sw"))],
)
def test_parse_pair_with_flores_codes(pair, expected) -> None:
    assert parse_pair(pair) == expected


def test_pair_name_keeps_the_flores_spelling(tmp_path: Path) -> None:
    src, tgt = tmp_path / "a.txt", tmp_path / "b.txt"
    src.write_text("one\ntwo\n", encoding="utf-8")
    tgt.write_text("sa\ndua\n", encoding="utf-8")
    corpus = load_parallel(src, tgt, pair="en-ace_Arab")
    assert (corpus.pair, corpus.src_lang, corpus.tgt_lang) == ("en-ace_Arab", "en", "ace_Arab")
    assert ParallelCorpus("ENG_LATN", "ACE-arab", ["a"], ["b"]).pair == "en-ace_Arab"
    assert ParallelCorpus("kab", "en", ["a"], ["b"]).pair == "kab-en"


@pytest.mark.parametrize(
    ("code", "name", "script", "family", "in_cc100", "cc100_code"),
    [("swh_Latn", "Swahili", "Latn", "Atlantic-Congo", True, "sw"),
     ("ace_Arab", "Acehnese (Arabic script)", "Arab", "Austronesian", False, None),
     ("zho_Hant", "Chinese (Traditional)", "Hant", "Sino-Tibetan", True, "zh-Hant"),
     ("zho_Hans", "Chinese (Simplified)", "Hans", "Sino-Tibetan", True, "zh"),
     ("yue_Hant", "Yue Chinese", "Hant", "Sino-Tibetan", False, None),
     ("eng_Latn", "English", "Latn", "Indo-European", True, "en"),
     ("arb_Arab", "Modern Standard Arabic", "Arab", "Afro-Asiatic", True, "ar"),
     ("arb_Latn", "Modern Standard Arabic (Romanized)", "Latn", "Afro-Asiatic", False, None),
     ("nob_Latn", "Norwegian Bokmål", "Latn", "Indo-European", True, "no"),
     ("nno_Latn", "Norwegian Nynorsk", "Latn", "Indo-European", False, None),
     ("eus_Latn", "Basque", "Latn", "isolate", True, "eu"),
     ("yor_Latn", "Yoruba", "Latn", "Atlantic-Congo", False, None),
     ("quy_Latn", "Ayacucho Quechua", "Latn", "Quechuan", False, None),
     ("jpn_Jpan", "Japanese", "Jpan", "Japonic", True, "ja"),
     ("sat_Olck", "Santali", "Olck", "Austroasiatic", False, None),
     ("tzm_Tfng", "Central Atlas Tamazight", "Tfng", "Afro-Asiatic", False, None)],
)
def test_hand_checked_rows(code, name, script, family, in_cc100, cc100_code) -> None:
    info = language_info(code)
    assert (info.code, info.name, info.script, info.family, info.in_cc100, info.cc100_code) == (
        code, name, script, family, in_cc100, cc100_code)


def test_cc100_count_is_xlmr_100_minus_those_flores_lacks() -> None:
    # XLM-R Table 6 has 100; FLORES-200 lacks br, fy, la and bn/hi/ta/te/ur romanized and Burmese Zawgyi (9)
    assert sum(r.in_cc100 for r in atlas_languages()) == 91
    codes = [r.cc100_code for r in atlas_languages() if r.cc100_code]
    assert len(codes) == len(set(codes))


def test_language_name_and_ntrex_for_flores_only_languages() -> None:
    assert language_name("ace_Arab") == "Acehnese (Arabic script)"
    assert language_name("sw") == "Swahili"  # the short-code table's name stays
    with pytest.raises(ValueError, match=r"no NTREX-128 code known for 'ace_Arab' \(Acehnese \(Arabic script\)\)"):
        ntrex_code("ace_Arab")


def test_malformed_table_is_a_package_bug() -> None:
    with pytest.raises(RuntimeError, match="expected the header"):
        parse_language_table("code\tname\n")
    header = "code\tname\tiso639_3\tscript\tscript_name\tfamily\tin_cc100\tcc100_code"
    with pytest.raises(RuntimeError, match="row 2 is malformed"):
        parse_language_table(f"# c\n{header}\nace_Arab\tA\tace\tArab\tArabic\tAustronesian\tyes\t\n")
    row = parse_language_table(f"{header}\nace_Arab\tA\tace\tArab\tArabic\tAustronesian\t0\t\n")[0]
    assert row == LanguageInfo("ace_Arab", "A", "Arab", "Austronesian", False, "ace", "Arabic", None)


def test_build_script_regenerates_the_packaged_table(tmp_path: Path) -> None:
    if importlib.util.find_spec("lang2vec") is None:
        pytest.skip("lang2vec (build-time only) is not installed")
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import build_language_table
    finally:
        sys.path.remove(str(ROOT / "tools"))
    out = tmp_path / "languages.tsv"
    assert build_language_table.main(["--out", str(out), "--sib200", str(tmp_path / "absent")]) == 0
    packaged = ROOT / "xalign" / "data" / "languages.tsv"
    assert out.read_text(encoding="utf-8") == packaged.read_text(encoding="utf-8")
    assert parse_language_table(out.read_text(encoding="utf-8")) == read_language_table()


def test_task_language_check_passes_the_ambiguity_through() -> None:
    from xalign.data.task_types import TaskSpec, check_language

    spec = TaskSpec("toy", ("a", "b"), ("en", "ace_Arab", "ace_Latn", "kab"))
    assert [check_language(spec, x) for x in ("eng_Latn", "ACE-Arab", "kab_Latn")] == ["en", "ace_Arab", "kab"]
    with pytest.raises(AmbiguousLanguageError, match=r"ace_Arab \(.*\) or ace_Latn"):
        check_language(spec, "ace")
    with pytest.raises(ValueError, match="toy has no language 'sw'"):
        check_language(spec, "sw")
