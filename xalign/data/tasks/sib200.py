"""SIB-200 (Adelani et al., 2024): topic classification of one sentence, 7 labels, 205 languages and dialects.

The 1,004 FLORES-200 sentences (701 train / 99 dev / 204 test), labelled with a topic; the same sentences in every
language, matched by ``index_id`` (never by position). Protocol (its paper's): train on English ``train``,
select on English ``dev``, evaluate zero-shot on ``test`` in every language.

* Local layout ``sib200`` — ``<root>/<flores code>/{train,dev,test}.tsv`` (in the folder or an immediate
  subfolder), header ``index_id<TAB>category<TAB>text``, read by :func:`xalign.data.folders._read_id_rows`
  (the one reader of that file). A ``labels.txt`` next to the language folders must name the same 7 topics.
* Hub: ``Davlan/sib200`` (one config per FLORES-200 code; splits train/validation/test; fields ``index_id``,
  ``category``, ``text``).
* Rows are put in ``index_id`` order (numerically) whatever the order of a file, so per-item results line up
  across languages, runs and models.
* Languages are FLORES-200 codes (``swh_Latn``, ``ace_Arab``); a short code is accepted where it names one
  (``sw`` → ``swh_Latn``, ``en`` → ``eng_Latn``).
* Labels, in this fixed order (the order of upstream's ``labels.txt``; class id = position): science/technology,
  travel, politics, sports, health, entertainment, geography.
"""

from __future__ import annotations

import re
from pathlib import Path

from xalign.data.tasks.layouts import keep_row, subfolders
from xalign.data.tasks.spec import SINGLE, HubSource, Layout, Row, SplitSource, TaskSpec
from xalign.errors import DataError

LABELS = ("science/technology", "travel", "politics", "sports", "health", "entertainment", "geography")
LANGUAGES = tuple("""
    ace_Arab ace_Latn acm_Arab acq_Arab aeb_Arab afr_Latn ajp_Arab aka_Latn als_Latn amh_Ethi apc_Arab
    arb_Arab arb_Latn ars_Arab ary_Arab arz_Arab asm_Beng ast_Latn awa_Deva ayr_Latn azb_Arab azj_Latn
    bak_Cyrl bam_Latn ban_Latn bel_Cyrl bem_Latn ben_Beng bho_Deva bjn_Arab bjn_Latn bod_Tibt bos_Latn
    bug_Latn bul_Cyrl cat_Latn ceb_Latn ces_Latn cjk_Latn ckb_Arab crh_Latn cym_Latn dan_Latn deu_Latn
    dik_Latn dyu_Latn dzo_Tibt ell_Grek eng_Latn epo_Latn est_Latn eus_Latn ewe_Latn fao_Latn fij_Latn
    fin_Latn fon_Latn fra_Latn fur_Latn fuv_Latn gaz_Latn gla_Latn gle_Latn glg_Latn grn_Latn guj_Gujr
    hat_Latn hau_Latn heb_Hebr hin_Deva hne_Deva hrv_Latn hun_Latn hye_Armn ibo_Latn ilo_Latn ind_Latn
    isl_Latn ita_Latn jav_Latn jpn_Jpan kab_Latn kac_Latn kam_Latn kan_Knda kas_Arab kas_Deva kat_Geor
    kaz_Cyrl kbp_Latn kea_Latn khk_Cyrl khm_Khmr kik_Latn kin_Latn kir_Cyrl kmb_Latn kmr_Latn knc_Arab
    knc_Latn kon_Latn kor_Hang lao_Laoo lij_Latn lim_Latn lin_Latn lit_Latn lmo_Latn ltg_Latn ltz_Latn
    lua_Latn lug_Latn luo_Latn lus_Latn lvs_Latn mag_Deva mai_Deva mal_Mlym mar_Deva min_Arab min_Latn
    mkd_Cyrl mlt_Latn mni_Beng mos_Latn mri_Latn mya_Mymr nld_Latn nno_Latn nob_Latn npi_Deva nqo_Nkoo
    nso_Latn nus_Latn nya_Latn oci_Latn ory_Orya pag_Latn pan_Guru pap_Latn pbt_Arab pes_Arab plt_Latn
    pol_Latn por_Latn prs_Arab quy_Latn ron_Latn run_Latn rus_Cyrl sag_Latn san_Deva sat_Olck scn_Latn
    shn_Mymr sin_Sinh slk_Latn slv_Latn smo_Latn sna_Latn snd_Arab som_Latn sot_Latn spa_Latn srd_Latn
    srp_Cyrl ssw_Latn sun_Latn swe_Latn swh_Latn szl_Latn tam_Taml taq_Latn taq_Tfng tat_Cyrl tel_Telu
    tgk_Cyrl tgl_Latn tha_Thai tir_Ethi tpi_Latn tsn_Latn tso_Latn tuk_Latn tum_Latn tur_Latn twi_Latn
    tzm_Tfng uig_Arab ukr_Cyrl umb_Latn urd_Arab uzn_Latn vec_Latn vie_Latn war_Latn wol_Latn xho_Latn
    ydd_Hebr yor_Latn yue_Hant zho_Hans zho_Hant zsm_Latn zul_Latn
""".split())
_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")


def flores_language(lang: str) -> str:
    """The FLORES-200 code of ``lang`` (``sw`` → ``swh_Latn``); ``ValueError`` when there is none."""
    from xalign.data.languages import flores_code

    return flores_code(lang)


def index_order(index_id: str) -> tuple[int, int, str]:
    """Sort key of an ``index_id``: numerically (``"9"`` before ``"10"``), any other id after, as text."""
    return (0, int(index_id), "") if index_id.isdigit() else (1, 0, index_id)


def _find(root: Path, spec: TaskSpec, split: str) -> list[SplitSource]:
    out = []
    for folder in subfolders(root):
        files = {p.name: p / f"{split}.tsv" for p in folder.iterdir() if p.is_dir() and _CODE.match(p.name)}
        files = {lang: p for lang, p in files.items() if p.is_file()}
        if files:
            out.append(SplitSource("sib200", folder, files))
    return out


def _check_labels(folder: Path) -> None:
    path = folder / "labels.txt"
    if path.is_file():
        found = [x.strip() for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        if sorted(found) != sorted(LABELS):
            raise DataError(f"{path}: expected the 7 SIB-200 topics {list(LABELS)}, found {found}")


def _read(path: Path, lang: str, split: str, spec: TaskSpec) -> tuple[list[Row], list[int]]:
    from xalign.data.folders import _read_id_rows
    from xalign.data.lines import LineFile

    _check_labels(path.parent.parent)
    rows: list[Row] = []
    bad: list[int] = []
    for index_id, category, text, loc in _read_id_rows(LineFile(path, what="SIB-200 file"), ("category", "text")):
        keep_row(rows, bad, int(loc.rsplit(":", 1)[1]), (index_id.strip(), (text,), category))
    return rows, bad


SIB200 = Layout("sib200", _find, _read, lambda split: f"<flores code>/{split}.tsv (in the folder or a subfolder)")

TASK = TaskSpec(
    name="sib200", labels=LABELS, languages=LANGUAGES, text_columns=SINGLE, aliases=("sib-200",),
    hub=HubSource("Davlan/sib200", columns=("text",), label="category", item_id="index_id"),
    layouts=(SIB200,), lang_code=flores_language, item_order=index_order,
    file_fields=({"sentence1": "text", "label": "category", "item_id": "index_id"},
                 {"sentence1": "sentence1", "label": "label"}),
    description="topic classification of one sentence (7 topics), 205 languages (FLORES-200 codes)")
