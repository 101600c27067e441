"""Writing a probe run folder's files (into the staging folder :func:`xalign.io.claim_output_dir` gives the
probe, locked from the start and swapped in at the end: a failed run leaves no half-written folder), and the
checks on ``--out``."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xalign.io import write_json
from xalign.results.json_io import write_probe_metrics

if TYPE_CHECKING:  # pragma: no cover
    from xalign.pipelines.probe.result import ProbeResult

logger = logging.getLogger(__name__)


def check_output(out_dir: str | Path, command: str = "probe") -> Path:
    """Refuse, before any work, an ``--out`` that cannot become a ``command`` run folder (the safe-output policy
    of :func:`xalign.io.check_output`: the current folder or one above it, a file, a link or device, a folder
    holding files xalign did not write or another command's run)."""
    from xalign.io import check_not_busy, check_output as _check

    check_not_busy(out_dir)  # a run writing it now: say so before the work, not at the end
    return _check(out_dir, kind="dir", command=command)


def write_probe_files(result: "ProbeResult", tmp: Path, *, report: bool = True) -> None:
    """``manifest.json``, ``metrics.json``, ``metrics.csv``, ``details.json``,
    ``embeddings/<pair>/{<lang>.npy,texts.json}`` and (optionally) ``report.html`` into the folder ``tmp``."""
    tmp.mkdir(parents=True, exist_ok=True)
    write_json(tmp / "manifest.json", result.manifest)
    for pair, res in result.pairs.items():
        if not res.src_vectors.size:  # a many-language probe keeps no vectors
            continue
        emb = tmp / "embeddings" / pair
        emb.mkdir(parents=True)
        np.save(emb / f"{res.src_lang}.npy", res.src_vectors.astype(np.float32))
        np.save(emb / f"{res.tgt_lang}.npy", res.tgt_vectors.astype(np.float32))
        write_json(emb / "texts.json", {"src_lang": res.src_lang, "tgt_lang": res.tgt_lang,
                                        "src": res.src_texts, "tgt": res.tgt_texts})
    write_json(tmp / "details.json", result.details())
    write_probe_metrics(tmp, result.typed)
    if report:
        t0 = time.perf_counter()
        try:
            from xalign.report import write_report

            write_report(tmp)
        except ImportError as exc:  # plotly or umap missing: the numbers are still written
            logger.warning("report skipped: %s", exc)
        if isinstance(result.manifest.get("stage_seconds"), dict):
            result.manifest["stage_seconds"]["report"] = round(time.perf_counter() - t0, 2)
            write_json(tmp / "manifest.json", result.manifest)
