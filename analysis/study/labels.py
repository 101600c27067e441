"""Gold labels of the study's evaluation items, so that per-class recall can be read from the units.

A unit stores per-item correctness, not predictions. With the gold label of each item, correctness gives each
class's recall exactly (recall of c = accuracy on the items whose label is c), and a class whose recall is near
0 is one the model almost never predicts where it should (a partial collapse). Units written from now on carry
their ``labels`` block; for the units that predate it, ``analysis/results/<task>/labels.json`` holds the same
block, derived once from the shared data by ``python -m analysis.study --labels`` with the same item selection
as training (the data seed), and checked against every unit's recorded item-id digests, so a file that does not
match the units is refused rather than used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analysis.study.design import Design


def labels_path(results_dir: Path, task: str) -> Path:
    return Path(results_dir) / task / "labels.json"


def labels_block(splits: Any) -> dict[str, Any]:
    """``{"label_names", "splits": {split: {"labels": "0121…", "item_ids_sha256": {lang: hex}}}, "generalized":
    {...}}`` from a run's :class:`~xalign.data.tasks.splits.TaskSplits`; labels are one digit per item (the class
    index), the same in every language (the data are item-aligned; a language whose labels differ is an error)."""
    from xalign.data.tasks.splits import ids_sha256

    def one(by_lang: dict[str, Any], where: str) -> tuple[str, dict[str, str], list[str]]:
        labs = {lang: "".join(str(int(x)) for x in ds["label"]) for lang, ds in by_lang.items()}
        if len(set(labs.values())) != 1:
            raise ValueError(f"{where}: the languages' gold labels differ item by item; expected item-aligned data")
        first = next(iter(by_lang.values()))
        return next(iter(labs.values())), {lang: ids_sha256(ds) for lang, ds in by_lang.items()}, \
            list(first.features["label"].names)

    out: dict[str, Any] = {"splits": {}}
    for split, by_lang in splits.eval_sets.items():
        labs, ids, names = one(by_lang, f"split {split}")
        out["splits"][split] = {"labels": labs, "item_ids_sha256": ids}
        out["label_names"] = names
    if splits.generalized is not None:
        g = splits.generalized
        labs, ids, _ = one(g.by_lang, "generalized set")
        out["generalized"] = {"split": g.split, "languages": list(g.languages), "labels": labs,
                              "item_ids_sha256": ids[g.languages[0]]}
    return out


def unit_labels(train_config: dict[str, Any]) -> dict[str, Any]:
    """The labels block of a run's evaluation items (reads the prepared data, trains nothing)."""
    from xalign.pipelines.train.config import TrainConfig
    from xalign.pipelines.train.data import load_splits

    return labels_block(load_splits(TrainConfig(**train_config)))


def mismatches(block: dict[str, Any], rec: dict[str, Any]) -> list[str]:
    """Where ``block`` does not describe the items unit ``rec`` was evaluated on (item-id digests differ)."""
    out = []
    for split, ev in rec.get("eval", {}).get("splits", {}).items():
        mine = block.get("splits", {}).get(split, {}).get("item_ids_sha256", {})
        out += [f"{split}:{lang}" for lang, h in ev.get("item_ids_sha256", {}).items() if mine.get(lang) != h]
    gen = rec.get("eval", {}).get("generalized")
    if gen and block.get("generalized", {}).get("item_ids_sha256") != gen.get("item_ids_sha256"):
        out.append("generalized")
    return out


def labels_for(rec: dict[str, Any], files: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The unit's own labels block, else its task's ``labels.json`` when that matches the unit's items."""
    if rec.get("labels"):
        return rec["labels"]
    block = files.get(rec["unit"]["task"])
    return block if block is not None and not mismatches(block, rec) else None


def load_label_files(results_dir: Path) -> dict[str, dict[str, Any]]:
    """``{task: labels block}`` of the ``<task>/labels.json`` files present."""
    return {p.parent.name: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(Path(results_dir).glob("*/labels.json"))}


def write_label_files(design: Design, results: dict, results_dir: Path, data_root: Path, work: Path) -> list[Path]:
    """Derive ``<task>/labels.json`` for each task with units (from the first trained unit's config, the data
    prepared as the units prepared it), refusing when any unit's items differ."""
    from analysis.study.evaldata import prepare_task_data
    from xalign.io import write_json

    written = []
    for task in sorted({t for (t, _, s) in results if s is not None}):
        first = next(rec for (t, _, s), rec in sorted(results.items(), key=str) if t == task and s is not None)
        data_dir = work / "data" / f"{design.scale}-{task}"
        prepare_task_data(design, task, data_root, data_dir)
        kw = {**first["train_config"], "data_dir": str(data_dir), "out": str(work / "labels-out" / task),
              "train_file": str(data_root / design.tasks[task].train_file)}
        block = unit_labels(kw)
        bad = {f"{m}/{s}": mismatches(block, rec) for (t, m, s), rec in results.items() if t == task and s is not None}
        bad = {k: v for k, v in bad.items() if v}
        if bad:
            raise ValueError(f"{task}: the derived items do not match units {sorted(bad)[:3]} ({bad[sorted(bad)[0]][:3]})")
        block["source"] = ("derived by `python -m analysis.study --labels` from the shared data with the units' "
                           "data seed; item-id digests checked against every unit")
        path = labels_path(results_dir, task)
        write_json(path, block)
        written.append(path)
    return written
