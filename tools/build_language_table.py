"""Build ``xalign/data/languages.tsv``: the 205 SIB-200 / FLORES-200 languages with name, script, family and
whether XLM-R's CC-100 pre-training set has them.

Sources (see ``xalign/data/languages.md`` for licences):

- codes: the folder names of SIB-200 (``dadelani/sib-200`` @ 593cea8, ``data/annotated/``), checked against
  ``../shared/data/sib200`` when that folder exists;
- English names: the language table of the FLORES-200 README (``facebookresearch/flores``, ``flores200/README.md``);
  N'Ko (``nqo_Nkoo``), which SIB-200 adds, is named as in ISO 639-3;
- script: the ISO 15924 code is the code's second half; its English name is ISO 15924's (parentheses dropped);
- family: the top-level family of URIEL's ``fam`` features (Glottolog-derived) as shipped by ``lang2vec``
  (``family_features.npz``): of the ``F_*`` clades a language belongs to, the one with the most member
  languages (an ancestor clade contains all members of its descendants); a few codes URIEL lacks borrow the
  features of the listed fallback code, a language with no clade is an isolate;
- CC-100: the 100 languages of the XLM-R paper (Conneau et al. 2020, Table 6; also fairseq
  ``examples/xlmr/README.md``), each mapped by hand to the FLORES-200 code of the same variety.

Usage: ``python tools/build_language_table.py [--sib200 ../shared/data/sib200] [--out xalign/data/languages.tsv]``.
Needs ``lang2vec`` (build time only; the package reads the TSV).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# FLORES-200 README names, one "code name" a line
FLORES_NAMES = """
ace_Arab Acehnese (Arabic script)
ace_Latn Acehnese (Latin script)
acm_Arab Mesopotamian Arabic
acq_Arab Ta'izzi-Adeni Arabic
aeb_Arab Tunisian Arabic
afr_Latn Afrikaans
ajp_Arab South Levantine Arabic
aka_Latn Akan
amh_Ethi Amharic
apc_Arab North Levantine Arabic
arb_Arab Modern Standard Arabic
arb_Latn Modern Standard Arabic (Romanized)
ars_Arab Najdi Arabic
ary_Arab Moroccan Arabic
arz_Arab Egyptian Arabic
asm_Beng Assamese
ast_Latn Asturian
awa_Deva Awadhi
ayr_Latn Central Aymara
azb_Arab South Azerbaijani
azj_Latn North Azerbaijani
bak_Cyrl Bashkir
bam_Latn Bambara
ban_Latn Balinese
bel_Cyrl Belarusian
bem_Latn Bemba
ben_Beng Bengali
bho_Deva Bhojpuri
bjn_Arab Banjar (Arabic script)
bjn_Latn Banjar (Latin script)
bod_Tibt Standard Tibetan
bos_Latn Bosnian
bug_Latn Buginese
bul_Cyrl Bulgarian
cat_Latn Catalan
ceb_Latn Cebuano
ces_Latn Czech
cjk_Latn Chokwe
ckb_Arab Central Kurdish
crh_Latn Crimean Tatar
cym_Latn Welsh
dan_Latn Danish
deu_Latn German
dik_Latn Southwestern Dinka
dyu_Latn Dyula
dzo_Tibt Dzongkha
ell_Grek Greek
eng_Latn English
epo_Latn Esperanto
est_Latn Estonian
eus_Latn Basque
ewe_Latn Ewe
fao_Latn Faroese
fij_Latn Fijian
fin_Latn Finnish
fon_Latn Fon
fra_Latn French
fur_Latn Friulian
fuv_Latn Nigerian Fulfulde
gaz_Latn West Central Oromo
gla_Latn Scottish Gaelic
gle_Latn Irish
glg_Latn Galician
grn_Latn Guarani
guj_Gujr Gujarati
hat_Latn Haitian Creole
hau_Latn Hausa
heb_Hebr Hebrew
hin_Deva Hindi
hne_Deva Chhattisgarhi
hrv_Latn Croatian
hun_Latn Hungarian
hye_Armn Armenian
ibo_Latn Igbo
ilo_Latn Ilocano
ind_Latn Indonesian
isl_Latn Icelandic
ita_Latn Italian
jav_Latn Javanese
jpn_Jpan Japanese
kab_Latn Kabyle
kac_Latn Jingpho
kam_Latn Kamba
kan_Knda Kannada
kas_Arab Kashmiri (Arabic script)
kas_Deva Kashmiri (Devanagari script)
kat_Geor Georgian
kaz_Cyrl Kazakh
kbp_Latn Kabiyè
kea_Latn Kabuverdianu
khk_Cyrl Halh Mongolian
khm_Khmr Khmer
kik_Latn Kikuyu
kin_Latn Kinyarwanda
kir_Cyrl Kyrgyz
kmb_Latn Kimbundu
kmr_Latn Northern Kurdish
knc_Arab Central Kanuri (Arabic script)
knc_Latn Central Kanuri (Latin script)
kon_Latn Kikongo
kor_Hang Korean
lao_Laoo Lao
lij_Latn Ligurian
lim_Latn Limburgish
lin_Latn Lingala
lit_Latn Lithuanian
lmo_Latn Lombard
ltg_Latn Latgalian
ltz_Latn Luxembourgish
lua_Latn Luba-Kasai
lug_Latn Ganda
luo_Latn Luo
lus_Latn Mizo
lvs_Latn Standard Latvian
mag_Deva Magahi
mai_Deva Maithili
mal_Mlym Malayalam
mar_Deva Marathi
min_Arab Minangkabau (Arabic script)
min_Latn Minangkabau (Latin script)
mkd_Cyrl Macedonian
mlt_Latn Maltese
mni_Beng Meitei (Bengali script)
mos_Latn Mossi
mri_Latn Maori
mya_Mymr Burmese
nld_Latn Dutch
nno_Latn Norwegian Nynorsk
nob_Latn Norwegian Bokmål
npi_Deva Nepali
nqo_Nkoo N'Ko
nso_Latn Northern Sotho
nus_Latn Nuer
nya_Latn Nyanja
oci_Latn Occitan
ory_Orya Odia
pag_Latn Pangasinan
pan_Guru Eastern Panjabi
pap_Latn Papiamento
pbt_Arab Southern Pashto
pes_Arab Western Persian
plt_Latn Plateau Malagasy
pol_Latn Polish
por_Latn Portuguese
prs_Arab Dari
quy_Latn Ayacucho Quechua
ron_Latn Romanian
run_Latn Rundi
rus_Cyrl Russian
sag_Latn Sango
san_Deva Sanskrit
sat_Olck Santali
scn_Latn Sicilian
shn_Mymr Shan
sin_Sinh Sinhala
slk_Latn Slovak
slv_Latn Slovenian
smo_Latn Samoan
sna_Latn Shona
snd_Arab Sindhi
som_Latn Somali
sot_Latn Southern Sotho
spa_Latn Spanish
als_Latn Tosk Albanian
srd_Latn Sardinian
srp_Cyrl Serbian
ssw_Latn Swati
sun_Latn Sundanese
swe_Latn Swedish
swh_Latn Swahili
szl_Latn Silesian
tam_Taml Tamil
taq_Latn Tamasheq (Latin script)
taq_Tfng Tamasheq (Tifinagh script)
tat_Cyrl Tatar
tel_Telu Telugu
tgk_Cyrl Tajik
tgl_Latn Tagalog
tha_Thai Thai
tir_Ethi Tigrinya
tpi_Latn Tok Pisin
tsn_Latn Tswana
tso_Latn Tsonga
tuk_Latn Turkmen
tum_Latn Tumbuka
tur_Latn Turkish
twi_Latn Twi
tzm_Tfng Central Atlas Tamazight
uig_Arab Uyghur
ukr_Cyrl Ukrainian
umb_Latn Umbundu
urd_Arab Urdu
uzn_Latn Northern Uzbek
vec_Latn Venetian
vie_Latn Vietnamese
war_Latn Waray
wol_Latn Wolof
xho_Latn Xhosa
ydd_Hebr Eastern Yiddish
yor_Latn Yoruba
yue_Hant Yue Chinese
zho_Hans Chinese (Simplified)
zho_Hant Chinese (Traditional)
zsm_Latn Standard Malay
zul_Latn Zulu
"""

# ISO 15924 English names of the scripts FLORES-200 uses
SCRIPTS = {
    "Arab": "Arabic", "Armn": "Armenian", "Beng": "Bengali", "Cyrl": "Cyrillic", "Deva": "Devanagari",
    "Ethi": "Ethiopic", "Geor": "Georgian", "Grek": "Greek", "Gujr": "Gujarati", "Guru": "Gurmukhi",
    "Hang": "Hangul", "Hans": "Han (Simplified variant)", "Hant": "Han (Traditional variant)", "Hebr": "Hebrew",
    "Jpan": "Japanese", "Khmr": "Khmer", "Knda": "Kannada", "Laoo": "Lao", "Latn": "Latin", "Mlym": "Malayalam",
    "Mymr": "Myanmar", "Nkoo": "N'Ko", "Olck": "Ol Chiki", "Orya": "Oriya", "Sinh": "Sinhala", "Taml": "Tamil",
    "Telu": "Telugu", "Tfng": "Tifinagh", "Thai": "Thai", "Tibt": "Tibetan",
}

# XLM-R Table 6 (CC-100): XLM-R code -> FLORES-200 code of the same variety, None where FLORES-200 lacks it.
# Where FLORES-200 splits a macro-language, the variety CC-100's text is written in is chosen:
# ar -> Modern Standard Arabic (not the dialects, not arb_Latn), az -> North Azerbaijani (Latin), fa -> Western
# Persian (not Dari), lv -> Standard Latvian (not Latgalian), no -> Bokmål (fastText LID, which CC-100 used, tells
# Nynorsk 'nn' apart, and 'nn' is not in Table 6), zh-Hant -> Chinese (Traditional), not Yue Chinese.
CC100 = {
    "af": "afr_Latn", "am": "amh_Ethi", "ar": "arb_Arab", "as": "asm_Beng", "az": "azj_Latn", "be": "bel_Cyrl",
    "bg": "bul_Cyrl", "bn": "ben_Beng", "bn_rom": None, "br": None, "bs": "bos_Latn", "ca": "cat_Latn",
    "cs": "ces_Latn", "cy": "cym_Latn", "da": "dan_Latn", "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn",
    "eo": "epo_Latn", "es": "spa_Latn", "et": "est_Latn", "eu": "eus_Latn", "fa": "pes_Arab", "fi": "fin_Latn",
    "fr": "fra_Latn", "fy": None, "ga": "gle_Latn", "gd": "gla_Latn", "gl": "glg_Latn", "gu": "guj_Gujr",
    "ha": "hau_Latn", "he": "heb_Hebr", "hi": "hin_Deva", "hi_rom": None, "hr": "hrv_Latn", "hu": "hun_Latn",
    "hy": "hye_Armn", "id": "ind_Latn", "is": "isl_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "jv": "jav_Latn",
    "ka": "kat_Geor", "kk": "kaz_Cyrl", "km": "khm_Khmr", "kn": "kan_Knda", "ko": "kor_Hang", "ku": "kmr_Latn",
    "ky": "kir_Cyrl", "la": None, "lo": "lao_Laoo", "lt": "lit_Latn", "lv": "lvs_Latn", "mg": "plt_Latn",
    "mk": "mkd_Cyrl", "ml": "mal_Mlym", "mn": "khk_Cyrl", "mr": "mar_Deva", "ms": "zsm_Latn", "my": "mya_Mymr",
    "my_zaw": None, "ne": "npi_Deva", "nl": "nld_Latn", "no": "nob_Latn", "om": "gaz_Latn", "or": "ory_Orya",
    "pa": "pan_Guru", "pl": "pol_Latn", "ps": "pbt_Arab", "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl",
    "sa": "san_Deva", "sd": "snd_Arab", "si": "sin_Sinh", "sk": "slk_Latn", "sl": "slv_Latn", "so": "som_Latn",
    "sq": "als_Latn", "sr": "srp_Cyrl", "su": "sun_Latn", "sv": "swe_Latn", "sw": "swh_Latn", "ta": "tam_Taml",
    "ta_rom": None, "te": "tel_Telu", "te_rom": None, "th": "tha_Thai", "tl": "tgl_Latn", "tr": "tur_Latn",
    "ug": "uig_Arab", "uk": "ukr_Cyrl", "ur": "urd_Arab", "ur_rom": None, "uz": "uzn_Latn", "vi": "vie_Latn",
    "xh": "xho_Latn", "yi": "ydd_Hebr", "zh": "zho_Hans", "zh-Hant": "zho_Hant",
}

# ISO 639-3 codes URIEL has no family features for -> the code whose features they take
FAMILY_FALLBACK = {"lvs": "lav", "ltg": "lav", "nob": "nor", "nno": "nor", "twi": "aka", "nqo": "bam"}
ISOLATES = {"eus"}  # URIEL lists no clade for these: Glottolog calls them isolates

HEADER = """\
# The 205 SIB-200 / FLORES-200 languages. Generated by tools/build_language_table.py; sources and licences in
# languages.md. Columns:
#   code       FLORES-200 code (SIB-200 folder name), ISO 639-3 + '_' + ISO 15924
#   name       English name from the FLORES-200 README language table (N'Ko: ISO 639-3)
#   iso639_3   first half of the code
#   script     ISO 15924 code (second half of the code)
#   script_name  ISO 15924 English name
#   family     top-level family: URIEL 'fam' features (Glottolog-derived) via lang2vec; 'isolate' if none
#   in_cc100   1 if XLM-R's CC-100 pre-training set has the language (XLM-R paper, Conneau et al. 2020, Table 6)
#   cc100_code the XLM-R code it maps to, empty otherwise
"""
COLUMNS = ("code", "name", "iso639_3", "script", "script_name", "family", "in_cc100", "cc100_code")


def _uriel_families(codes: list[str]) -> dict[str, str]:
    spec = importlib.util.find_spec("lang2vec")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("lang2vec is needed to build the table: pip install lang2vec")
    data_file = Path(list(spec.submodule_search_locations)[0]) / "data" / "family_features.npz"
    with np.load(data_file, allow_pickle=False) as npz:
        feats = [str(f) for f in npz["feats"]]
        langs = {str(lang): k for k, lang in enumerate(npz["langs"])}
        member = npz["data"][:, :, 0] > 0
    size = member.sum(axis=0)
    out: dict[str, str] = {}
    for code in codes:
        iso = code.split("_")[0]
        if iso in ISOLATES:
            out[code] = "isolate"
            continue
        row = member[langs[FAMILY_FALLBACK.get(iso, iso)]]
        active = np.flatnonzero(row)
        if not len(active):
            raise SystemExit(f"URIEL has no family for {code}; add it to FAMILY_FALLBACK or ISOLATES")
        top = max(active, key=lambda j: size[j])
        if sum(size[j] == size[top] for j in active) > 1:
            raise SystemExit(f"{code}: two clades of equal size, cannot tell the top-level family")
        out[code] = feats[top].removeprefix("F_")
    return out


def build_rows(codes: list[str]) -> list[dict[str, str]]:
    names = dict(line.split(" ", 1) for line in FLORES_NAMES.strip().splitlines())
    if sorted(names) != sorted(codes):
        raise SystemExit(f"name list and codes differ: {sorted(set(names) ^ set(codes))}")
    cc100 = {flores: xlmr for xlmr, flores in CC100.items() if flores}
    if len(CC100) != 100 or len(cc100) != sum(v is not None for v in CC100.values()):
        raise SystemExit("CC-100 list must have 100 languages, each FLORES code at most once")
    families = _uriel_families(codes)
    rows = []
    for code in sorted(codes):
        iso, script = code.split("_")
        rows.append({"code": code, "name": names[code], "iso639_3": iso, "script": script,
                     "script_name": SCRIPTS[script], "family": families[code],
                     "in_cc100": "1" if code in cc100 else "0", "cc100_code": cc100.get(code, "")})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sib200", type=Path, default=ROOT.parent / "shared" / "data" / "sib200",
                        help="SIB-200 folder whose language folders are checked against the table")
    parser.add_argument("--out", type=Path, default=ROOT / "xalign" / "data" / "languages.tsv")
    args = parser.parse_args(argv)
    codes = sorted(line.split(" ", 1)[0] for line in FLORES_NAMES.strip().splitlines())
    if args.sib200.is_dir():
        folders = sorted(p.name for p in args.sib200.iterdir() if p.is_dir())
        if folders != codes:
            raise SystemExit(f"{args.sib200} folders differ from the table: {sorted(set(folders) ^ set(codes))}")
    rows = build_rows(codes)
    lines = [HEADER.rstrip("\n"), "\t".join(COLUMNS)] + ["\t".join(r[c] for c in COLUMNS) for r in rows]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(rows)} languages, {sum(r['in_cc100'] == '1' for r in rows)} in CC-100")
    return 0


if __name__ == "__main__":
    sys.exit(main())
