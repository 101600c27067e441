"""Sentence-pair classification data (XNLI, PAWS-X, generic TSV/JSONL) as ``datasets.Dataset``.

Every dataset has the columns ``sentence1``, ``sentence2``, ``label`` (a ``ClassLabel``) and
``item_id``. Item ids are shared by the translations of one item (XNLI: ``dev-00042`` is row 42 of
the dev split in every language; PAWS-X: the ``id`` column), so protocols can prove that no
translation of a training item is ever evaluated (:func:`noleak_splits`) and the generalized setting
can pair sentence 1 in one language with sentence 2 in another (:func:`generalized_pairs`).

Local layouts:

* XNLI, myXNLI style (``../shared/data/xnli_via_myxnli``): ``<lang>.genre.<split>.tsv`` with columns
  ``genre label sentence1_<lang> sentence2_<lang>``; English comes from the gold ``sentence1_en``/
  ``sentence2_en`` columns of ``my.genre.<split>.tsv`` (or ``en.genre.<split>.tsv`` when present).
  Splits ``dev``/``test`` (``train`` when a ``<lang>.genre.train.tsv`` exists).
* PAWS-X x-final style: ``<lang>/{train,dev_2k,test_2k}.tsv`` (``translated_train.tsv`` also accepted
  for ``train``) with columns ``id sentence1 sentence2 label``; a flat directory holding
  ``dev_2k.tsv``/``test_2k.tsv`` is read as the one language asked for. Rows with an empty or ``NS``
  sentence (present upstream) are skipped and counted.
* Any TSV (with a header) or JSONL file: :func:`read_pairs`.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import datasets

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

XNLI_LABELS = ("entailment", "neutral", "contradiction")
PAWSX_LABELS = ("not_paraphrase", "paraphrase")
XNLI_LANGUAGES = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
PAWSX_LANGUAGES = ("de", "en", "es", "fr", "ja", "ko", "zh")
SPLITS = ("train", "dev", "test")
_HUB = {"xnli": "facebook/xnli", "pawsx": "google-research-datasets/paws-x"}
_PAWSX_FILES = {"train": ("train.tsv", "translated_train.tsv"), "dev": ("dev_2k.tsv",), "test": ("test_2k.tsv",)}


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
    """The :class:`TaskSpec` of ``"xnli"`` or ``"pawsx"``; ``ValueError`` naming the known tasks otherwise."""
    key = str(task).lower().replace("-", "")
    if key not in TASKS:
        raise ValueError(f"unknown task {task!r}: expected one of {sorted(TASKS)} (or 'pairs' with your own files)")
    return TASKS[key]


def check_language(spec: TaskSpec, lang: str) -> str:
    """The canonical code of ``lang`` if ``spec`` has it, else ``ValueError`` naming its languages."""
    from xalign.data.languages import normalize_lang

    try:
        code = normalize_lang(lang)
    except ValueError:
        code = None
    if code not in spec.languages:
        raise ValueError(f"{spec.name} has no language {lang!r}: expected one of {', '.join(spec.languages)}")
    return code


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: expected one of {SPLITS}")
    return split


def make_dataset(sentence1: Sequence[str], sentence2: Sequence[str], labels: Sequence[int], item_ids: Sequence[str],
                 label_names: Sequence[str]) -> "datasets.Dataset":
    """Build the standard pair ``Dataset`` (``label`` is a ``ClassLabel`` with ``label_names``)."""
    import datasets

    n = len(sentence1)
    if not (len(sentence2) == len(labels) == len(item_ids) == n):
        raise ValueError(f"columns differ in length: {n}, {len(sentence2)}, {len(labels)}, {len(item_ids)}")
    if len(set(item_ids)) != n:
        raise ValueError("item ids must be unique within a dataset")
    features = datasets.Features({
        "sentence1": datasets.Value("string"), "sentence2": datasets.Value("string"),
        "label": datasets.ClassLabel(names=list(label_names)), "item_id": datasets.Value("string")})
    return datasets.Dataset.from_dict({"sentence1": list(sentence1), "sentence2": list(sentence2),
                                       "label": [int(x) for x in labels], "item_id": list(item_ids)},
                                      features=features)


def _label_index(value: Any, names: Sequence[str], where: str) -> int:
    text = str(value).strip()
    if text in names:
        return list(names).index(text)
    if text.lstrip("-").isdigit() and 0 <= int(text) < len(names):
        return int(text)
    raise ValueError(f"{where}: label {value!r} is not one of {list(names)} (or 0..{len(names) - 1})")


def _read_tsv(path: Path) -> tuple[list[str], Iterable[tuple[int, list[str]]]]:
    if not path.is_file():
        raise FileNotFoundError(f"expected a TSV file at {path}, found none")
    fh = path.open(encoding="utf-8-sig", newline="")
    reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if header is None:
        fh.close()
        raise ValueError(f"{path}: empty file (expected a header line)")

    def rows():
        with fh:
            for lineno, row in enumerate(reader, 2):
                if row:
                    yield lineno, row
    return header, rows()


def _column(header: list[str], name: str, path: Path) -> int:
    if name not in header:
        raise ValueError(f"{path}:1: expected a column {name!r}, found columns {header}")
    return header.index(name)


# --------------------------------------------------------------------------- XNLI
def read_xnli_tsv(path: PathLike, *, lang: str, split: str) -> "datasets.Dataset":
    """One myXNLI-layout file: ``label`` plus ``sentence1_<lang>``/``sentence2_<lang>`` columns."""
    path = Path(path)
    header, rows = _read_tsv(path)
    cols = [_column(header, c, path) for c in ("label", f"sentence1_{lang}", f"sentence2_{lang}")]
    s1, s2, labels, ids = [], [], [], []
    for lineno, row in rows:
        if len(row) != len(header):
            raise ValueError(f"{path}:{lineno}: expected {len(header)} tab-separated fields, found {len(row)}")
        label, a, b = (row[c] for c in cols)
        if not a.strip() or not b.strip():
            raise ValueError(f"{path}:{lineno}: empty sentence in an XNLI file")
        labels.append(_label_index(label, XNLI_LABELS, f"{path}:{lineno}"))
        s1.append(a)
        s2.append(b)
        ids.append(f"{split}-{len(ids):05d}")
    if not ids:
        raise ValueError(f"{path}: no data rows")
    return make_dataset(s1, s2, labels, ids, XNLI_LABELS)


def _xnli_local(root: Path, lang: str, split: str) -> "datasets.Dataset":
    candidates = [root / f"{lang}.genre.{split}.tsv"]
    if lang == "en":
        candidates.append(root / f"my.genre.{split}.tsv")  # myXNLI carries the gold English columns
    for path in candidates:
        if path.is_file():
            return read_xnli_tsv(path, lang=lang, split=split)
    have = sorted({p.name.split(".")[0] for p in root.glob("*.genre.*.tsv")} | ({"en"} if any(root.glob("my.genre.*")) else set()))
    raise FileNotFoundError(f"no XNLI {split} file for {lang!r} in {root} (looked for {[c.name for c in candidates]}); "
                            f"languages there: {', '.join(have) or 'none'}")


# --------------------------------------------------------------------------- PAWS-X
def read_pawsx_tsv(path: PathLike, *, skip_bad: bool = True) -> "datasets.Dataset":
    """A PAWS-X x-final TSV (``id sentence1 sentence2 label``).

    Rows with an empty or ``"NS"`` sentence exist upstream; they are skipped and counted (a warning
    names the count) unless ``skip_bad=False``, which raises on the first one.
    """
    path = Path(path)
    header, rows = _read_tsv(path)
    cols = [_column(header, c, path) for c in ("id", "sentence1", "sentence2", "label")]
    s1, s2, labels, ids, skipped = [], [], [], [], 0
    for lineno, row in rows:
        if len(row) != len(header):
            raise ValueError(f"{path}:{lineno}: expected {len(header)} tab-separated fields, found {len(row)}")
        item, a, b, label = (row[c] for c in cols)
        if a.strip() in ("", "NS") or b.strip() in ("", "NS"):
            if not skip_bad:
                raise ValueError(f"{path}:{lineno}: empty or 'NS' sentence")
            skipped += 1
            continue
        labels.append(_label_index(label, PAWSX_LABELS, f"{path}:{lineno}"))
        s1.append(a)
        s2.append(b)
        ids.append(item)
    if skipped:
        logger.warning("%s: skipped %d rows with an empty or 'NS' sentence (as upstream)", path, skipped)
    if not ids:
        raise ValueError(f"{path}: no usable data rows")
    return make_dataset(s1, s2, labels, ids, PAWSX_LABELS)


def _pawsx_local(root: Path, lang: str, split: str) -> "datasets.Dataset":
    for base in (root / lang, root):
        for name in _PAWSX_FILES[split]:
            if (base / name).is_file():
                if base == root and not (root / lang).is_dir():
                    logger.info("reading flat PAWS-X directory %s as language %r", root, lang)
                return read_pawsx_tsv(base / name)
    raise FileNotFoundError(f"no PAWS-X {split} file for {lang!r} under {root} "
                            f"(looked for {lang}/{'|'.join(_PAWSX_FILES[split])} and the same names directly in it)")


# --------------------------------------------------------------------------- hub and dispatch
def _from_hub(spec: TaskSpec, lang: str, split: str) -> "datasets.Dataset":
    import datasets

    hub_split = {"dev": "validation"}.get(split, split)
    try:
        ds = datasets.load_dataset(_HUB[spec.name], lang, split=hub_split)
    except Exception as exc:  # offline, missing config, ...: one clear line
        raise OSError(f"could not load {spec.name} {lang}/{split} from the Hugging Face hub ({type(exc).__name__}: "
                      f"{str(exc).splitlines()[0] if str(exc) else ''}); pass a local data directory instead") from None
    ids = [str(x) for x in ds["id"]] if "id" in ds.column_names else [f"{split}-{i:05d}" for i in range(len(ds))]
    a, b = ("premise", "hypothesis") if spec.name == "xnli" else ("sentence1", "sentence2")
    return make_dataset(ds[a], ds[b], ds["label"], ids, spec.labels)


def load_task(task: str, lang: str, split: str, *, data_dir: PathLike | None = None) -> "datasets.Dataset":
    """Load ``split`` (``train``/``dev``/``test``) of ``task`` in ``lang``, from ``data_dir`` or the hub."""
    spec = task_spec(task)
    lang = check_language(spec, lang)
    split = _check_split(split)
    if data_dir is None:
        return _from_hub(spec, lang, split)
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"expected a {spec.name} data directory at {root}, found none")
    return _xnli_local(root, lang, split) if spec.name == "xnli" else _pawsx_local(root, lang, split)


def read_pairs(path: PathLike, *, sentence1: str = "sentence1", sentence2: str = "sentence2", label: str = "label",
               item_id: str | None = None, label_names: Sequence[str] | None = None) -> "datasets.Dataset":
    """A generic TSV (with header) or JSONL (``.jsonl``/``.json`` lines) file of labelled sentence pairs.

    Column names are configurable; ``item_id`` names an id column (default: the row number). Labels are
    mapped through ``label_names`` (names or 0-based indices); without it the sorted set of labels found.
    """
    path = Path(path)
    records: list[tuple[str, dict[str, Any]]] = []
    if path.suffix.lower() in (".jsonl", ".json"):
        if not path.is_file():
            raise FileNotFoundError(f"expected a JSONL file at {path}, found none")
        with path.open(encoding="utf-8-sig") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None
                if not isinstance(obj, dict):
                    raise ValueError(f"{path}:{lineno}: expected a JSON object per line, found {type(obj).__name__}")
                records.append((f"{path}:{lineno}", obj))
    else:
        header, rows = _read_tsv(path)
        for lineno, row in rows:
            if len(row) != len(header):
                raise ValueError(f"{path}:{lineno}: expected {len(header)} tab-separated fields, found {len(row)}")
            records.append((f"{path}:{lineno}", dict(zip(header, row))))
    if not records:
        raise ValueError(f"{path}: no data rows")
    wanted = [sentence1, sentence2, label] + ([item_id] if item_id else [])
    for where, rec in records:
        missing = [c for c in wanted if c not in rec]
        if missing:
            raise ValueError(f"{where}: missing field(s) {missing}; found {sorted(rec)}")
        if not str(rec[sentence1]).strip() or not str(rec[sentence2]).strip():
            raise ValueError(f"{where}: empty sentence")
    names = list(label_names) if label_names else sorted({str(r[label]).strip() for _, r in records})
    labels = [_label_index(r[label], names, where) for where, r in records]
    ids = [str(r[item_id]) for _, r in records] if item_id else [f"row-{i:06d}" for i in range(len(records))]
    return make_dataset([str(r[sentence1]) for _, r in records], [str(r[sentence2]) for _, r in records],
                        labels, ids, names)


# --------------------------------------------------------------------------- protocols
@dataclass
class TaskSplits:
    """Train / selection / evaluation data of one run; ``eval`` maps language → item-aligned dataset."""

    train: "datasets.Dataset"
    select: "datasets.Dataset"
    eval: dict[str, "datasets.Dataset"]
    protocol: str
    info: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, Any]:
        """Sizes and sha256 of the texts+labels and of the item ids of every split (for manifests)."""
        from xalign.io import sha256_texts

        def rec(ds):
            rows = (f"{a}\t{b}\t{y}" for a, b, y in zip(ds["sentence1"], ds["sentence2"], ds["label"]))
            return {"n": len(ds), "sha256": sha256_texts(rows), "item_ids_sha256": sha256_texts(ds["item_id"])}

        return {"protocol": self.protocol, "info": self.info, "train": rec(self.train), "select": rec(self.select),
                "eval": {k: rec(v) for k, v in self.eval.items()}}


def check_aligned(by_lang: dict[str, "datasets.Dataset"]) -> None:
    """``ValueError`` unless all datasets have the same item ids (in order) and the same labels."""
    langs = list(by_lang)
    ref = by_lang[langs[0]]
    for lang in langs[1:]:
        other = by_lang[lang]
        if list(other["item_id"]) != list(ref["item_id"]):
            raise ValueError(f"{lang} and {langs[0]} data are not item-aligned (different item ids or order)")
        if list(other["label"]) != list(ref["label"]):
            raise ValueError(f"{lang} and {langs[0]} data disagree on labels for the same items")


def noleak_splits(load: Callable[[str, str], "datasets.Dataset"], *, train_lang: str, languages: Sequence[str],
                  n_train: int | None, n_select: int | None, n_eval: int | None, seed: int) -> TaskSplits:
    """Train on ``train_lang`` **test** items, select on ``train_lang`` dev items, evaluate on the
    translations of the *other* dev items (``load(lang, split)`` gives an item-aligned split).

    Dev items are split by premise (sentence 1 of ``train_lang``), so no premise is shared between the
    selection and the evaluation items. ``None`` sizes mean "all that is available".
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    test = load(train_lang, "test")
    train_idx = rng.permutation(len(test))[: n_train if n_train is not None else len(test)]
    dev = load(train_lang, "dev")
    groups: dict[str, list[int]] = {}
    for i, premise in enumerate(dev["sentence1"]):
        groups.setdefault(premise, []).append(i)
    order = [groups[k] for k in sorted(groups)]
    select_idx: list[int] = []
    pool: list[int] = []
    want_select = n_select if n_select is not None else len(dev) // 2
    for g in (order[i] for i in rng.permutation(len(order))):
        (select_idx if len(select_idx) < want_select else pool).extend(g)
    select_idx = select_idx[:want_select]
    eval_idx = sorted(pool[: n_eval if n_eval is not None else len(pool)])
    if not len(train_idx) or not select_idx or not eval_idx:
        raise ValueError(f"empty split: {len(train_idx)} train, {len(select_idx)} select, {len(eval_idx)} eval items "
                         f"(dev has {len(dev)} items, test {len(test)})")
    by_lang = {lang: (dev if lang == train_lang else load(lang, "dev")).select(eval_idx) for lang in languages}
    check_aligned(by_lang)
    splits = TaskSplits(test.select(sorted(train_idx)), dev.select(sorted(select_idx)), by_lang, "noleak")
    splits.info = {"n_train": len(train_idx), "n_select": len(select_idx), "n_eval": len(eval_idx),
                   "train_split": "test", "select_split": "dev", "eval_split": "dev", "seed": seed}
    return splits


def xnli_noleak_splits(root: PathLike | None, *, n_train: int | None, n_select: int | None, n_eval: int | None,
                       seed: int, languages: Sequence[str] = ("en", "sw", "ur"), train_lang: str = "en") -> TaskSplits:
    """The no-leak small XNLI protocol on a local myXNLI-layout folder (or the hub when ``root`` is None)."""
    return noleak_splits(lambda lang, split: load_task("xnli", lang, split, data_dir=root), train_lang=train_lang,
                         languages=list(languages), n_train=n_train, n_select=n_select, n_eval=n_eval, seed=seed)


def standard_splits(load: Callable[[str, str], "datasets.Dataset"], *, train_lang: str, languages: Sequence[str],
                    n_train: int | None = None, n_select: int | None = None, n_eval: int | None = None,
                    seed: int = 0) -> TaskSplits:
    """The usual zero-shot protocol: train on ``train_lang`` train, select on its dev, evaluate on test."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def head(ds, n):
        return ds if n is None or n >= len(ds) else ds.select(sorted(rng.permutation(len(ds))[:n]))

    train, select = head(load(train_lang, "train"), n_train), head(load(train_lang, "dev"), n_select)
    full = {lang: load(lang, "test") for lang in languages}
    first = next(iter(full.values()))
    keep = None if n_eval is None or n_eval >= len(first) else sorted(rng.permutation(len(first))[:n_eval])
    by_lang = {lang: ds if keep is None else ds.select(keep) for lang, ds in full.items()}
    try:
        check_aligned(by_lang)
        aligned = True
    except ValueError:
        aligned = False
    return TaskSplits(train, select, by_lang, "standard", {"n_train": len(train), "n_select": len(select),
                                                           "n_eval": len(first) if keep is None else len(keep),
                                                           "aligned": aligned, "seed": seed})


def generalized_pairs(by_lang: dict[str, "datasets.Dataset"], lang1: str, lang2: str) -> "datasets.Dataset":
    """Sentence 1 from ``lang1`` and sentence 2 from ``lang2`` of item-aligned data (same labels, ids)."""
    a, b = by_lang[lang1], by_lang[lang2]
    check_aligned({lang1: a, lang2: b})
    return make_dataset(a["sentence1"], b["sentence2"], a["label"], a["item_id"], a.features["label"].names)
