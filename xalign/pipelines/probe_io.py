"""Writing a probe run directory (all at once: a failed run leaves no half-written directory)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xalign.io import atomic_path, write_csv, write_json

if TYPE_CHECKING:  # pragma: no cover
    from xalign.pipelines.probe import ProbeResult

logger = logging.getLogger(__name__)

CSV_FIELDS = ["pair", "layer", "metric", "value", "ci95_lo", "ci95_hi"]


def metrics_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Long-format rows of ``metrics.json``: one per (pair, layer, metric); CIs beside their value."""
    from xalign.pipelines.probe import flat_metrics

    rows = []
    for pair, block in metrics["pairs"].items():
        for entry in block["layers"]:
            flat = flat_metrics(entry)
            for key, value in flat.items():
                if "_ci95" in key:
                    continue
                lo, hi = _ci_of(entry, key)
                rows.append({"pair": pair, "layer": entry["layer"], "metric": key, "value": value,
                             "ci95_lo": lo, "ci95_hi": hi})
    return rows


def _ci_of(entry: dict[str, Any], key: str) -> tuple[float | None, float | None]:
    """The ``<leaf>_ci95`` pair stored beside a value, if any."""
    node: Any = entry
    *path, leaf = key.split(".")
    for part in path:
        node = node.get(part, {}) if isinstance(node, dict) else {}
    ci = node.get(f"{leaf}_ci95") if isinstance(node, dict) else None
    return (ci[0], ci[1]) if isinstance(ci, list) and len(ci) == 2 else (None, None)


def write_probe_run(result: "ProbeResult", out_dir: str | Path, *, report: bool = True) -> Path:
    """Write ``manifest.json``, ``metrics.json``, ``metrics.csv``, ``details.json``,
    ``embeddings/<pair>/{<lang>.npy,texts.json}`` and (optionally) ``report.html`` into ``out_dir``."""
    target = Path(out_dir)
    metrics = result.metrics()
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
        write_csv(tmp / "metrics.csv", metrics_rows(metrics), CSV_FIELDS)
        write_json(tmp / "metrics.json", metrics)
        if report:
            try:
                from xalign.report import write_report

                write_report(tmp)
            except ImportError as exc:  # plotly or umap missing: the numbers are still written
                logger.warning("report skipped: %s", exc)
    return target
