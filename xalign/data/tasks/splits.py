"""Protocols: which items a run trains on, selects its checkpoint on, and is evaluated on.

* :func:`standard_splits` — the zero-shot protocol (XTREME, Robust-XLT): train in one language (a split of
  the task or any file), select on its dev items, evaluate on the test (and/or dev) split of every language.
  With ``"dev"`` among the evaluation splits, the dev items are halved (grouped by the training-language
  sentence 1, so no premise is shared): selection uses one half, dev evaluation the other, so no reported item
  is a translation of a selection item.
* :func:`noleak_splits` — train on test items, select and evaluate on disjoint dev items (for copies that
  have no train split).

Items are matched across languages by item id. A language keeps the items it has (rows with an empty or
``NS`` sentence were dropped by the reader and are counted in ``info["dropped"]``): zero-shot accuracy is
over a language's own kept items; the generalized set (:class:`GeneralizedSet`) uses the items that *every*
one of its languages kept, the same items in every cell. Subsamples are drawn with ``data_seed``, so every
model trained on the same data sees the same items.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.data.tasks.spec import make_dataset
from xalign.errors import ConfigError, DataError

if TYPE_CHECKING:  # pragma: no cover
    import datasets

logger = logging.getLogger(__name__)

Loader = Callable[[str, str], "tuple[datasets.Dataset, int]"]


@dataclass
class GeneralizedSet:
    """Item-aligned data for the l1 × l2 matrix: ``by_lang[l]`` holds the same item ids in the same order."""

    split: str
    languages: list[str]
    by_lang: dict[str, "datasets.Dataset"]

    @property
    def n(self) -> int:
        return len(next(iter(self.by_lang.values())))


@dataclass
class TaskSplits:
    """Train / selection / evaluation data of one run.

    ``eval`` is the main evaluation split (``{lang: dataset}``), ``eval_sets`` every evaluation split
    (``{split: {lang: dataset}}``), ``generalized`` the item-aligned set for the l1 × l2 matrix."""

    train: "datasets.Dataset"
    select: "datasets.Dataset"
    eval: dict[str, "datasets.Dataset"]
    protocol: str
    info: dict[str, Any] = field(default_factory=dict)
    eval_sets: dict[str, dict[str, "datasets.Dataset"]] = field(default_factory=dict)
    generalized: GeneralizedSet | None = None

    def __post_init__(self) -> None:
        if not self.eval_sets:
            self.eval_sets = {self.info.get("eval_split", "eval"): self.eval}

    @property
    def text_columns(self) -> tuple[str, ...]:
        """``("sentence1",)`` for a one-sentence task, ``("sentence1", "sentence2")`` for a pair task."""
        return tuple(c for c in ("sentence1", "sentence2") if c in self.train.column_names)

    def fingerprint(self) -> dict[str, Any]:
        """Sizes and sha256 of the texts+labels and of the item ids of every split (for manifests)."""
        out = {"protocol": self.protocol, "info": self.info, "train": dataset_fingerprint(self.train),
               "select": dataset_fingerprint(self.select),
               "eval": {k: dataset_fingerprint(v) for k, v in self.eval.items()},
               "eval_sets": {s: {k: dataset_fingerprint(v) for k, v in d.items()} for s, d in self.eval_sets.items()}}
        if self.generalized is not None:
            out["generalized"] = {"split": self.generalized.split, "languages": self.generalized.languages,
                                  "n": self.generalized.n,
                                  "item_ids_sha256": ids_sha256(next(iter(self.generalized.by_lang.values())))}
        return out


def ids_sha256(ds: "datasets.Dataset") -> str:
    from xalign.io import sha256_texts

    return sha256_texts(ds["item_id"][:])


def dataset_fingerprint(ds: "datasets.Dataset") -> dict[str, Any]:
    from xalign.io import sha256_texts

    texts = [ds["sentence1"][:], *([ds["sentence2"][:]] if "sentence2" in ds.column_names else [])]
    rows = ("\t".join((*t, str(y))) for *t, y in zip(*texts, ds["label"][:]))
    return {"n": len(ds), "sha256": sha256_texts(rows), "item_ids_sha256": ids_sha256(ds)}


def check_aligned(by_lang: Mapping[str, "datasets.Dataset"]) -> None:
    """``DataError`` unless all datasets have the same item ids (in order) and the same labels."""
    langs = list(by_lang)
    ref = by_lang[langs[0]]
    for lang in langs[1:]:
        other = by_lang[lang]
        if other["item_id"][:] != ref["item_id"][:]:
            raise DataError(f"{lang} and {langs[0]} data are not item-aligned (different item ids or order)")
        if other["label"][:] != ref["label"][:]:
            raise DataError(f"{lang} and {langs[0]} data disagree on labels for the same items")


def select_ids(ds: "datasets.Dataset", ids: Sequence[str]) -> "datasets.Dataset":
    """The rows of ``ds`` with item ``ids`` (in that order); ids ``ds`` lacks are an error."""
    where = {x: i for i, x in enumerate(ds["item_id"][:])}
    missing = [x for x in ids if x not in where]
    if missing:
        raise DataError(f"{len(missing)} item id(s) missing, e.g. {missing[0]!r}")
    return ds.select([where[x] for x in ids])


def restrict(ds: "datasets.Dataset", keep: set[str]) -> "datasets.Dataset":
    """The rows of ``ds`` whose item id is in ``keep``, in ``ds`` order."""
    return ds.select([i for i, x in enumerate(ds["item_id"][:]) if x in keep])


def subsample(ids: Sequence[str], n: int | None, rng: np.random.Generator) -> list[str]:
    """``n`` of ``ids`` drawn without replacement by ``rng``, returned in their original order."""
    if n is None or n >= len(ids):
        return list(ids)
    keep = np.sort(rng.permutation(len(ids))[:n])
    return [ids[i] for i in keep]


def halve_by_group(ds: "datasets.Dataset", rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Split the items of ``ds`` into two halves (by count) so that no sentence 1 falls in both."""
    groups: dict[str, list[str]] = {}
    for s1, item in zip(ds["sentence1"][:], ds["item_id"][:]):
        groups.setdefault(s1, []).append(item)
    order = [groups[k] for k in sorted(groups)]
    first: list[str] = []
    second: list[str] = []
    for g in (order[i] for i in rng.permutation(len(order))):
        (first if len(first) < len(ds) // 2 else second).extend(g)
    pos = {x: i for i, x in enumerate(ds["item_id"][:])}
    return sorted(first, key=pos.__getitem__), sorted(second, key=pos.__getitem__)


def generalized_set(eval_sets: Mapping[str, Mapping[str, "datasets.Dataset"]], languages: Sequence[str] | None, *,
                    split: str | None = None, n: int | None = None, rng: np.random.Generator) -> GeneralizedSet:
    """The items every language of ``languages`` kept in ``split`` (default: the first evaluation split that
    has them all), optionally a subsample of ``n``; same ids, same order in every language."""
    candidates = [split] if split else list(eval_sets)
    for s in candidates:
        if s not in eval_sets:
            raise ConfigError(f"generalized split {s!r} is not evaluated: evaluation splits are {list(eval_sets)}")
        langs = list(languages) if languages else list(eval_sets[s])
        if all(lang in eval_sets[s] for lang in langs):
            break
    else:
        have = {s: sorted(d) for s, d in eval_sets.items()}
        raise ConfigError(f"no evaluation split has every generalized language {list(languages or [])}: {have}")
    if len(langs) < 2:
        raise ConfigError(f"the generalized setting needs at least 2 languages, got {langs}")
    data = eval_sets[s]
    common = set(data[langs[0]]["item_id"][:])
    for lang in langs[1:]:
        common &= set(data[lang]["item_id"][:])
    ordered = [x for x in data[langs[0]]["item_id"][:] if x in common]
    ids = subsample(ordered, n, rng)
    if not ids:
        raise DataError(f"the generalized languages {langs} share no item in the {s} split")
    by_lang = {lang: select_ids(data[lang], ids) for lang in langs}
    check_aligned(by_lang)
    lost = {lang: len(data[lang]) - len(ordered) for lang in langs}
    logger.info("generalized set: %d items of the %s split in %s (items another language lacks: %s)", len(ids), s,
                ", ".join(langs), lost)
    return GeneralizedSet(s, langs, by_lang)


def standard_splits(load: Loader, *, train_lang: str, languages: Mapping[str, Sequence[str]],
                    train: "datasets.Dataset | None" = None, n_train: int | None = None,
                    n_select: int | None = None, n_eval: int | None = None, seed: int = 0,
                    data_seed: int | None = None) -> TaskSplits:
    """The zero-shot protocol (see the module docstring).

    ``load(lang, split)`` gives ``(dataset, rows dropped)``; ``languages`` maps each evaluation split (in
    order; the first is the main one) to its languages; ``train`` is a training set read from a file (else
    ``load(train_lang, "train")``). ``n_*`` subsample with ``data_seed`` (default ``seed``)."""
    if not languages:
        raise ConfigError("give at least one evaluation split")
    # one generator per purpose, so that e.g. another n_train leaves the dev halves and eval items unchanged
    base = seed if data_seed is None else data_seed
    rng_train, rng_dev, rng_select = (np.random.default_rng([base, k]) for k in range(3))
    if train is None:
        train = load(train_lang, "train")[0]
    if n_train and n_train < len(train):
        train = train.select(sorted(rng_train.permutation(len(train))[:n_train]))
    dev, dev_dropped = load(train_lang, "dev")
    if "dev" in languages:
        select_pool, dev_eval = halve_by_group(dev, rng_dev)
    else:
        select_pool, dev_eval = dev["item_id"][:], []
    select = select_ids(dev, subsample(select_pool, n_select, rng_select))
    eval_sets: dict[str, dict[str, Any]] = {}
    dropped: dict[str, dict[str, int]] = {}
    for split, langs in languages.items():
        loaded = {}
        dropped[split] = {}
        for lang in langs:
            loaded[lang], dropped[split][lang] = (dev, dev_dropped) if (lang, split) == (train_lang, "dev") \
                else load(lang, split)
        universe: list[str] = []
        seen: set[str] = set()
        for ds in loaded.values():
            for x in ds["item_id"][:]:
                if x not in seen:
                    seen.add(x)
                    universe.append(x)
        if split == "dev":
            allowed = set(dev_eval)
            universe = [x for x in universe if x in allowed]
        keep = set(subsample(universe, n_eval, np.random.default_rng([base, 3, len(eval_sets)])))
        eval_sets[split] = {lang: restrict(ds, keep) for lang, ds in loaded.items()}
        for lang, ds in eval_sets[split].items():
            if len(ds) == 0:
                raise DataError(f"no {split} items left for {lang} (after dropping bad rows and subsampling)")
    main = next(iter(eval_sets))
    info = {"n_train": len(train), "n_select": len(select), "train_lang": train_lang, "eval_split": main,
            "eval_splits": list(eval_sets), "n_eval": {s: {k: len(v) for k, v in d.items()} for s, d in eval_sets.items()},
            "dropped": dropped, "seed": seed, "data_seed": seed if data_seed is None else data_seed,
            "select_split": "dev" + (" (half A; dev evaluation on half B)" if "dev" in languages else ""),
            "select_ids": select["item_id"][:]}
    return TaskSplits(train, select, eval_sets[main], "standard", info, eval_sets)


def noleak_splits(load: Callable[[str, str], "datasets.Dataset"], *, train_lang: str, languages: Sequence[str],
                  n_train: int | None, n_select: int | None, n_eval: int | None, seed: int) -> TaskSplits:
    """Train on ``train_lang`` **test** items, select on ``train_lang`` dev items, evaluate on the
    translations of the *other* dev items (``load(lang, split)`` gives a dataset of that split).

    Dev items are split by premise (sentence 1 of ``train_lang``), so no premise is shared between the
    selection and the evaluation items. ``None`` sizes mean "all that is available"."""
    rng = np.random.default_rng(seed)
    test = load(train_lang, "test")
    train_idx = rng.permutation(len(test))[: n_train if n_train is not None else len(test)]
    dev = load(train_lang, "dev")
    groups: dict[str, list[int]] = {}
    for i, premise in enumerate(dev["sentence1"][:]):
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
        raise DataError(f"empty split: {len(train_idx)} train, {len(select_idx)} select, {len(eval_idx)} eval items "
                        f"(dev has {len(dev)} items, test {len(test)})")
    keep = {dev["item_id"][i] for i in eval_idx}
    by_lang = {lang: restrict(dev if lang == train_lang else load(lang, "dev"), keep) for lang in languages}
    info = {"n_train": len(train_idx), "n_select": len(select_idx), "n_eval": len(eval_idx), "train_split": "test",
            "select_split": "dev", "eval_split": "dev", "seed": seed}
    return TaskSplits(test.select(sorted(train_idx)), dev.select(sorted(select_idx)), by_lang, "noleak", info,
                      {"dev": by_lang})


def generalized_pairs(by_lang: Mapping[str, "datasets.Dataset"], lang1: str, lang2: str) -> "datasets.Dataset":
    """Sentence 1 from ``lang1`` and sentence 2 from ``lang2`` of item-aligned data (same labels, ids)."""
    a, b = by_lang[lang1], by_lang[lang2]
    if "sentence2" not in a.column_names:
        raise ConfigError("the generalized setting (sentence 1 in one language, sentence 2 in another) needs a "
                          "sentence-pair task; this one has one sentence")
    check_aligned({lang1: a, lang2: b})
    return make_dataset(a["sentence1"][:], b["sentence2"][:], a["label"][:], a["item_id"][:],
                        a.features["label"].names)


def xnli_noleak_splits(root, *, n_train: int | None, n_select: int | None, n_eval: int | None, seed: int,
                       languages: Sequence[str] = ("en", "sw", "ur"), train_lang: str = "en") -> TaskSplits:
    """The no-leak small XNLI protocol on a local copy (any layout; the hub when ``root`` is None)."""
    from xalign.data.tasks import load_task

    return noleak_splits(lambda lang, split: load_task("xnli", lang, split, data_dir=root), train_lang=train_lang,
                         languages=list(languages), n_train=n_train, n_select=n_select, n_eval=n_eval, seed=seed)
