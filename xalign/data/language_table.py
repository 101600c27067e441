"""The packaged table of the 205 SIB-200 / FLORES-200 languages (``languages.tsv``).

One row per FLORES-200 code: English name, script, language family and whether XLM-R's CC-100
pre-training set has the language. ``languages.md`` beside the TSV names each column's source and
licence; ``tools/build_language_table.py`` regenerates it. Look rows up through
:func:`xalign.data.languages.language_info`, which accepts every spelling of a language.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

COLUMNS = ("code", "name", "iso639_3", "script", "script_name", "family", "in_cc100", "cc100_code")


@dataclass(frozen=True)
class LanguageInfo:
    """One language of the table.

    ``code`` is the FLORES-200 code (``"swh_Latn"``), ``script`` its ISO 15924 half (``"Latn"``),
    ``family`` the top-level family from URIEL/Glottolog (``"Atlantic-Congo"``; ``"isolate"`` for
    Basque), ``in_cc100`` whether XLM-R's pre-training set (Conneau et al. 2020, Table 6) has it and
    ``cc100_code`` the XLM-R code it maps to (``"sw"``), ``None`` when it is not in CC-100.
    """

    code: str
    name: str
    script: str
    family: str
    in_cc100: bool
    iso639_3: str
    script_name: str
    cc100_code: str | None

    def to_dict(self) -> dict[str, str | bool | None]:
        return {"code": self.code, "name": self.name, "script": self.script, "script_name": self.script_name,
                "family": self.family, "in_cc100": self.in_cc100, "cc100_code": self.cc100_code,
                "iso639_3": self.iso639_3}


def parse_language_table(text: str, where: str = "languages.tsv") -> tuple[LanguageInfo, ...]:
    """Rows of a table in the ``languages.tsv`` format (``#`` comment lines, a header, one row per line)."""
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    if not lines or tuple(lines[0].split("\t")) != COLUMNS:
        raise RuntimeError(f"{where}: expected the header {' '.join(COLUMNS)!r}, got {lines[:1]!r}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(COLUMNS) or cells[6] not in {"0", "1"}:
            raise RuntimeError(f"{where}: row {number} is malformed: {line!r}")
        row = dict(zip(COLUMNS, cells))
        rows.append(LanguageInfo(code=row["code"], name=row["name"], script=row["script"], family=row["family"],
                                 in_cc100=row["in_cc100"] == "1", iso639_3=row["iso639_3"],
                                 script_name=row["script_name"], cc100_code=row["cc100_code"] or None))
    return tuple(rows)


def read_language_table() -> tuple[LanguageInfo, ...]:
    """The 205 rows of the packaged ``languages.tsv``, sorted by code."""
    text = resources.files("xalign.data").joinpath("languages.tsv").read_text(encoding="utf-8")
    return parse_language_table(text)
