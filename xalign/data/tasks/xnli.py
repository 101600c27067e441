"""XNLI (Conneau et al., 2018): natural language inference, a sentence pair, 3 labels, 15 languages.

Local layouts: ``xtreme`` (:mod:`xalign.data.tasks.layouts`) and ``myxnli`` — ``<lang>.genre.<split>.tsv``
(``genre label sentence1_<lang> sentence2_<lang>``; English from the gold columns of ``my.genre.<split>.tsv``),
item id ``<split>-<row>``. Hub: ``facebook/xnli``. A training file may be MultiNLI JSONL
(``premise``/``hypothesis``/``label``, 0 = entailment, 1 = neutral, 2 = contradiction).
"""

from __future__ import annotations

from pathlib import Path

from xalign.data.tasks.layouts import XTREME, header_rows, keep_row
from xalign.data.tasks.spec import HubSource, Layout, Row, SplitSource, TaskSpec

LABELS = ("entailment", "neutral", "contradiction")
LANGUAGES = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")


def _find(root: Path, spec: TaskSpec, split: str) -> list[SplitSource]:
    files = {lang: root / f"{lang}.genre.{split}.tsv" for lang in spec.languages}
    files = {lang: p for lang, p in files.items() if p.is_file()}
    if "en" not in files and (root / f"my.genre.{split}.tsv").is_file():
        files["en"] = root / f"my.genre.{split}.tsv"
    return [SplitSource("myxnli", root, files)] if files else []


def _read(path: Path, lang: str, split: str, spec: TaskSpec) -> tuple[list[Row], list[int]]:
    rows: list[Row] = []
    bad: list[int] = []
    for lineno, (label, a, b) in header_rows(path, ("label", f"sentence1_{lang}", f"sentence2_{lang}")):
        keep_row(rows, bad, lineno, (f"{split}-{lineno - 2:05d}", (a, b), label))
    return rows, bad


MYXNLI = Layout("myxnli", _find, _read, lambda split: f"<lang>.genre.{split}.tsv")

TASK = TaskSpec(
    name="xnli", labels=LABELS, languages=LANGUAGES,
    hub=HubSource("facebook/xnli", columns=("premise", "hypothesis"), item_id=None),
    layouts=(XTREME, MYXNLI),
    file_fields=({"sentence1": "premise", "sentence2": "hypothesis", "label": "label"},
                 {"sentence1": "sentence1", "sentence2": "sentence2", "label": "label"}),
    description="natural language inference (entailment/neutral/contradiction), 15 languages")
