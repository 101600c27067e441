"""RESULTS.md and analysis/study_report.html, rebuilt from ``analysis/results/`` alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analysis.study.aggregate import Results, aggregate, layer_scores
from analysis.study.design import Design
from analysis.study.units import unit_name

COMMAND = "python -m analysis.study"
GASCHI = ("Gaschi et al. (Findings of ACL 2023) report alignment significantly correlated with transfer across "
          "languages, models and seeds")
VEITSMAN = "Veitsman et al. (arXiv 2603.18863, 2026) report embedding distances to be unreliable predictors of transfer"


def _ci(x: float, ci: list[float], signed: bool = False) -> str:
    f = "+.3f" if signed else ".3f"
    return f"{x:{f}} [{ci[0]:{f}}, {ci[1]:{f}}]"


def banner(missing: list[tuple]) -> list[str]:
    if not missing:
        return []
    names = ", ".join(f"`{unit_name(*u)}`" for u in missing)
    return [f"> **Incomplete: {len(missing)} unit(s) of the design are missing** ({names}). Every number below "
            "uses only the finished units; no claim here depends on a missing one. Comparisons whose units are "
            "missing are absent, not zero. Rerun the command below to continue.", ""]


def design_lines(design: Design) -> list[str]:
    d = design.to_dict()
    lines = [f"- Scale `{design.scale}`; encoder `{design.model}`; seeds {list(design.seeds)} (offline-copies pair "
             f"{list(design.offline_seeds)}); methods {', '.join(design.methods)} at equal optimizer steps, plus "
             f"{' vs '.join(design.offline_methods)} at equal steps.",
             f"- Frozen word embeddings: {design.freeze_embeddings}; max length {design.max_length}; batch "
             f"{design.batch_size}; adversarial settings {d['adv']} (`adv_objective` as the ADV helper defines it; "
             f"one PGD step on the embedding outputs, so an adv step costs about two baseline steps); randomized "
             f"smoothing {d['rs']}.",
             f"- Evaluation subsample and probe subsample seeded by data_seed {design.data_seed} (the same items "
             f"for every model); probe: {design.n_probe or 'all'} parallel sentences per language (task dev "
             f"sentence-1 column) and FLORES-200 {design.flores_pair}; bootstrap {design.n_boot} resamples "
             f"(CKA {design.n_boot_cka})."]
    for task, t in d["tasks"].items():
        lines.append(f"- **{task}**: {t}")
    lines += [f"- {note}" for note in design.notes]
    return lines


def _acc_table(rows: list[dict[str, Any]]) -> list[str]:
    cols = list(dict.fromkeys((r["split"], r["lang"]) for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = ["| method | " + " | ".join(f"{s}:{lg}" for s, lg in cols) + " |", "|---|" + "---|" * len(cols)]
    for m in methods:
        cell = {(r["split"], r["lang"]): r for r in rows if r["method"] == m}
        lines.append(f"| {m} | " + " | ".join(_ci(cell[c]["accuracy"], cell[c]["ci95"]) if c in cell else "–"
                                             for c in cols) + " |")
    return lines


def _test_lines(tests: list[dict[str, Any]], family: str) -> list[str]:
    lines = ["| method − reference | column | Δ [95% CI] | p | p (Holm) | seeds | items |",
             "|---|---|---|---|---|---|---|"]
    for t in tests:
        if (family == "primary") == (t["family"] == "primary"):
            lines.append(f"| {t['method']} − {t['reference']} | {t['column']} | {_ci(t['delta'], t['ci95'], True)} "
                         f"| {t['p_value']:.4f} | {t['p_holm']:.4f} | {len(t['seeds'])} | {t['n_items']} |")
    return lines


def answer(agg: dict[str, Any], missing: list[tuple]) -> list[str]:
    """Plain words, by a stated rule: significant = Holm-adjusted p < 0.05 in the primary family."""
    lines = [] if agg else ["- No unit has finished yet: no claim is made."]
    for task, block in agg.items():
        if not block["tests"]:  # no method with its baseline finished: nothing was compared
            lines.append(f"- **{task}**: no method and its baseline have both finished yet: no comparison, no claim.")
            continue
        sig = [t for t in block["tests"] if t["family"] == "primary" and t["p_holm"] < 0.05]
        flat = [t for t in block["tests"] if t["family"] == "primary" and t["p_holm"] >= 0.05]
        words = "; ".join(f"{t['method']} {'above' if t['delta'] > 0 else 'below'} {t['reference']} on "
                          f"{t['column']} ({t['delta']:+.3f})" for t in sig) or "no method differs significantly"
        flat_words = ", ".join(f"{t['method']}/{t['column']}" for t in flat) or "none"
        lines.append(f"- **{task}** (finished units only): {words}; not significant after Holm: {flat_words}.")
        link = block.get("link", {}).get("zero-shot", {}).get("pooled")
        if link:
            reading = (GASCHI if link["ci95"][0] > 0 else VEITSMAN if link["ci95"][0] <= 0 <= link["ci95"][1]
                       else "neither (a negative relation)")
            lines.append(f"  Link (layer {block['layer']}): Spearman ρ(Δalignment, Δzero-shot accuracy) = "
                         f"{_ci(link['rho'], link['ci95'], True)} over {link['n']} language × seed × method points; "
                         f"this agrees with: {reading}.")
        typ = block.get("typology", {}).get("syntax_knn", {}).get("zero-shot", {}).get("pooled")
        if typ:
            lines.append(f"  Gains vs syntactic distance from English (URIEL syntax_knn): ρ = "
                         f"{_ci(typ['rho'], typ['ci95'], True)}; the paper's claim that gains grow with distance "
                         f"{'is supported' if typ['ci95'][0] > 0 else 'is not supported'} here.")
    if missing:
        lines.append("- Units are missing (see the banner): read every statement above as provisional.")
    lines.append("- What this scale cannot show: effects smaller than the CIs above (a few accuracy points with "
                 "400 items × 3 seeds), anything about full fine-tuning of the embeddings (frozen here), "
                 "larger encoders, or the paper's 392k-pair training set.")
    return lines


def results_markdown(design: Design, results: Results, missing: list[tuple], *, versions: dict[str, str],
                     n_boot: int, seed: int = 0) -> str:
    agg = aggregate(results, n_boot=n_boot, seed=seed)
    hashes = sorted({(k, v) for rec in results.values() for n, h in rec["data"]["probe"].items()
                     for k, v in (("probe " + n, str(h["sha256"])[:300]),)})
    lines = ["# Does robust training improve cross-lingual transfer and alignment, and where?", "",
             *banner(missing), "## Design", "", *design_lines(design), "",
             "## Commands", "", f"- Run (resumable, chunked): `{COMMAND} --scale {design.scale} --max-hours 1.8`",
             f"- Rebuild this page and the report: `{COMMAND} --scale {design.scale} --rewrite-results`",
             f"- Versions (first unit): {', '.join(f'{k} {v}' for k, v in versions.items()) or 'n/a'}",
             f"- Finished units: {len([k for k in results if k[2] is not None])} trained, "
             f"{len([k for k in results if k[2] is None])} pre-trained probes.", "",
             "## Answer", "", *answer(agg, missing), "",
             "Tests: paired bootstrap over items with seeds matched by index (per resample, each method's per-item "
             "correctness is averaged over its seeds; `xalign.metrics.significance`), 95% percentile CIs, "
             "two-sided bootstrap p, Holm within each family (primary: every method × {zero-shot, generalized} "
             "of a task; secondary: the languages of one method).", ""]
    for task, block in agg.items():
        lines += [f"## {task}", "", "### Accuracy (seed-averaged, bootstrap 95% CI over items)", "",
                  *_acc_table(block["accuracy"]), "", "### Paired tests, primary family", "",
                  *_test_lines(block["tests"], "primary"), "", "### Paired tests per language", "",
                  *_test_lines(block["tests"], "languages"), ""]
        if block.get("layer") is not None:
            lines += [f"Alignment layer by the stated rule (best pre-trained CSLS P@1 on {task} dev parallel "
                      f"sentences): **{block['layer']}**.", ""]
            for kind, corr in block.get("link", {}).items():
                for m, c in corr.items():
                    lines.append(f"- Δalignment vs Δ{kind} accuracy, {m}: ρ = {_ci(c['rho'], c['ci95'], True)} "
                                 f"(n = {c['n']}, scipy p = {c['p_value']:.3f})")
            for fs, t in block.get("typology", {}).items():
                if isinstance(t, dict) and "zero-shot" in t:
                    for m, c in t["zero-shot"].items():
                        lines.append(f"- Δzero-shot accuracy vs URIEL {fs} distance from English, {m}: "
                                     f"ρ = {_ci(c['rho'], c['ci95'], True)} (n = {c['n']})")
            lines.append("")
    lines += ["## Data hashes", "", *[f"- {k}: {v}" for k, v in hashes], "",
              "Figures: [`analysis/study_report.html`](study_report.html).", ""]
    return "\n".join(lines)


def report_html(results: Results, *, n_boot: int, seed: int = 0) -> str:
    """Accuracy per language with CIs, Δalignment vs Δaccuracy, per-layer alignment curves per method."""
    import plotly.graph_objects as go

    agg = aggregate(results, n_boot=n_boot, seed=seed)
    figs = []
    for task, block in agg.items():
        fig = go.Figure()
        for m in dict.fromkeys(r["method"] for r in block["accuracy"]):
            rows = [r for r in block["accuracy"] if r["method"] == m]
            fig.add_bar(name=m, x=[f"{r['split']}:{r['lang']}" for r in rows], y=[r["accuracy"] for r in rows],
                        error_y={"type": "data", "symmetric": False, "array": [r["ci95"][1] - r["accuracy"] for r in rows],
                                 "arrayminus": [r["accuracy"] - r["ci95"][0] for r in rows]})
        fig.update_layout(title=f"{task}: accuracy per language (95% CI)", barmode="group")
        figs.append(fig)
        if block.get("link_points"):
            sc = go.Figure()
            for m in dict.fromkeys(p["method"] for p in block["link_points"]):
                pts = [p for p in block["link_points"] if p["method"] == m]
                sc.add_scatter(name=m, mode="markers", x=[p["d_align"] for p in pts], y=[p["d_acc"] for p in pts],
                               text=[f"{p['lang']} seed {p['seed']}" for p in pts])
            sc.update_layout(title=f"{task}: Δalignment (layer {block['layer']}) vs Δzero-shot accuracy",
                             xaxis_title="Δ CSLS P@1", yaxis_title="Δ accuracy")
            figs.append(sc)
        curves = go.Figure()
        for (t, m, s), rec in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][2] or -1)):
            if t == task and f"{task}-dev" in rec.get("alignment", {}):
                curves.add_scatter(name=f"{m} {s if s is not None else ''}", y=layer_scores(rec, f"{task}-dev").tolist())
        curves.update_layout(title=f"{task}: CSLS P@1 per layer (mean of both directions and all pairs)",
                             xaxis_title="layer", yaxis_title="P@1")
        figs.append(curves)
    body = "".join(f.to_html(full_html=False, include_plotlyjs="cdn" if i == 0 else False) for i, f in enumerate(figs))
    return f"<!doctype html><html><head><meta charset='utf-8'><title>Study report</title></head><body>{body}</body></html>"


def rewrite(design: Design, results_dir: Path, results_md: Path, html: Path, *, n_boot: int) -> list[tuple]:
    """Write RESULTS.md (always) and the HTML report from ``results_dir``; returns the missing units."""
    from xalign.io import write_text
    from analysis.study.aggregate import check_design, load_results
    from analysis.study.units import missing_units

    results = load_results(results_dir)
    check_design(results, design.to_dict(), results_dir)
    missing = missing_units(design, results_dir)
    versions = next(iter(results.values()))["versions"] if results else {}
    write_text(results_md, results_markdown(design, results, missing, versions=versions, n_boot=n_boot))
    write_text(html, report_html(results, n_boot=n_boot))
    return missing
