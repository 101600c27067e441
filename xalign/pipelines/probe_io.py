"""Writing a probe run directory (all at once: a failed run leaves no half-written directory), and the
checks on ``--out`` made before any model loads."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xalign.errors import OutputError
from xalign.io import atomic_path, write_json
from xalign.results.json_io import write_probe_metrics

if TYPE_CHECKING:  # pragma: no cover
    from xalign.pipelines.probe import ProbeResult

logger = logging.getLogger(__name__)

#: a temporary of ours older than this is left over by a killed run (a live run writes within seconds)
STALE_AFTER_S = 60.0


def check_output(out_dir: str | Path) -> Path:
    """Refuse, before any work, an ``--out`` that cannot become a run folder: the current folder or one
    above it, an existing non-folder, or a place that cannot be written."""
    target = Path(out_dir)
    resolved = target.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents or not target.name or target.name in (".", ".."):
        raise OutputError(f"--out {out_dir}: expected a new or earlier run folder, got the current folder or one "
                          "above it (a run replaces its folder); name a subfolder such as runs/en-sw")
    if target.exists() and not target.is_dir():
        raise OutputError(f"--out {out_dir}: expected a folder, found a file of another kind; choose another --out")
    parent = next((p for p in [resolved.parent, *resolved.parent.parents] if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"--out {out_dir}: cannot create it: {parent} is not a writable folder")
    return target


def clean_stale_temporaries(target: Path, *, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove temporaries an interrupted write into ``target`` left beside it (``.<name>.*.tmp`` folders
    and ``.<name>.old``, as :func:`xalign.io.atomic_path` names them) once they are ``older_than_s``."""
    removed = []
    if not target.parent.is_dir():
        return removed
    now = time.time()
    for path in target.parent.glob(f".{target.name}.*"):
        ours = (path.name.endswith(".tmp") or path.name == f".{target.name}.old") and path.is_dir()
        if ours and not path.is_symlink() and now - path.stat().st_mtime >= older_than_s:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        logger.info("removed %d stale temporary folder(s) of an interrupted run beside %s", len(removed), target)
    return removed


def write_probe_run(result: "ProbeResult", out_dir: str | Path, *, report: bool = True) -> Path:
    """Write ``manifest.json``, ``metrics.json``, ``metrics.csv``, ``details.json``,
    ``embeddings/<pair>/{<lang>.npy,texts.json}`` and (optionally) ``report.html`` into ``out_dir``."""
    target = Path(out_dir)
    clean_stale_temporaries(target)
    with atomic_path(target) as tmp:
        tmp.mkdir(parents=True)
        write_json(tmp / "manifest.json", result.manifest)
        for pair, res in result.pairs.items():
            emb = tmp / "embeddings" / pair
            emb.mkdir(parents=True)
            np.save(emb / f"{res.src_lang}.npy", res.src_vectors.astype(np.float32))
            np.save(emb / f"{res.tgt_lang}.npy", res.tgt_vectors.astype(np.float32))
            write_json(emb / "texts.json", {"src_lang": res.src_lang, "tgt_lang": res.tgt_lang,
                                            "src": res.src_texts, "tgt": res.tgt_texts})
        write_json(tmp / "details.json", result.details())
        write_probe_metrics(tmp, result.typed)
        if report:
            try:
                from xalign.report import write_report

                write_report(tmp)
            except ImportError as exc:  # plotly or umap missing: the numbers are still written
                logger.warning("report skipped: %s", exc)
    return target
