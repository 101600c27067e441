"""What a sentence-pair task is: its label names and languages, and the pair ``Dataset`` every reader builds.

The base of the task-data modules (:mod:`xalign.data.task_layouts` reads local copies with it,
:mod:`xalign.data.tasks` dispatches and reads generic files, :mod:`xalign.data.task_splits` builds protocols).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xalign.errors import ConfigError, DataError

if TYPE_CHECKING:  # pragma: no cover
    import datasets

XNLI_LABELS = ("entailment", "neutral", "contradiction")
PAWSX_LABELS = ("not_paraphrase", "paraphrase")
XNLI_LANGUAGES = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
PAWSX_LANGUAGES = ("de", "en", "es", "fr", "ja", "ko", "zh")
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class TaskSpec:
    """A named task: its label names (index = class id) and the languages it exists in."""

    name: str
    labels: tuple[str, ...]
    languages: tuple[str, ...]


TASKS = {
    "xnli": TaskSpec("xnli", XNLI_LABELS, XNLI_LANGUAGES),
    "pawsx": TaskSpec("pawsx", PAWSX_LABELS, PAWSX_LANGUAGES),
}


def task_spec(task: str) -> TaskSpec:
    """The :class:`TaskSpec` of ``"xnli"`` or ``"pawsx"``; ``ConfigError`` naming the known tasks otherwise."""
    key = str(task).lower().replace("-", "")
    if key not in TASKS:
        raise ConfigError(f"unknown task {task!r}: expected one of {sorted(TASKS)} (or 'pairs' with your own files)")
    return TASKS[key]


def check_language(spec: TaskSpec, lang: str) -> str:
    """The canonical code of ``lang`` if ``spec`` has it, else ``ValueError`` naming its languages."""
    from xalign.data.languages import AmbiguousLanguageError, normalize_lang

    try:
        code = normalize_lang(lang)
    except AmbiguousLanguageError:
        raise  # 'ace': the message lists ace_Arab and ace_Latn
    except ValueError:
        code = None
    if code not in spec.languages:
        raise ConfigError(f"{spec.name} has no language {lang!r}: expected one of {', '.join(spec.languages)}")
    return code


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}: expected one of {SPLITS}")
    return split


def make_dataset(sentence1: Sequence[str], sentence2: Sequence[str], labels: Sequence[int], item_ids: Sequence[str],
                 label_names: Sequence[str]) -> "datasets.Dataset":
    """Build the standard pair ``Dataset`` (``label`` is a ``ClassLabel`` with ``label_names``)."""
    import datasets

    n = len(sentence1)
    if not (len(sentence2) == len(labels) == len(item_ids) == n):
        raise ConfigError(f"columns differ in length: {n}, {len(sentence2)}, {len(labels)}, {len(item_ids)}")
    if len(set(item_ids)) != n:
        raise ConfigError("item ids must be unique within a dataset")
    features = datasets.Features({
        "sentence1": datasets.Value("string"), "sentence2": datasets.Value("string"),
        "label": datasets.ClassLabel(names=list(label_names)), "item_id": datasets.Value("string")})
    return datasets.Dataset.from_dict({"sentence1": list(sentence1), "sentence2": list(sentence2),
                                       "label": [int(x) for x in labels], "item_id": list(item_ids)},
                                      features=features)


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def label_index(value: Any, names: Sequence[str], where: str) -> int:
    """Class id of ``value``: a name in ``names``, or an integer index into that declared order."""
    text = str(value).strip()
    if text in names:
        return list(names).index(text)
    if _is_int(text) and 0 <= int(text) < len(names):
        return int(text)
    raise DataError(f"{where}: label {value!r} is not one of {list(names)} (or 0..{len(names) - 1})")
