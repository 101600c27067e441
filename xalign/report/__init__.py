"""Self-contained offline HTML reports of probe, compare and train runs.

``write_report(run_dir)`` reads the run directory (it recomputes no metric) and writes one HTML
file with plotly.js embedded once: layer curves with CIs, CKA heatmaps, embedding maps with a
layer slider, similarity distributions, word alignments, a summary of the run manifest; before/after
views for comparisons; loss and accuracy views for training; for runs over many languages (the
205 of SIB-200) the atlas: languages × layers, ranked languages, per-language Δ, accuracy vs alignment.

Modules: :mod:`~xalign.report.loaders` (reading typed results), :mod:`~xalign.report.projection`
(2-D maps) and :mod:`~xalign.report.cache` (their cache), :mod:`~xalign.report.figures` /
``figures_compare`` / ``figures_train`` / ``figures_atlas`` / ``maps`` (one function per figure),
:mod:`~xalign.report.tables`, :mod:`~xalign.report.page` (the page writer), ``build`` /
``build_compare`` / ``build_train`` / ``build_atlas`` (which sections a run gets),
:mod:`~xalign.report.langmeta` (language names, scripts, families), :mod:`~xalign.report.png` (PNGs).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["write_report", "render_report", "report_sections"]


def _pairs_text(pairs: list[str]) -> str:
    return ", ".join(pairs) if len(pairs) <= 6 else f"{len(pairs)} pairs ({', '.join(pairs[:3])} … {pairs[-1]})"


def _task_accuracy(train_dir: str | Path) -> Any:
    from xalign.errors import DataError
    from xalign.report.build_train import chance_level
    from xalign.report.loaders import load_train_run
    from xalign.report.options import TaskAccuracy

    trun = load_train_run(train_dir, embeddings=False)
    ev = trun.train.get("eval")
    if not isinstance(ev, dict) or not isinstance(ev.get("accuracy"), dict):
        raise DataError(f"{Path(train_dir) / 'train_metrics.json'}: expected eval.accuracy per language, found none")
    return TaskAccuracy(eval=ev, chance=chance_level(trun.train), source=str(train_dir))


def report_sections(run_dir: str | Path, *, layer: int | None = None, max_points: int = 1000,
                    projection: str = "auto", seed: int | None = None, cache: bool = True,
                    train: str | Path | None = None) -> tuple[str, str, list[Any]]:
    """``(title, subtitle, sections)`` of the report for ``run_dir`` (probe, compare or train); ``train``: a
    train run folder whose per-language accuracy a probe report draws against alignment."""
    from xalign.report.build import probe_sections
    from xalign.report.build_compare import compare_sections
    from xalign.report.build_train import train_sections
    from xalign.report.build_atlas import is_atlas
    from xalign.report.loaders import (detect_kind, load_compare_run, load_probe_run, load_run_embeddings,
                                       load_train_run)
    from xalign.report.options import ReportOptions

    opts = ReportOptions(layer=layer, max_points=max_points, projection=projection, seed=seed, cache=cache)
    kind = detect_kind(run_dir)
    if train is not None and kind != "probe":
        from xalign.errors import ConfigError

        raise ConfigError(f"--train draws a train run's accuracy against a probe's alignment; {run_dir} is a "
                          f"{kind} run, not a probe run")
    task = _task_accuracy(train) if train is not None else None
    if kind == "compare":
        run = load_compare_run(run_dir, embeddings=False)
        if not is_atlas(run.comparison):  # an atlas draws no maps: its embeddings are never opened
            for sub in run.models.values():
                if sub is not None:
                    sub.embeddings = load_run_embeddings(sub.path, sub.metrics)
        names = [str(m.get("name", m["label"])) for m in run.comparison.models]
        return (f"xalign compare: {' vs '.join(run.labels)}",
                f"{' / '.join(names)} · {_pairs_text(list(run.comparison.pairs))}", compare_sections(run, opts))
    if kind == "train":
        trun = load_train_run(run_dir, embeddings=False)
        if trun.probe is not None and not is_atlas(trun.probe.metrics):
            trun.probe.embeddings = load_run_embeddings(trun.probe.path, trun.probe.metrics)
        doc = trun.train
        return (f"xalign train: {doc.get('method', '')} on {doc.get('task', '')}",
                str(Path(run_dir).resolve().name), train_sections(trun, opts))
    prun = load_probe_run(run_dir, embeddings=False)
    if not is_atlas(prun.metrics):
        prun.embeddings = load_run_embeddings(prun.path, prun.metrics)
    model = prun.manifest.get("model") if isinstance(prun.manifest.get("model"), dict) else {}
    subtitle = " · ".join(str(x) for x in (model.get("name"), prun.manifest.get("preset"),
                                           _pairs_text(list(prun.pairs)), prun.manifest.get("created")) if x)
    return f"xalign probe: {model.get('name', Path(run_dir).name)}", subtitle, probe_sections(prun, opts, task=task)


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
                 png: bool = False, cache: bool = True, train: str | Path | None = None) -> Path:
    """Write the self-contained HTML report of a probe, compare or train run directory.

    ``out`` defaults to ``run_dir/report.html``. ``layer``: the layer sliders and tables show
    first (default: the best P@1 layer); ``max_points``: sentences per language in embedding
    maps (a seeded subsample); ``projection``: "auto" (PCA, instant), "umap" (UMAP; PCA below 40
    points) or "pca"; ``seed``: defaults to the run's seed. ``cache``: keep projections in
    ``run_dir/report_cache/`` (keyed by a hash of their inputs) and reuse them. ``png=True`` also
    writes each figure to ``<out stem>_png/`` (needs kaleido and Chrome/Chromium). ``train``: a train run
    (e.g. ``--task sib200 --eval-langs all``) whose per-language accuracy a probe report draws against its
    alignment. Written atomically.
    """
    from xalign.io import check_output, final_path
    from xalign.report.page import render_page, write_page

    t0 = time.perf_counter()
    root = Path(run_dir)
    target = Path(out) if out is not None else root / "report.html"
    check_output(target, kind="file", files="report")  # only an xalign report is replaced, never a run's own file
    title, subtitle, sections = report_sections(root, layer=layer, max_points=max_points,
                                                projection=projection, seed=seed, cache=cache, train=train)
    write_page(target, render_page(title, sections, subtitle=subtitle))
    logger.info("wrote %s (%.1f MB) in %.1fs", final_path(target), target.stat().st_size / 2**20,
                time.perf_counter() - t0)  # the path it has after a run's staging folder is swapped in
    if png:
        from xalign.report.png import export_png

        export_png(_figures(sections), target.with_name(f"{target.stem}_png"))
    return target
