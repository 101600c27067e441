"""Language-code normalisation, FLORES/NTREX code mapping and pair parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from xalign.data.languages import (
    flores_code,
    known_languages,
    language_name,
    normalize_lang,
    ntrex_code,
    parse_pair,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("sw", "sw"), ("swh", "sw"), ("swa", "sw"), ("swh_Latn", "sw"), ("SW", "sw"), ("swh-Latn", "sw"),
        ("sw-KE", "sw"), ("Swahili", "sw"), (" sw ", "sw"),
        ("en", "en"), ("eng", "en"), ("eng_Latn", "en"), ("en-GB", "en"), ("en_US", "en"), ("English", "en"),
        ("ur", "ur"), ("urd", "ur"), ("urd_Arab", "ur"),
        ("yo", "yo"), ("yor", "yo"), ("yor_Latn", "yo"),
        ("hi", "hi"), ("hin", "hi"), ("hin_Deva", "hi"),
        ("de", "de"), ("deu", "de"), ("ger", "de"), ("deu_Latn", "de"),
        ("fr", "fr"), ("fra", "fr"), ("fre", "fr"), ("fra_Latn", "fr"), ("fra-CA", "fr"),
        ("es", "es"), ("spa_Latn", "es"), ("pt", "pt"), ("por-BR", "pt"), ("cs", "cs"), ("ces", "cs"),
        ("cz", "cs"), ("sv", "sv"), ("swe_Latn", "sv"), ("ja", "ja"), ("jpn_Jpan", "ja"), ("zh", "zh"),
        ("zho_Hans", "zh"), ("zho-CN", "zh"), ("cmn", "zh"), ("ko", "ko"), ("kor_Hang", "ko"), ("ru", "ru"),
        ("ar", "ar"), ("arb_Arab", "ar"), ("ara", "ar"), ("fa", "fa"), ("pes_Arab", "fa"), ("fas", "fa"),
        ("ro", "ro"), ("ron", "ro"), ("rum", "ro"), ("my", "my"), ("mya_Mymr", "my"), ("bur", "my"),
        ("tr", "tr"), ("tur_Latn", "tr"), ("aze-Latn", "az"), ("fil", "tl"), ("no", "nb"), ("yue", "yue"),
    ],
)
def test_normalize_lang_accepts_common_spellings(code: str, expected: str) -> None:
    assert normalize_lang(code) == expected


@pytest.mark.parametrize("code", ["xx", "", "klingon", "sw_Latn_Cyrl_x", "en-sw"])
def test_unknown_language_lists_what_is_accepted(code: str) -> None:
    with pytest.raises(ValueError) as exc:
        normalize_lang(code)
    msg = str(exc.value)
    assert repr(code) in msg and "ISO 639-1" in msg and "FLORES-200" in msg
    assert "known languages:" in msg and "sw" in msg.split("known languages:")[1]


def test_script_that_contradicts_the_table_is_rejected() -> None:
    # zho_Hant is a FLORES-200 language of its own since the 205-language table (tests/data/test_language_table.py)
    with pytest.raises(ValueError, match=r"jpn_Hant.*script 'Hant' differs from the supported 'jpn_Jpan'"):
        normalize_lang("jpn_Hant")
    with pytest.raises(ValueError, match="srp_Cyrl"):
        normalize_lang("srp_Latn")


def test_non_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="must be a str, got int"):
        normalize_lang(7)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lang", "flores", "ntrex"),
    [("en", "eng_Latn", "eng"), ("sw", "swh_Latn", "swa"), ("ur", "urd_Arab", "urd"), ("yo", "yor_Latn", "yor"),
     ("hi", "hin_Deva", "hin"), ("de", "deu_Latn", "deu"), ("fr", "fra_Latn", "fra"), ("zh", "zho_Hans", "zho-CN"),
     ("fa", "pes_Arab", "fas"), ("az", "azj_Latn", "aze-Latn")],
)
def test_flores_and_ntrex_codes(lang: str, flores: str, ntrex: str) -> None:
    assert flores_code(lang) == flores
    assert ntrex_code(lang) == ntrex
    assert flores_code(flores) == flores  # idempotent through normalisation


def test_every_table_code_round_trips() -> None:
    langs = known_languages()
    assert len(langs) >= 100 and langs == sorted(set(langs))
    for lang in langs:
        assert normalize_lang(lang) == lang
        assert normalize_lang(lang.upper()) == lang
        assert normalize_lang(language_name(lang)) == lang
        for mapper in (flores_code, ntrex_code):
            try:
                code = mapper(lang)
            except ValueError:
                continue
            assert normalize_lang(code) == lang, (lang, code)


def test_missing_corpus_code_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"no NTREX-128 code known for 'eo' \(Esperanto\); languages with one: af"):
        ntrex_code("eo")


def test_codes_match_the_shared_corpus_file_names() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    for lang in ("en", "sw", "ur", "yo", "hi", "de", "fr"):
        assert (SHARED / "flores200_via_sib200" / flores_code(lang) / "train.tsv").is_file()
        name = "src.eng" if lang == "en" else f"ref.{ntrex_code(lang)}"
        assert (SHARED / "ntrex128" / f"newstest2019-{name}.txt").is_file()
    # every code NTREX lists is understood and maps back to itself
    for line in (SHARED / "ntrex128" / "LANGUAGES.tsv").read_text(encoding="utf-8").splitlines():
        code = line.split()[0]
        try:
            lang = normalize_lang(code)
        except ValueError:
            continue  # a few NTREX languages (e.g. Hmong, Shilha) are not in the table
        if code.split("-")[0] not in {"eng", "fra", "gsw", "por", "spa", "zho", "srp", "nno", "prs"}:
            assert ntrex_code(lang) == code, code


@pytest.mark.parametrize(
    ("pair", "expected"),
    [("en-sw", ("en", "sw")), ("sw-en", ("sw", "en")), ("eng_Latn-swh_Latn", ("en", "sw")),
     ("aze-Latn-eng", ("az", "en")), ("en-GB-sw", ("en", "sw")), ("en_sw", ("en", "sw")), ("EN-SWH", ("en", "sw")),
     (("eng", "yor"), ("en", "yo"))],
)
def test_parse_pair(pair, expected) -> None:
    assert parse_pair(pair) == expected


@pytest.mark.parametrize(
    ("pair", "match"),
    [("en", "expected a language pair like 'en-sw'"), ("en-xx", "expected a language pair like 'en-sw'"),
     ("en-eng", "two different languages"), (("en",), "two languages, got 1")],
)
def test_parse_pair_errors(pair, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_pair(pair)


def test_parse_pair_type_error() -> None:
    with pytest.raises(TypeError, match="like 'en-sw', got int"):
        parse_pair(3)  # type: ignore[arg-type]
