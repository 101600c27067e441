"""Language codes: one canonical code per language, and the codes that corpora use.

xalign names a language by its shortest unambiguous code: ISO 639-1 where one exists (``"sw"``,
``"en"``), else ISO 639-3 (``"yue"``, ``"ceb"``, ``"kab"``), else — for the SIB-200 / FLORES-200
languages that share an ISO 639-3 code across scripts — the FLORES-200 code (``"ace_Arab"``,
``"zho_Hant"``). Pair names use these codes (``--pair en-ace_Arab`` → ``en-ace_Arab``). :func:`normalize_lang` accepts the spellings found in the wild — ISO 639-1, ISO
639-2/B and 639-3 (macro-language and individual codes), FLORES-200 codes (``swh_Latn``), NTREX
codes (``aze-Latn``), BCP-47 tags with a region or script (``en-GB``, ``zh-Hant``) and English
names — and :func:`flores_code` / :func:`ntrex_code` map back to the file names those corpora use.
An ISO 639-3 code that FLORES-200 writes in two scripts (``"ace"``) is refused with the choices.
:func:`language_info` gives the packaged table's row (name, script, family, CC-100) of a language.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from xalign.data.language_codes import AMBIGUOUS_ALIASES, NTREX_OF_FLORES, SHORT_CODES, Language
from xalign.data.language_table import LanguageInfo, read_language_table
from xalign.errors import ConfigError

__all__ = ["AmbiguousLanguageError", "LanguageInfo", "atlas_languages", "flores_code", "known_languages",
           "language_info", "language_name", "normalize_lang", "ntrex_code", "parse_pair"]


class AmbiguousLanguageError(ConfigError):
    """A code names more than one FLORES-200 language (``"ace"``: ``ace_Arab`` or ``ace_Latn``)."""


_BY_CODE: dict[str, Language] = {lang.code: lang for lang in SHORT_CODES}
_ATLAS: tuple[LanguageInfo, ...] = read_language_table()
_INFO: dict[str, LanguageInfo] = {info.code: info for info in _ATLAS}
_SHORT_OF_FLORES = {lang.flores: lang.code for lang in SHORT_CODES if lang.flores}
_ISO_COUNT = Counter(info.iso639_3 for info in _ATLAS)


def _canonical_of(flores: str) -> str:
    """The shortest unambiguous code: the short-code table's, else ISO 639-3, else the FLORES-200 code."""
    if flores in _SHORT_OF_FLORES:
        return _SHORT_OF_FLORES[flores]
    iso = _INFO[flores].iso639_3
    return iso if _ISO_COUNT[iso] == 1 else flores


def _key(text: str) -> str:
    return text.strip().lower().replace("-", "_")


def _build_lookup() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Spelling → canonical code, and ISO 639-3 code → its FLORES-200 codes where there are several."""
    lookup: dict[str, str] = {}

    def add(key: str, code: str) -> None:
        if lookup.setdefault(_key(key), code) != code:  # pragma: no cover - table bug
            raise RuntimeError(f"language tables map {key!r} to {lookup[_key(key)]!r} and {code!r}")

    for lang in SHORT_CODES:
        for key in (lang.code, *lang.aliases, lang.name, lang.flores, lang.ntrex):
            if key:
                add(key, lang.code)
    by_iso: dict[str, list[str]] = defaultdict(list)
    for info in _ATLAS:
        add(info.code, _canonical_of(info.code))
        add(_canonical_of(info.code), _canonical_of(info.code))
        add(info.name, _canonical_of(info.code))
        by_iso[info.iso639_3].append(info.code)
    ambiguous: dict[str, tuple[str, ...]] = {}
    for iso, codes in by_iso.items():
        if iso in lookup:
            continue  # an alias of the short-code table keeps its meaning ('zho' = 'zh', 'arb' = 'ar')
        if len(codes) == 1:
            lookup[iso] = _canonical_of(codes[0])
        else:
            ambiguous[iso] = tuple(sorted(codes))
    for alias, iso in AMBIGUOUS_ALIASES.items():
        ambiguous[alias] = ambiguous[iso]
    return lookup, ambiguous


_LOOKUP, _AMBIGUOUS = _build_lookup()
_FLORES_OF = {_canonical_of(info.code): info.code for info in _ATLAS}  # canonical → FLORES-200 code
_SCRIPT = re.compile(r"^[a-z]{4}$")
_REGION = re.compile(r"^([a-z]{2}|[0-9]{3})$")


def known_languages() -> list[str]:
    """All canonical codes, sorted (one per language: ``"sw"``, ``"kab"``, ``"ace_Arab"``)."""
    return sorted(set(_BY_CODE) | {_canonical_of(info.code) for info in _ATLAS})


def atlas_languages() -> list[LanguageInfo]:
    """The packaged table's 205 SIB-200 / FLORES-200 languages, sorted by FLORES-200 code."""
    return list(_ATLAS)


def language_name(code: str) -> str:
    """English name of a language (``"sw"`` → ``"Swahili"``, ``"ace_Arab"`` → ``"Acehnese (Arabic script)"``)."""
    canonical = normalize_lang(code)
    return _BY_CODE[canonical].name if canonical in _BY_CODE else _INFO[_FLORES_OF[canonical]].name


def language_info(code: str) -> LanguageInfo:
    """The table row of a language, in any spelling :func:`normalize_lang` accepts (``"sw"``, ``"swh_Latn"``)."""
    flores = flores_code(code)
    if flores not in _INFO:
        raise ConfigError(f"language {code!r} ({flores}) is not one of the {len(_INFO)} SIB-200 / FLORES-200 "
                          f"languages of the packaged table (xalign.data.atlas_languages())")
    return _INFO[flores]


def _unknown(code: str, why: str = "") -> ConfigError:
    short = ", ".join(sorted(_BY_CODE))
    return ConfigError(
        f"unknown language {code!r}{why}: expected an ISO 639-1 code ('sw'), an ISO 639-3 code ('swh', 'swa'), "
        f"a FLORES-200 code ('swh_Latn', 'ace_Arab'), an NTREX code or an English name; known languages: {short} "
        f"and the {len(_ATLAS)} FLORES-200 codes of xalign.data.atlas_languages() ({_ATLAS[0].code} … "
        f"{_ATLAS[-1].code})"
    )


def _ambiguous(code: str, iso: str) -> AmbiguousLanguageError:
    choices = " or ".join(f"{c} ({_INFO[c].name})" for c in _AMBIGUOUS[iso])
    return AmbiguousLanguageError(f"ambiguous language {code!r}: FLORES-200 has it in several scripts; give one of "
                                  f"{choices}")


def normalize_lang(code: str) -> str:
    """Return the canonical code of a language.

    ``"sw"``, ``"SW"``, ``"swh"``, ``"swa"``, ``"swh_Latn"``, ``"sw-KE"`` and ``"Swahili"`` all give
    ``"sw"``; ``"ace_Arab"`` and ``"ACE-ARAB"`` give ``"ace_Arab"``; ``"zh-Hant"`` gives ``"zho_Hant"``.
    A script subtag that matches no FLORES-200 language (``"srp_Latn"``) is rejected rather than
    silently mapped, and so is an ISO 639-3 code with several FLORES-200 scripts (``"ace"``,
    :class:`AmbiguousLanguageError`, listing the choices). Raises ``ValueError``
    (:class:`~xalign.errors.ConfigError`) for unknown codes and ``TypeError`` for non-strings.
    """
    if not isinstance(code, str):
        raise TypeError(f"a language code must be a str, got {type(code).__name__}: {code!r}")
    key = _key(code)
    if key in _LOOKUP:
        return _LOOKUP[key]
    base, _, rest = key.partition("_")
    if base not in _LOOKUP and base not in _AMBIGUOUS:
        raise _unknown(code)
    script = None
    for sub, orig in zip(rest.split("_") if rest else [], code.strip().replace("-", "_").split("_")[1:]):
        if _REGION.match(sub) and sub in _LOOKUP and not orig.isupper():
            # 'en-sw' is a pair, not English in a region; regions are written in capitals ('fr-CA')
            raise _unknown(code, " (looks like a language pair; use parse_pair for 'en-sw')")
        if _SCRIPT.match(sub) and script is None:
            script = sub
        elif not _REGION.match(sub):
            raise _unknown(code)
    if script is None:
        if base in _AMBIGUOUS:
            raise _ambiguous(code, base)
        return _LOOKUP[base]
    return _with_script(code, base, script)


def _with_script(code: str, base: str, script: str) -> str:
    full = f"{AMBIGUOUS_ALIASES.get(base, base)}_{script}"  # 'ace_Arab_ID', 'ks-Deva'
    if full in _LOOKUP:
        return _LOOKUP[full]
    if base in _AMBIGUOUS:
        choices = _AMBIGUOUS[base]
    else:
        canonical = _LOOKUP[base]
        flores = _FLORES_OF.get(canonical) or _BY_CODE[canonical].flores
        if flores is None or flores.split("_")[1].lower() == script:
            return canonical
        sibling = f"{flores.split('_')[0].lower()}_{script}"  # 'zh-Hant' → 'zho_Hant'
        if sibling in _LOOKUP:
            return _LOOKUP[sibling]
        choices = (flores,)
    supported = " or ".join(repr(c) for c in choices)
    raise _unknown(code, f" (script {script.title()!r} differs from the supported {supported})")


def flores_code(lang: str) -> str:
    """FLORES-200 / SIB-200 code of a language (``"sw"`` → ``"swh_Latn"``, ``"ace_Arab"`` → ``"ace_Arab"``)."""
    canonical = normalize_lang(lang)
    if canonical not in _BY_CODE:
        return _FLORES_OF[canonical]
    entry = _BY_CODE[canonical]
    if entry.flores is None:  # pragma: no cover - every short code has one today
        raise ConfigError(f"no FLORES-200 code known for {lang!r} ({entry.name})")
    return entry.flores


def ntrex_code(lang: str) -> str:
    """NTREX-128 file code of a language (``"sw"`` → ``"swa"``, ``"zh"`` → ``"zho-CN"``)."""
    canonical = normalize_lang(lang)
    entry = _BY_CODE.get(canonical)
    if entry is None and _FLORES_OF[canonical] in NTREX_OF_FLORES:
        return NTREX_OF_FLORES[_FLORES_OF[canonical]]
    if entry is None or entry.ntrex is None:
        have = ", ".join([x.code for x in SHORT_CODES if x.ntrex] + [_canonical_of(f) for f in NTREX_OF_FLORES])
        raise ConfigError(f"no NTREX-128 code known for {lang!r} ({language_name(canonical)}); "
                          f"languages with one: {have}")
    return entry.ntrex


def parse_pair(pair: str | tuple[str, str] | list[str]) -> tuple[str, str]:
    """Split a language pair into two canonical codes: ``"en-sw"`` → ``("en", "sw")``.

    Accepts ``"en-sw"``, ``"eng_Latn-swh_Latn"``, ``"en-ace_Arab"`` (→ ``("en", "ace_Arab")``),
    ``"aze-Latn-eng"`` (the split that makes two known languages wins), ``"en_sw"`` and a 2-tuple.
    The two languages must differ. A pair whose only reading has an ambiguous code (``"en-ace"``)
    raises :class:`AmbiguousLanguageError` with the choices.
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
    ambiguity: AmbiguousLanguageError | None = None
    for sep in ("-", "_"):
        parts = text.split(sep)
        found = set()
        for cut in range(1, len(parts)):
            left, right = sep.join(parts[:cut]), sep.join(parts[cut:])
            try:
                found.add((normalize_lang(left), normalize_lang(right)))
            except AmbiguousLanguageError as exc:
                ambiguity = ambiguity or exc
            except ValueError:
                continue
        if len(found) == 1:
            return found.pop()
        if len(found) > 1:
            raise ConfigError(f"ambiguous language pair {pair!r}: could be " + " or ".join(
                f"{a}-{b}" for a, b in sorted(found)))
    if ambiguity is not None:
        raise AmbiguousLanguageError(f"in language pair {pair!r}: {ambiguity}")
    raise ConfigError(
        f"expected a language pair like 'en-sw' or 'en-ace_Arab' (two known language codes joined by '-'), "
        f"got {pair!r}; known languages: {', '.join(sorted(_BY_CODE))} and the FLORES-200 codes of "
        f"xalign.data.atlas_languages()"
    )
