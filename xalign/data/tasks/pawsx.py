"""PAWS-X (Yang et al., 2019): paraphrase identification, a sentence pair, 2 labels, 7 languages.

Local layouts: ``xtreme`` (:mod:`xalign.data.tasks.layouts`) and ``x-final`` — the official release,
``<lang>/{train,dev_2k,test_2k}.tsv`` with a header ``id sentence1 sentence2 label`` (``translated_train.tsv``
is read for ``train`` too), in the data folder or an immediate subfolder (``x_final/``); the ``id`` column is
the item id. Hub: ``google-research-datasets/paws-x``. A training file may be PAWS-Wiki
(``id sentence1 sentence2 label``, 0 = not_paraphrase, 1 = paraphrase).
"""

from __future__ import annotations

from pathlib import Path

from xalign.data.tasks.layouts import XTREME, header_rows, keep_row, subfolders
from xalign.data.tasks.spec import HubSource, Layout, Row, SplitSource, TaskSpec

LABELS = ("not_paraphrase", "paraphrase")
LANGUAGES = ("de", "en", "es", "fr", "ja", "ko", "zh")
_FILES = {"train": ("train.tsv", "translated_train.tsv"), "dev": ("dev_2k.tsv",), "test": ("test_2k.tsv",)}


def _find(root: Path, spec: TaskSpec, split: str) -> list[SplitSource]:
    out = []
    for folder in subfolders(root):
        files = {}
        for lang in spec.languages:
            hit = next((folder / lang / n for n in _FILES[split] if (folder / lang / n).is_file()), None)
            if hit is not None:
                files[lang] = hit
        if files:
            out.append(SplitSource("x-final", folder, files))
    return out


def _read(path: Path, lang: str, split: str, spec: TaskSpec) -> tuple[list[Row], list[int]]:
    rows: list[Row] = []
    bad: list[int] = []
    for lineno, (item, a, b, label) in header_rows(path, ("id", "sentence1", "sentence2", "label")):
        keep_row(rows, bad, lineno, (item.strip(), (a, b), label))
    return rows, bad


XFINAL = Layout("x-final", _find, _read,
                lambda split: f"<lang>/{'|'.join(_FILES[split])} (in the folder or a subfolder)")

TASK = TaskSpec(
    name="pawsx", labels=LABELS, languages=LANGUAGES, aliases=("paws-x",),
    hub=HubSource("google-research-datasets/paws-x", columns=("sentence1", "sentence2")),
    layouts=(XTREME, XFINAL),
    file_fields=({"sentence1": "sentence1", "sentence2": "sentence2", "label": "label", "item_id": "id"},
                 {"sentence1": "sentence1", "sentence2": "sentence2", "label": "label"}),
    description="paraphrase identification (not_paraphrase/paraphrase), 7 languages")
