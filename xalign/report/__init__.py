"""Self-contained offline HTML reports of probe, compare and train runs.

``write_report(run_dir)`` reads the run directory (it recomputes no metric) and writes one HTML
file with plotly.js embedded once: layer curves with CIs, CKA heatmaps, embedding maps with a
layer slider, similarity distributions, word alignments, a summary of the run manifest; before/after
views for comparisons; loss and accuracy views for training.

Modules: :mod:`~xalign.report.loaders` (reading), :mod:`~xalign.report.projection` (2-D maps),
:mod:`~xalign.report.figures` / ``figures_compare`` / ``figures_train`` / ``maps`` (one function
per figure), :mod:`~xalign.report.tables`, :mod:`~xalign.report.page` (the page writer),
:mod:`~xalign.report.build` (which sections a run gets), :mod:`~xalign.report.png` (optional PNGs).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["write_report", "render_report", "report_sections"]


def report_sections(run_dir: str | Path, *, layer: int | None = None, max_points: int = 1000,
                    projection: str = "auto", seed: int | None = None) -> tuple[str, str, list[Any]]:
    """``(title, subtitle, sections)`` of the report for ``run_dir`` (probe, compare or train)."""
    from xalign.report.build import ReportOptions, compare_sections, probe_sections, train_sections
    from xalign.report.loaders import detect_kind, load_compare_run, load_probe_run, load_train_run

    opts = ReportOptions(layer=layer, max_points=max_points, projection=projection, seed=seed)
    kind = detect_kind(run_dir)
    if kind == "compare":
        run = load_compare_run(run_dir)
        labels = [str(m["label"]) for m in run.compare["models"]]
        names = [str(m.get("name", m["label"])) for m in run.compare["models"]]
        pairs = ", ".join(run.compare.get("pairs") or {})
        return f"xalign compare: {' vs '.join(labels)}", f"{' / '.join(names)} · {pairs}", compare_sections(run, opts)
    if kind == "train":
        trun = load_train_run(run_dir)
        doc = trun.train
        return (f"xalign train: {doc.get('method', '')} on {doc.get('task', '')}",
                str(Path(run_dir).resolve().name), train_sections(trun, opts))
    prun = load_probe_run(run_dir)
    model = prun.manifest.get("model") if isinstance(prun.manifest.get("model"), dict) else {}
    subtitle = " · ".join(str(x) for x in (model.get("name"), prun.manifest.get("preset"),
                                           ", ".join(prun.pairs), prun.manifest.get("created")) if x)
    return f"xalign probe: {model.get('name', Path(run_dir).name)}", subtitle, probe_sections(prun, opts)


def render_report(run_dir: str | Path, **options: Any) -> str:
    """The report of ``run_dir`` as an HTML string (options as in :func:`write_report`, minus out/png)."""
    from xalign.report.page import render_page

    title, subtitle, sections = report_sections(run_dir, **options)
    return render_page(title, sections, subtitle=subtitle)


def _figures(sections: list[Any]) -> list[Any]:
    import plotly.graph_objects as go

    from xalign.report.page import Row

    out: list[Any] = []

    def visit(block: Any) -> None:
        if isinstance(block, go.Figure):
            out.append(block)
        elif isinstance(block, Row):
            for inner in block.blocks:
                visit(inner)

    for section in sections:
        for block in section.blocks:
            visit(block)
    return out


def write_report(run_dir: str | Path, *, out: str | Path | None = None, layer: int | None = None,
                 max_points: int = 1000, projection: str = "auto", seed: int | None = None,
                 png: bool = False) -> Path:
    """Write the self-contained HTML report of a probe, compare or train run directory.

    ``out`` defaults to ``run_dir/report.html``. ``layer``: the layer sliders and tables show
    first (default: the best P@1 layer); ``max_points``: sentences per language in embedding
    maps (a seeded subsample); ``projection``: "auto" (UMAP, PCA below 40 points or without
    umap-learn), "umap" or "pca"; ``seed``: defaults to the run's seed. ``png=True`` also writes
    each figure to ``<out stem>_png/`` (needs kaleido and Chrome/Chromium). Written atomically.
    """
    from xalign.io import check_output, final_path
    from xalign.report.page import render_page, write_page

    t0 = time.perf_counter()
    root = Path(run_dir)
    target = Path(out) if out is not None else root / "report.html"
    check_output(target, kind="file", files="report")  # only an xalign report is replaced, never a run's own file
    title, subtitle, sections = report_sections(root, layer=layer, max_points=max_points,
                                                projection=projection, seed=seed)
    write_page(target, render_page(title, sections, subtitle=subtitle))
    logger.info("wrote %s (%.1f MB) in %.1fs", final_path(target), target.stat().st_size / 2**20,
                time.perf_counter() - t0)  # the path it has after a run's staging folder is swapped in
    if png:
        from xalign.report.png import export_png

        export_png(_figures(sections), target.with_name(f"{target.stem}_png"))
    return target
