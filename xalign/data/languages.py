"""Language codes: one canonical short code per language, and the codes that corpora use.

xalign names a language by its ISO 639-1 code where one exists (``"sw"``, ``"en"``) and
by its ISO 639-3 code otherwise (``"yue"``, ``"ceb"``). :func:`normalize_lang` accepts the
spellings found in the wild — ISO 639-1, ISO 639-2/B and 639-3 (macro-language and
individual codes), FLORES-200 codes (``swh_Latn``), NTREX codes (``aze-Latn``), BCP-47
tags with a region (``en-GB``) and English names — and :func:`flores_code` /
:func:`ntrex_code` map back to the file names those corpora use.
"""

from __future__ import annotations

import re
from typing import NamedTuple


from xalign.errors import ConfigError
class Language(NamedTuple):
    """One row of the language table."""

    code: str  # canonical short code
    name: str  # English name
    aliases: tuple[str, ...]  # other ISO 639 codes (639-2/B, 639-3 individual + macro)
    flores: str | None  # FLORES-200 code, None when FLORES-200 lacks the language
    ntrex: str | None  # NTREX-128 code, None when NTREX-128 lacks the language


# fmt: off
_TABLE: tuple[Language, ...] = (
    Language("af", "Afrikaans", ("afr",), "afr_Latn", "afr"),
    Language("ak", "Akan", ("aka", "twi"), "aka_Latn", None),
    Language("am", "Amharic", ("amh",), "amh_Ethi", "amh"),
    Language("ar", "Arabic", ("ara", "arb"), "arb_Arab", "arb"),
    Language("as", "Assamese", ("asm",), "asm_Beng", None),
    Language("az", "Azerbaijani", ("aze", "azj"), "azj_Latn", "aze-Latn"),
    Language("ba", "Bashkir", ("bak",), "bak_Cyrl", "bak"),
    Language("be", "Belarusian", ("bel",), "bel_Cyrl", "bel"),
    Language("bg", "Bulgarian", ("bul",), "bul_Cyrl", "bul"),
    Language("bn", "Bengali", ("ben",), "ben_Beng", "ben"),
    Language("bo", "Tibetan", ("bod", "tib"), "bod_Tibt", "bod"),
    Language("bs", "Bosnian", ("bos",), "bos_Latn", "bos"),
    Language("ca", "Catalan", ("cat",), "cat_Latn", "cat"),
    Language("ceb", "Cebuano", (), "ceb_Latn", None),
    Language("ckb", "Central Kurdish", (), "ckb_Arab", "ckb-Arab"),
    Language("cs", "Czech", ("ces", "cze", "cz"), "ces_Latn", "ces"),
    Language("cy", "Welsh", ("cym", "wel"), "cym_Latn", "cym"),
    Language("da", "Danish", ("dan",), "dan_Latn", "dan"),
    Language("de", "German", ("deu", "ger"), "deu_Latn", "deu"),
    Language("dz", "Dzongkha", ("dzo",), "dzo_Tibt", "dzo"),
    Language("ee", "Ewe", ("ewe",), "ewe_Latn", "ewe"),
    Language("el", "Greek", ("ell", "gre"), "ell_Grek", "ell"),
    Language("en", "English", ("eng",), "eng_Latn", "eng"),
    Language("eo", "Esperanto", ("epo",), "epo_Latn", None),
    Language("es", "Spanish", ("spa",), "spa_Latn", "spa"),
    Language("et", "Estonian", ("est", "ekk"), "est_Latn", "est"),
    Language("eu", "Basque", ("eus", "baq"), "eus_Latn", "eus"),
    Language("fa", "Persian", ("fas", "per", "pes"), "pes_Arab", "fas"),
    Language("fi", "Finnish", ("fin",), "fin_Latn", "fin"),
    Language("fj", "Fijian", ("fij",), "fij_Latn", "fij"),
    Language("fo", "Faroese", ("fao",), "fao_Latn", "fao"),
    Language("fr", "French", ("fra", "fre"), "fra_Latn", "fra"),
    Language("ga", "Irish", ("gle",), "gle_Latn", "gle"),
    Language("gl", "Galician", ("glg",), "glg_Latn", "glg"),
    Language("gu", "Gujarati", ("guj",), "guj_Gujr", "guj"),
    Language("ha", "Hausa", ("hau",), "hau_Latn", "hau"),
    Language("he", "Hebrew", ("heb", "iw"), "heb_Hebr", "heb"),
    Language("hi", "Hindi", ("hin",), "hin_Deva", "hin"),
    Language("hr", "Croatian", ("hrv",), "hrv_Latn", "hrv"),
    Language("ht", "Haitian Creole", ("hat",), "hat_Latn", None),
    Language("hu", "Hungarian", ("hun",), "hun_Latn", "hun"),
    Language("hy", "Armenian", ("hye", "arm"), "hye_Armn", "hye"),
    Language("id", "Indonesian", ("ind", "in"), "ind_Latn", "ind"),
    Language("ig", "Igbo", ("ibo",), "ibo_Latn", "ibo"),
    Language("is", "Icelandic", ("isl", "ice"), "isl_Latn", "isl"),
    Language("it", "Italian", ("ita",), "ita_Latn", "ita"),
    Language("ja", "Japanese", ("jpn",), "jpn_Jpan", "jpn"),
    Language("jv", "Javanese", ("jav",), "jav_Latn", None),
    Language("ka", "Georgian", ("kat", "geo"), "kat_Geor", "kat"),
    Language("kk", "Kazakh", ("kaz",), "kaz_Cyrl", "kaz"),
    Language("km", "Khmer", ("khm",), "khm_Khmr", "khm"),
    Language("kn", "Kannada", ("kan",), "kan_Knda", "kan"),
    Language("ko", "Korean", ("kor",), "kor_Hang", "kor"),
    Language("ku", "Kurmanji Kurdish", ("kur", "kmr"), "kmr_Latn", "kmr"),
    Language("ky", "Kyrgyz", ("kir",), "kir_Cyrl", "kir"),
    Language("lb", "Luxembourgish", ("ltz",), "ltz_Latn", "ltz"),
    Language("lg", "Ganda", ("lug",), "lug_Latn", None),
    Language("ln", "Lingala", ("lin",), "lin_Latn", None),
    Language("lo", "Lao", ("lao",), "lao_Laoo", "lao"),
    Language("lt", "Lithuanian", ("lit",), "lit_Latn", "lit"),
    Language("lv", "Latvian", ("lav", "lvs"), "lvs_Latn", "lav"),
    Language("mg", "Malagasy", ("mlg", "plt"), "plt_Latn", "mlg"),
    Language("mi", "Maori", ("mri", "mao"), "mri_Latn", "mri"),
    Language("mk", "Macedonian", ("mkd", "mac"), "mkd_Cyrl", "mkd"),
    Language("ml", "Malayalam", ("mal",), "mal_Mlym", "mal"),
    Language("mn", "Mongolian", ("mon", "khk"), "khk_Cyrl", "mon"),
    Language("mr", "Marathi", ("mar",), "mar_Deva", "mar"),
    Language("ms", "Malay", ("msa", "may", "zsm"), "zsm_Latn", "msa"),
    Language("mt", "Maltese", ("mlt",), "mlt_Latn", "mlt"),
    Language("my", "Burmese", ("mya", "bur"), "mya_Mymr", "mya"),
    Language("nb", "Norwegian Bokmal", ("nob", "no", "nor"), "nob_Latn", "nob"),
    Language("ne", "Nepali", ("nep", "npi"), "npi_Deva", "nep"),
    Language("nl", "Dutch", ("nld", "dut"), "nld_Latn", "nld"),
    Language("nn", "Norwegian Nynorsk", ("nno",), "nno_Latn", "nno"),
    Language("nso", "Northern Sotho", (), "nso_Latn", "nso"),
    Language("ny", "Chichewa", ("nya",), "nya_Latn", "nya"),
    Language("om", "Oromo", ("orm", "gaz"), "gaz_Latn", "orm"),
    Language("or", "Odia", ("ori", "ory"), "ory_Orya", None),
    Language("pa", "Punjabi", ("pan",), "pan_Guru", "pan"),
    Language("pl", "Polish", ("pol",), "pol_Latn", "pol"),
    Language("ps", "Pashto", ("pus", "pbt"), "pbt_Arab", "pus"),
    Language("pt", "Portuguese", ("por",), "por_Latn", "por"),
    Language("qu", "Quechua", ("que", "quy"), "quy_Latn", None),
    Language("ro", "Romanian", ("ron", "rum"), "ron_Latn", "ron"),
    Language("ru", "Russian", ("rus",), "rus_Cyrl", "rus"),
    Language("rw", "Kinyarwanda", ("kin",), "kin_Latn", "kin"),
    Language("sa", "Sanskrit", ("san",), "san_Deva", None),
    Language("sd", "Sindhi", ("snd",), "snd_Arab", "snd-Arab"),
    Language("si", "Sinhala", ("sin",), "sin_Sinh", "sin"),
    Language("sk", "Slovak", ("slk", "slo"), "slk_Latn", "slk"),
    Language("sl", "Slovenian", ("slv",), "slv_Latn", "slv"),
    Language("sm", "Samoan", ("smo",), "smo_Latn", "smo"),
    Language("sn", "Shona", ("sna",), "sna_Latn", "sna-Latn"),
    Language("so", "Somali", ("som",), "som_Latn", "som"),
    Language("sq", "Albanian", ("sqi", "alb", "als"), "als_Latn", "sqi"),
    Language("sr", "Serbian", ("srp",), "srp_Cyrl", "srp-Cyrl"),
    Language("ss", "Swati", ("ssw",), "ssw_Latn", "ssw"),
    Language("st", "Southern Sotho", ("sot",), "sot_Latn", None),
    Language("sv", "Swedish", ("swe",), "swe_Latn", "swe"),
    Language("sw", "Swahili", ("swa", "swh"), "swh_Latn", "swa"),
    Language("ta", "Tamil", ("tam",), "tam_Taml", "tam"),
    Language("te", "Telugu", ("tel",), "tel_Telu", "tel"),
    Language("tg", "Tajik", ("tgk",), "tgk_Cyrl", "tgk-Cyrl"),
    Language("th", "Thai", ("tha",), "tha_Thai", "tha"),
    Language("ti", "Tigrinya", ("tir",), "tir_Ethi", "tir"),
    Language("tk", "Turkmen", ("tuk",), "tuk_Latn", "tuk"),
    Language("tl", "Tagalog", ("tgl", "fil"), "tgl_Latn", "fil"),
    Language("tn", "Tswana", ("tsn",), "tsn_Latn", "tsn"),
    Language("tr", "Turkish", ("tur",), "tur_Latn", "tur"),
    Language("tt", "Tatar", ("tat",), "tat_Cyrl", "tat"),
    Language("ug", "Uyghur", ("uig",), "uig_Arab", "uig"),
    Language("uk", "Ukrainian", ("ukr",), "ukr_Cyrl", "ukr"),
    Language("ur", "Urdu", ("urd",), "urd_Arab", "urd"),
    Language("uz", "Uzbek", ("uzb", "uzn"), "uzn_Latn", "uzb"),
    Language("vi", "Vietnamese", ("vie",), "vie_Latn", "vie"),
    Language("wo", "Wolof", ("wol",), "wol_Latn", "wol"),
    Language("xh", "Xhosa", ("xho",), "xho_Latn", "xho"),
    Language("yo", "Yoruba", ("yor",), "yor_Latn", "yor"),
    Language("yue", "Cantonese", (), "yue_Hant", "yue"),
    Language("zh", "Chinese", ("zho", "chi", "cmn"), "zho_Hans", "zho-CN"),
    Language("zu", "Zulu", ("zul",), "zul_Latn", "zul"),
)
# fmt: on

_BY_CODE: dict[str, Language] = {lang.code: lang for lang in _TABLE}


def _build_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for lang in _TABLE:
        keys = [lang.code, *lang.aliases, lang.name]
        if lang.flores:
            keys.append(lang.flores)
        if lang.ntrex:
            keys.append(lang.ntrex)
        for key in keys:
            norm = key.lower().replace("-", "_")
            if lookup.setdefault(norm, lang.code) != lang.code:  # pragma: no cover - table bug
                raise RuntimeError(f"language table maps {key!r} to two languages")
    return lookup


_LOOKUP = _build_lookup()
_SCRIPT = re.compile(r"^[a-z]{4}$")
_REGION = re.compile(r"^([a-z]{2}|[0-9]{3})$")


def known_languages() -> list[str]:
    """All canonical short codes, sorted."""
    return sorted(_BY_CODE)


def language_name(code: str) -> str:
    """English name of a language (``"sw"`` → ``"Swahili"``)."""
    return _BY_CODE[normalize_lang(code)].name


def _unknown(code: str, why: str = "") -> ValueError:
    return ValueError(
        f"unknown language {code!r}{why}: expected an ISO 639-1 code ('sw'), an ISO 639-3 code ('swh', 'swa'), "
        f"a FLORES-200 code ('swh_Latn'), an NTREX code or an English name; known languages: "
        + ", ".join(known_languages())
    )


def normalize_lang(code: str) -> str:
    """Return the canonical short code of a language.

    ``"sw"``, ``"SW"``, ``"swh"``, ``"swa"``, ``"swh_Latn"``, ``"sw-KE"`` and ``"Swahili"`` all give
    ``"sw"``. A script subtag that contradicts the table (``"zho_Hant"``, ``"srp_Latn"``) is
    rejected rather than silently mapped. Raises ``ValueError`` for unknown codes and
    ``TypeError`` for non-strings.
    """
    if not isinstance(code, str):
        raise TypeError(f"a language code must be a str, got {type(code).__name__}: {code!r}")
    key = code.strip().lower().replace("-", "_")
    if not key:
        raise _unknown(code)
    if key in _LOOKUP:
        return _LOOKUP[key]
    base, _, rest = key.partition("_")
    if base not in _LOOKUP:
        raise _unknown(code)
    canonical = _LOOKUP[base]
    original = code.strip().replace("-", "_").split("_")[1:]
    for sub, orig in zip(rest.split("_"), original):
        if _REGION.match(sub) and sub in _LOOKUP and not orig.isupper():
            # 'en-sw' is a pair, not English in a region; regions are written in capitals ('fr-CA')
            raise _unknown(code, " (looks like a language pair; use parse_pair for 'en-sw')")
        if _SCRIPT.match(sub):
            flores = _BY_CODE[canonical].flores
            script = flores.split("_")[1].lower() if flores else None
            if script is not None and sub != script:
                raise _unknown(code, f" (script {sub.title()!r} differs from the supported {flores!r})")
        elif not _REGION.match(sub):
            raise _unknown(code)
    return canonical


def flores_code(lang: str) -> str:
    """FLORES-200 / SIB-200 code of a language (``"sw"`` → ``"swh_Latn"``)."""
    entry = _BY_CODE[normalize_lang(lang)]
    if entry.flores is None:
        have = ", ".join(x.code for x in _TABLE if x.flores)
        raise ConfigError(f"no FLORES-200 code known for {lang!r} ({entry.name}); languages with one: {have}")
    return entry.flores


def ntrex_code(lang: str) -> str:
    """NTREX-128 file code of a language (``"sw"`` → ``"swa"``, ``"zh"`` → ``"zho-CN"``)."""
    entry = _BY_CODE[normalize_lang(lang)]
    if entry.ntrex is None:
        have = ", ".join(x.code for x in _TABLE if x.ntrex)
        raise ConfigError(f"no NTREX-128 code known for {lang!r} ({entry.name}); languages with one: {have}")
    return entry.ntrex


def parse_pair(pair: str | tuple[str, str] | list[str]) -> tuple[str, str]:
    """Split a language pair into two canonical codes: ``"en-sw"`` → ``("en", "sw")``.

    Accepts ``"en-sw"``, ``"eng_Latn-swh_Latn"``, ``"aze-Latn-eng"`` (the split that makes two
    known languages wins), ``"en_sw"`` and a 2-tuple. The two languages must differ.
    """
    if isinstance(pair, (tuple, list)):
        if len(pair) != 2:
            raise ConfigError(f"a language pair has two languages, got {len(pair)}: {pair!r}")
        src, tgt = normalize_lang(pair[0]), normalize_lang(pair[1])
    elif isinstance(pair, str):
        src, tgt = _split_pair(pair)
    else:
        raise TypeError(f"a language pair must be a str like 'en-sw', got {type(pair).__name__}: {pair!r}")
    if src == tgt:
        raise ConfigError(f"a language pair needs two different languages, got {pair!r} ({src} twice)")
    return src, tgt


def _split_pair(pair: str) -> tuple[str, str]:
    text = pair.strip()
    for sep in ("-", "_"):
        parts = text.split(sep)
        if len(parts) < 2:
            continue
        found = set()
        for cut in range(1, len(parts)):
            left, right = sep.join(parts[:cut]), sep.join(parts[cut:])
            try:
                found.add((normalize_lang(left), normalize_lang(right)))
            except ValueError:
                continue
        if len(found) == 1:
            return found.pop()
        if len(found) > 1:
            raise ConfigError(f"ambiguous language pair {pair!r}: could be " + " or ".join(
                f"{a}-{b}" for a, b in sorted(found)))
    raise ConfigError(
        f"expected a language pair like 'en-sw' (two known language codes joined by '-'), got {pair!r}; "
        f"known languages: {', '.join(known_languages())}"
    )
