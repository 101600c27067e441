"""RESULTS.md (the verdict, one method × task table, the generalized control, power, caveats), its appendix
RESULTS_appendix.md and analysis/study_report.html, rebuilt from ``analysis/results/`` alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analysis.study.aggregate import Results, aggregate
from analysis.study.alignment_change import alignment_rows, method_alignment_tests
from analysis.study.design import Design
from analysis.study.provenance import time_words, versions_words
from analysis.study.summary import link_lines, low_resource_lines
from analysis.study.transfer import transfer_answer, transfer_tests
from analysis.study.units import unit_name
from analysis.study.verdict import caveat_lines, generalized_table, method_table, verdict

COMMAND = "python -m analysis.study"
APPENDIX = "RESULTS_appendix.md"
RULE = ("The one rule for every accuracy and alignment claim: the seed-aware bootstrap (resample seeds, then items "
        "within each seed; `xalign.metrics.significance.hierarchical_bootstrap`) gives a Holm-adjusted p < 0.05 "
        "within its family, at least 3 matched seeds were compared, and every seed's difference has one sign "
        "(`seed_aware_claim`). ↑/↓ mark claims; anything else is no claim. Families: per task, every method × "
        "{zero-shot, generalized}; the generalized control (mixed − same) over methods; the languages of one "
        "method; the transfer readings over methods; alignment over methods (pooled pairs) and over the pairs of "
        "one method.")


def banner(missing: list[tuple]) -> list[str]:
    if not missing:
        return []
    names = ", ".join(f"`{unit_name(*u)}`" for u in missing)
    return [f"> **Incomplete: {len(missing)} unit(s) of the design are missing** ({names}). Every number below "
            "uses only the finished units; no claim here depends on a missing one. Comparisons whose units are "
            "missing are absent, not zero. Rerun the command below to continue.", ""]


RUN_FLAGS = {"cpu": ("--max-hours 1.8 --jobs 2", " (two one-thread workers on a 2-core machine: a speed setting, not "
                     "part of the design; floating-point sums may differ in the last bits between thread counts)"),
             "full": ("--device cuda", " (its units live in `analysis/results/full/`)")}
LOW_RESOURCE = ("sw", "ur")  # the languages the project exists for (XNLI); PAWS-X has none


def full_aggregate(results: Results, *, n_boot: int, seed: int = 0,
                   tuning: dict[str, list[dict[str, Any]]] | None = None,
                   label_files: dict[str, Any] | None = None) -> dict[str, Any]:
    """:func:`aggregate` plus, per task, alignment before/after (per pair and per method), the transfer control
    (retained share against the majority-class rate), run states (collapsed / partial), the generalized readout
    per class and the tuning records: everything the pages and the report show, computed once."""
    from analysis.study.classes import generalized_readout, run_states, weakest_class
    from analysis.study.labels import labels_for

    label_files = label_files or {}
    agg = aggregate(results, n_boot=n_boot, seed=seed)
    for task, block in agg.items():
        trained = [rec for (t, _, s), rec in sorted(results.items(), key=str) if t == task and s is not None]
        labels = next((lb for lb in (labels_for(r, label_files) for r in trained) if lb), None)
        if block.get("layer") is not None:
            block["alignment"] = alignment_rows(results, task, block["layer"], n_boot=n_boot, seed=seed)
            block["alignment_tests"] = method_alignment_tests(results, task, block["layer"], n_boot=n_boot, seed=seed)
        block["transfer"] = transfer_tests(results, task, n_boot=n_boot, seed=seed, labels=labels)
        block["states"] = run_states(results, task, label_files)
        block["weakest"] = {m: w for m in block["states"] if (w := weakest_class(results, task, m, label_files))}
        block["generalized_readout"] = generalized_readout(results, task, labels)
        if task in (tuning or {}):
            block["tuning"] = tuning[task]
    return agg


def results_markdown(design: Design, results: Results, missing: list[tuple], *, agg: dict[str, Any],
                     html_name: str = "study_report.html", appendix_name: str = APPENDIX,
                     norms: dict[str, dict[str, Any]] | None = None) -> str:
    """The two-minute page: verdict, the method × task table, the generalized control, the short readings,
    caveats and how to rebuild; the long tables are in the appendix."""
    flags, why = RUN_FLAGS[design.scale]
    lines = ["# Does robust training improve cross-lingual transfer and alignment, and where?", "", *banner(missing),
             "## Verdict", "", *verdict(agg), "", "## Method × task", "",
             "Δ = method − reference on the same items (seed-aware 95% CI; ↑/↓ claimed by the rule below). "
             "Zero-shot: the reported non-English languages, items pooled; generalized: the mixed-language cells "
             "(sentence 1 and 2 in different languages); English: the English test items. Partial: a class's "
             "pooled recall below 0.10 (the run almost never predicts it).", "", *method_table(agg), "",
             "## The generalized setting: mixed- minus same-language accuracy on the same items", "",
             *generalized_table(agg), "", "## Transfer control, low-resource languages, link", "",
             *[line for block in agg.values() for line in transfer_answer(block.get("transfer", []))],
             *low_resource_lines(agg, LOW_RESOURCE), *link_lines(agg), "", "## Regime caveats", "",
             *caveat_lines(design, norms), "", "## Rule", "", RULE, "", "## Provenance", "",
             f"- Run (resumable, chunked): `{COMMAND} --scale {design.scale} {flags}`{why}",
             f"- Rebuild this page, [`{appendix_name}`]({appendix_name}) (design in full and every table) and "
             f"[`{html_name}`]({html_name}): `{COMMAND} --scale {design.scale} --rewrite-results`",
             f"- {versions_words(results) if results else 'Versions: n/a'}",
             f"- Finished units: {len([k for k in results if k[2] is not None])} trained, "
             f"{len([k for k in results if k[2] is None])} pre-trained probes; {time_words(results)}.", ""]
    return "\n".join(lines)


def rewrite(design: Design, results_dir: Path, results_md: Path, html: Path, *, n_boot: int) -> list[tuple]:
    """Write RESULTS.md, its appendix (beside it) and the HTML report from ``results_dir``; returns the missing
    units. Needs the study extra (lang2vec) for the distance analysis: without it, one DependencyError and
    nothing written."""
    from analysis.study.aggregate import check_design, load_results
    from analysis.study.appendix import appendix_markdown
    from analysis.study.labels import load_label_files
    from analysis.study.report import report_html
    from analysis.study.typology import require_lang2vec
    from analysis.study.tuning import load_tuning
    from analysis.study.units import missing_units
    from xalign.io import write_text

    require_lang2vec()
    results = load_results(results_dir)
    check_design(results, design.to_dict(), results_dir)
    missing = missing_units(design, results_dir)
    agg = full_aggregate(results, n_boot=n_boot, tuning=load_tuning(results_dir),
                         label_files=load_label_files(results_dir))
    appendix = results_md.with_name(results_md.stem + "_appendix.md")
    norms = {p.name.split("-")[0]: json.loads(p.read_text(encoding="utf-8"))
             for p in sorted((results_dir / "tuning" / "v3").glob("*-embedding-norm.json"))}
    write_text(results_md, results_markdown(design, results, missing, agg=agg, html_name=html.name,
                                            appendix_name=appendix.name, norms=norms))
    write_text(appendix, appendix_markdown(design, results, agg, main_name=results_md.name))
    write_text(html, report_html(results, agg, missing=missing))
    return missing
