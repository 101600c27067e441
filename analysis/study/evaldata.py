"""The study's fixed inputs: seeded evaluation subsamples (same rows in every language, for every model)
and the parallel sentences of the alignment probe. Written once into the work folder; hashed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from analysis.study.design import PAWSX_TEST_LANGS, Design

logger = logging.getLogger("study.data")
_BAD = {"", "NS"}


def _read_xtreme(path: Path) -> list[list[str]]:
    rows = [line.rstrip("\n").split("\t") for line in path.read_text(encoding="utf-8").rstrip("\n").split("\n")]
    return [r + [""] * (3 - len(r)) for r in rows]


def _read_xfinal(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").rstrip("\n").split("\n")[1:]  # header: id sentence1 sentence2 label
    return [(line.split("\t") + [""] * 4)[1:4] for line in lines]


def _sources(design: Design, task: str, data_root: Path) -> dict[str, dict[str, list[list[str]]]]:
    """``{split: {lang: rows}}`` of item-aligned rows ``[sentence1, sentence2, label]``."""
    t = design.tasks[task]
    if task == "xnli":
        return {split: {lang: _read_xtreme(data_root / "xnli_xtreme" / split / f"{split}-{lang}.tsv")
                        for lang in t.probe_langs} for split in ("dev", "test")}
    dev = {lang: _read_xtreme(data_root / "pawsx_xtreme" / "xtreme_dev" / f"dev-{lang}.tsv") for lang in t.probe_langs}
    test = {lang: _read_xfinal(data_root / "pawsx_xtreme" / "x_final" / lang / "test_2k.tsv")
            for lang in PAWSX_TEST_LANGS}
    return {"dev": dev, "test": test}


def _clean_rows(by_lang: dict[str, list[list[str]]], where: str) -> list[int]:
    """Rows whose sentences are non-empty and not "NS" in every language (the rest is dropped everywhere)."""
    n = {len(rows) for rows in by_lang.values()}
    if len(n) != 1:
        raise ValueError(f"{where}: languages have different row counts {sorted(n)}; expected item-aligned files")
    keep = [i for i in range(n.pop()) if all(r[i][0].strip() not in _BAD and r[i][1].strip() not in _BAD
                                             for r in by_lang.values())]
    return keep


def _sample(keep: list[int], n: int | None, seed: list[int]) -> list[int]:
    if n is None or n >= len(keep):
        return keep
    return sorted(np.random.default_rng(seed).choice(keep, size=n, replace=False).tolist())


def prepare_task_data(design: Design, task: str, data_root: Path, out_dir: Path) -> dict[str, Any]:
    """Write ``out_dir/{dev,test}/{split}-{lang}.tsv`` (XTREME layout, no header) with the seeded item
    subsample; returns ``{split: {"rows": [...], "dropped": n, "sha256": {lang: hex}}}``. Idempotent."""
    from xalign.io import sha256_file, write_text

    t = design.tasks[task]
    info: dict[str, Any] = {}
    for k, (split, by_lang) in enumerate(sorted(_sources(design, task, data_root).items())):
        keep = _clean_rows(by_lang, f"{task} {split}")
        n = t.n_dev if split == "dev" else t.n_eval
        rows = _sample(keep, n, [design.data_seed, 0 if task == "xnli" else 1, k])
        hashes = {}
        for lang, all_rows in by_lang.items():
            path = out_dir / split / f"{split}-{lang}.tsv"
            text = "".join("\t".join(all_rows[i][:3]) + "\n" for i in rows)
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                write_text(path, text)
            hashes[lang] = sha256_file(path)
        info[split] = {"rows": rows, "n": len(rows), "dropped_bad_rows": len(all_rows) - len(keep),
                       "sha256": hashes}
    return info


def probe_corpora(design: Design, task: str, data_root: Path) -> dict[str, dict[str, list[str]]]:
    """Parallel sentences for the probe: ``{corpus: {lang: sentences}}``, row i parallel across languages.

    The task's dev sentence-1 column in every probe language (one row per distinct English sentence 1,
    rows bad in any language dropped) and FLORES-200 en-sw from the package demo, each a seeded subsample
    of ``design.n_probe`` rows."""
    import xalign

    t = design.tasks[task]
    dev = _sources(design, task, data_root)["dev"]
    keep = _clean_rows(dev, f"{task} dev")
    seen: set[str] = set()
    first = []
    for i in keep:
        en = dev["en"][i][0]
        if en not in seen:
            seen.add(en)
            first.append(i)
    rows = _sample(first, design.n_probe, [design.data_seed, 2, 0 if task == "xnli" else 1])
    corpora = {f"{task}-dev": {lang: [dev[lang][i][0] for i in rows] for lang in t.probe_langs}}
    flores = xalign.load_parallel(pair=design.flores_pair)
    src, tgt = list(flores.src), list(flores.tgt)
    idx = _sample(list(range(len(src))), design.n_probe, [design.data_seed, 3])
    a, b = design.flores_pair.split("-")
    corpora[f"flores-{design.flores_pair}"] = {a: [src[i] for i in idx], b: [tgt[i] for i in idx]}
    return corpora


def corpora_hashes(corpora: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, Any]]:
    from xalign.io import sha256_texts

    return {name: {"n": len(next(iter(by_lang.values()))), "sha256": {lang: sha256_texts(t) for lang, t in by_lang.items()}}
            for name, by_lang in corpora.items()}
