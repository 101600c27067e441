"""RESULTS.md and analysis/study_report.html, rebuilt from ``analysis/results/`` alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from analysis.study.aggregate import Results, aggregate
from analysis.study.alignment_change import alignment_rows, seed_agreement
from analysis.study.design import Design
from analysis.study.provenance import (
    data_hashes,
    pooling_words,
    sizes_words,
    time_words,
    versions_words,
)
from analysis.study.summary import collapse_words, in_short
from analysis.study.transfer import transfer_answer, transfer_table, transfer_tests
from analysis.study.tuning import BARS, bar_check, tuning_lines
from analysis.study.units import unit_name

COMMAND = "python -m analysis.study"
GASCHI = ("Gaschi et al. (Findings of ACL 2023), who report alignment significantly correlated with transfer "
          "across languages, models and seeds")
ADV_WHY = {
    "mixed": "each update minimises CE(x) + CE(x + δ), δ one L2 PGD step of radius ε on the embedding outputs of "
             "each token (xalign.robust.config). The paper's released code has no adversarial trainer, so there is "
             "no published objective to copy; the mixed objective (clean plus adversarial loss, the common practice of "
             "adversarial fine-tuning since Miyato et al. 2017) keeps every clean item in each update, and one PGD "
             "step keeps an adv step at about two baseline passes (the budget).",
    "adv-only": "each update minimises CE(x + δ) only (Madry et al. 2018).",
    "freelb": "each update minimises the mean CE over K ascent steps from a random start (Zhu et al. 2020)."}
VEITSMAN = ("Veitsman et al. (arXiv 2603.18863, 2026), who report embedding distances to be unreliable predictors "
            "of transfer")


MIN_CLUSTERS = 8  # fewer languages: the cluster bootstrap has too few distinct resamples to decide anything
FEW = "; with so few languages the cluster bootstrap has few distinct resamples, so this interval is not trusted"


def link_reading(ci95: list[float], n_groups: int | None = None) -> str:
    """Which published reading a within-run link CI agrees with (the sentence after the colon); no reading
    when the CI is undefined or rests on fewer than ``MIN_CLUSTERS`` languages."""
    if any(np.isnan(c) for c in ci95):
        return "undefined (a variable is constant across the points): no reading is drawn"
    if n_groups is not None and n_groups < MIN_CLUSTERS:
        return (f"too few languages ({n_groups}) for the cluster interval to decide (it needs {MIN_CLUSTERS} or "
                "more): no reading is drawn")
    if ci95[0] > 0:
        return f"a positive link (the CI excludes 0), in line with {GASCHI}, not with Veitsman et al. (2026)"
    if ci95[1] < 0:
        return ("a negative link (the CI excludes 0: languages whose alignment rose more gained less), which "
                "neither published reading predicts")
    return (f"no detectable link (the CI holds 0; a CI this wide also leaves room for a link this study is too "
            f"small to see), in line with {VEITSMAN}, not with Gaschi et al. (2023)")


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
             f"{design.batch_size}; adversarial settings {d['adv']}; randomized smoothing {d['rs']}.",
             f"- Adversarial objective `{design.adv['adv_objective']}`: {ADV_WHY.get(design.adv['adv_objective'], '')}",
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


def selection_lines(task: str, rows: list[dict[str, Any]], searched: bool = False) -> list[str]:
    """The learning curves on English dev, the selected step, and the bar check of the baselines."""
    lines = [f"English dev accuracy (selection set) at each evaluation; bar for a baseline that learned the task: "
             f"**{BARS[task]:.2f}** (checked on the baseline's seed mean).", "", "| method | seed | English dev curve (step: accuracy) | selected step | "
             "selected accuracy | steps | training s | unit s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        curve = ", ".join(f"{st}: {v:.3f}" for st, v in r["curve"])
        acc = "–" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
        lines.append(f"| {r['method']} | {r['seed']} | {curve} | {r['best_step']} | {acc} | {r['steps']} | "
                     f"{r['train_s']} | {r['unit_s']} |")
    return lines + ["", bar_check(task, rows, searched=searched)[1]]


def alignment_lines(layer: int, rows: list[dict[str, Any]]) -> list[str]:
    """Alignment before/after training at the chosen layer: P@1 and its changes with CIs, CKA, model×model CKA."""
    if not rows:
        return ["No trained unit has been probed yet."]
    lines = [f"CSLS P@1 at layer {layer} (mean of both directions; paired bootstrap over sentences × matched "
             "seeds; Holm over the languages of one method and corpus), linear CKA en–xx, and model×model CKA "
             "(the trained encoder's layer vs the pre-trained one on the xx sentences: 1 = unmoved). The change vs "
             "the reference uses the matched seeds where neither run collapsed to one predicted class; its interval "
             "covers sentence sampling given those seeds, not training noise, so the answer also requires every "
             "matched seed to agree in sign before it reads a method as keeping more or less alignment.", "",
             "| corpus | pair | method | P@1 pre-trained | P@1 trained | Δ vs pre-trained [95% CI] | "
             "Δ vs reference [95% CI] | p (Holm) | CKA pre → trained | model×model CKA |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ref = r.get("vs_reference")
        vp = r["vs_pretrained"]
        ref_cells = (f"{_ci(ref['delta'], ref['ci95'], True)} vs {ref['reference']} | {ref.get('p_holm', float('nan')):.4f}"
                     if ref else "– | –")
        cka = (f"{r['cka_pretrained']:.3f} → {r['cka']:.3f}" if r.get("cka") is not None and
               r.get("cka_pretrained") is not None else "–")
        moved = f"{r['model_cka']:.3f} [{r['model_cka_range'][0]:.3f}–{r['model_cka_range'][1]:.3f}]" \
            if r.get("model_cka") is not None else "–"
        lines.append(f"| {r['corpus']} | en-{r['lang']} | {r['method']} ({len(r['seeds'])} seed{'s' if len(r['seeds']) > 1 else ''}) | "
                     f"{r['p1_pretrained']:.3f} | {r['p1']:.3f} | {_ci(vp['delta'], vp['ci95'], True)} | {ref_cells} | "
                     f"{cka} | {moved} |")
    return lines


RUN_FLAGS = {"cpu": ("--max-hours 1.8 --jobs 2", " (two one-thread workers on a 2-core machine: a speed setting, not "
                     "part of the design; floating-point sums may differ in the last bits between thread counts)"),
             "full": ("--device cuda", " (its units live in `analysis/results/full/`)")}
LOW_RESOURCE = ("sw", "ur")  # the languages the project exists for (XNLI); PAWS-X has none


def where_lines(block: dict[str, Any]) -> list[str]:
    """Where: the low-resource languages' changes, the languages significant after Holm, and how alignment at
    the chosen layer moved against the reference."""
    out = []
    per_lang = [t for t in block["tests"] if t["family"].startswith("languages:")]
    for method in dict.fromkeys(t["method"] for t in per_lang):
        mine = [t for t in per_lang if t["method"] == method]
        low = [t for t in mine if t["column"].split(":")[-1] in LOW_RESOURCE]
        sig = [t for t in mine if t["p_holm"] < 0.05]
        low_words = "; ".join(f"{t['column'].split(':')[-1]} {_ci(t['delta'], t['ci95'], True)} (Holm p "
                              f"{t['p_holm']:.3f})" for t in low)
        sig_words = ", ".join(f"{t['column'].split(':')[-1]} {t['delta']:+.3f}" for t in sig) or "none"
        gen = [t for t in block["tests"] if t["family"] == f"generalized-languages:{method}"
               and t["column"].split(":")[-1] in LOW_RESOURCE]
        if gen:
            low_words += "; generalized cells with " + "; ".join(
                f"{t['column'].split(':')[-1]} {_ci(t['delta'], t['ci95'], True)} (Holm p {t['p_holm']:.3f})" for t in gen)
        out.append(f"  - {method} − {mine[0]['reference']}: {('low-resource: ' + low_words + '; ') if low else ''}"
                   f"languages significant after Holm: {sig_words}.")
        align = [r["vs_reference"] for r in block.get("alignment", []) if r["method"] == method
                 and "vs_reference" in r and r["corpus"].endswith("-dev")]
        if align:
            up = sum(1 for a in align if a.get("p_holm", 1) < 0.05 and a["delta"] > 0)
            down = sum(1 for a in align if a.get("p_holm", 1) < 0.05 and a["delta"] < 0)
            per_seed, agree = seed_agreement(align)
            left = (f"; collapsed seed(s) {align[0]['collapsed_seeds']} left out" if align[0].get("collapsed_seeds")
                    else "")
            seeds = ", ".join(f"seed {sd} {v:+.3f}" for sd, v in zip(align[0]["seeds"], per_seed))
            verdict = ("one sign in every seed" if agree else "the seeds do not agree in sign" if len(per_seed) > 1
                       else "one seed: training noise unmeasured")
            out.append(f"    Alignment at layer {block['layer']} (CSLS P@1 vs {align[0]['reference']}, {len(align)} "
                       f"language pairs{left}): mean Δ {np.mean([a['delta'] for a in align]):+.3f}; significantly "
                       f"higher in {up}, lower in {down} after Holm; per matched seed {seeds} ({verdict}).")
        elif method in {m for m, _ in block.get("collapsed", [])}:
            out.append(f"    Alignment vs {mine[0]['reference']}: not compared (every matched run collapsed to one "
                       "predicted class).")
    return out


def answer(agg: dict[str, Any], missing: list[tuple], sizes: str = "") -> list[str]:
    """Plain words, by a stated rule: significant = Holm-adjusted p < 0.05 in the primary family."""
    lines = in_short(agg, LOW_RESOURCE) if agg else ["- No unit has finished yet: no claim is made."]
    for task, block in agg.items():
        if not block["tests"]:  # no method with its baseline finished: nothing was compared
            lines.append(f"- **{task}**: no method and its baseline have both finished yet: no comparison, no claim.")
            continue
        sig = [t for t in block["tests"] if t["family"] == "primary" and t["p_holm"] < 0.05]
        flat = [t for t in block["tests"] if t["family"] == "primary" and t["p_holm"] >= 0.05]
        words = "; ".join(f"{t['method']} {'above' if t['delta'] > 0 else 'below'} {t['reference']} on "
                          f"{t['column']} ({_ci(t['delta'], t['ci95'], True)}, {len(t['seeds'])} seed(s))"
                          for t in sig) or "no method differs significantly"
        flat_words = ", ".join(f"{t['method']}/{t['column']} ({t['delta']:+.3f}, {len(t['seeds'])} seed(s))"
                               for t in flat) or "none"
        scope = " (finished units only)" if missing else ""
        lines.append(f"- **{task}**{scope}: {words}; not significant after Holm: {flat_words}.")
        if block.get("collapsed"):
            lines.append("  Runs that did not learn the task (the same answer on every item in every language: one "
                         f"predicted class), per method: {collapse_words(block)}. A run still at one answer at its "
                         "last evaluation did not leave it within the step budget (the English dev curves under "
                         "Selection show where each run stood at each evaluation). The accuracy comparisons above "
                         "include these runs, so for a method with collapsed runs they measure how often it failed to "
                         "learn the task in time; the runs are left out of the transfer control and the "
                         "alignment–accuracy link, where a constant answer would read as perfect transfer.")
        lines += where_lines(block)
        fit = {}
        for r in block.get("selection", []):
            if r["accuracy"] is not None:
                fit.setdefault(r["method"], []).append(r["accuracy"])
        verdict, sentence = bar_check(task, block.get("selection", []), searched=bool(block.get("tuning")))
        if verdict in {"mean", "missed"}:
            lines.append(f"  Baseline fit: {sentence}")
        if "baseline" in fit and len(fit) > 1:
            words = ", ".join(f"{m} {np.mean(v):.3f} ({len(v)} seed{'s' if len(v) > 1 else ''})" for m, v in fit.items())
            lines.append(f"  English dev accuracy at the selected step (seed mean): {words}. A method below the "
                         "baseline here learned the English task less in the same steps, so its zero-shot gap "
                         "partly measures slower learning, not worse transfer; the transfer control separates the two.")
        lines += transfer_answer(block.get("transfer", []), [t for t in block["tests"] if t["family"] == "primary"],
                                 LOW_RESOURCE, [t for t in block["tests"] if t["family"].startswith("languages:")
                                                and t["column"].endswith(":en")])
        link = block.get("link", {}).get("zero-shot", {}).get("within")
        pooled = block.get("link", {}).get("zero-shot", {}).get("pooled")
        if link:
            reading = link_reading(link["ci95"], link.get("n_groups"))
            lines.append(f"  Link (layer {block['layer']}): across languages within each trained model (each "
                         f"method × seed run centred), Spearman ρ(Δalignment, Δzero-shot accuracy) = "
                         f"{_ci(link['rho'], link['ci95'], True)} over {link['n']} language × seed × method points "
                         f"(CI: bootstrap over {link.get('n_groups')} languages, each with all its points): "
                         f"{reading}. Uncentred, ρ = {_ci(pooled['rho'], pooled['ci95'], True)}: that "
                         "number also carries the differences between methods, so it is not read as the link.")
        typ = block.get("typology", {}).get("syntax_knn", {}).get("zero-shot", {}).get("within")
        if typ:
            lines.append(f"  Gains vs syntactic distance from English (URIEL syntax_knn; within each run): ρ = "
                         f"{_ci(typ['rho'], typ['ci95'], True)} over {typ.get('n_groups')} languages; the paper's "
                         "claim that gains grow with distance " + (
                             "cannot be tested with so few languages." if (typ.get("n_groups") or 0) < MIN_CLUSTERS
                             else "is supported here." if typ["ci95"][0] > 0 else "is not supported here."))
    if missing:
        lines.append("- Units are missing (see the banner): read every statement above as provisional.")
    lines.append(f"- What this scale cannot show: effects smaller than the CIs above ({sizes or 'see the design'}), "
                 "anything about full fine-tuning of the embeddings (frozen here), larger encoders, or the paper's "
                 "392k-pair training set. Tests with one seed cover item sampling only, not training noise.")
    for task, block in agg.items():
        if block.get("collapsed"):
            methods = ", ".join(dict.fromkeys(m for m, _ in block["collapsed"]))
            lines.append(f"- Nor can it show whether the runs that collapsed on {task} ({methods}) would have learned "
                         "the task with more optimizer steps: they are measured at this design's step budget only.")
    return lines


def full_aggregate(results: Results, *, n_boot: int, seed: int = 0,
                   tuning: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """:func:`aggregate` plus, per task, alignment before/after, the transfer control and the tuning records:
    everything the page and the report show, computed once."""
    agg = aggregate(results, n_boot=n_boot, seed=seed)
    for task, block in agg.items():
        if block.get("layer") is not None:
            block["alignment"] = alignment_rows(results, task, block["layer"], n_boot=n_boot, seed=seed)
        block["transfer"] = transfer_tests(results, task, n_boot=n_boot, seed=seed)
        if task in (tuning or {}):
            block["tuning"] = tuning[task]
    return agg


def results_markdown(design: Design, results: Results, missing: list[tuple], *,
                     n_boot: int, seed: int = 0, html_name: str = "study_report.html",
                     tuning: dict[str, list[dict[str, Any]]] | None = None,
                     agg: dict[str, Any] | None = None) -> str:
    agg = agg if agg is not None else full_aggregate(results, n_boot=n_boot, seed=seed, tuning=tuning)
    hashes = data_hashes(results)
    lines = ["# Does robust training improve cross-lingual transfer and alignment, and where?", "",
             *banner(missing), "## Design", "", *design_lines(design), "",
             "## Commands", "", f"- Run (resumable, chunked): `{COMMAND} --scale {design.scale} {RUN_FLAGS[design.scale][0]}`"
             f"{RUN_FLAGS[design.scale][1]}",
             f"- Rebuild this page and the report: `{COMMAND} --scale {design.scale} --rewrite-results`",
             f"- {versions_words(results) if results else 'Versions: n/a'}",
             f"- Finished units: {len([k for k in results if k[2] is not None])} trained, "
             f"{len([k for k in results if k[2] is None])} pre-trained probes; {time_words(results)}.", "",
             "## Answer", "", *answer(agg, missing, sizes_words(design)), "",
             "Tests: paired bootstrap over items with seeds matched by index (per resample, each method's per-item "
             "correctness is averaged over its seeds; `xalign.metrics.significance`), 95% percentile CIs, "
             "two-sided bootstrap p, Holm within each family (primary: every method × {zero-shot, generalized} "
             "of a task; secondary: the languages of one method, and the generalized cells with one language of one "
             "method; transfer control: the methods of a task within each "
             "reading, and the languages of one method; alignment: the language pairs of one method and corpus). "
             "Seeds are not resampled, so these intervals cover item sampling given the seeds; where one method's "
             "seeds differ more than the methods do (alignment at the last layers), the answer also requires every "
             "matched seed to agree in sign before it reads a difference as the method's. " + pooling_words(design), ""]
    for task, block in agg.items():
        lines += [f"## {task}", "", "### Accuracy (seed-averaged, bootstrap 95% CI over items)", "",
                  *_acc_table(block["accuracy"]), "", "### Paired tests, primary family", "",
                  *_test_lines(block["tests"], "primary"), "", "### Paired tests per language", "",
                  *_test_lines(block["tests"], "languages"), "",
                  "### Transfer control: learned less, or transferred less?", "",
                  "Each method's loss from English to the other languages on the same items, against its reference "
                  "(`analysis/study/transfer.py`): the transfer gap (per item xx − en; > 0: loses less) and the "
                  "retained share above chance ((acc_xx − c) / (acc_en − c), c = chance; > 0: keeps more). "
                  "Columns *method* and *reference* give each side's value.", "",
                  *transfer_table(block.get("transfer", [])), ""]
        lines += ["### Did the baseline learn the task?", "",
                  *selection_lines(task, block["selection"], searched=bool(block.get("tuning"))), "",
                  *tuning_lines(task, block.get("tuning", []), block["selection"], BARS[task]), ""]
        if block.get("layer") is not None:
            lines += ["### Alignment before and after training", "",
                      f"Alignment layer by the stated rule (best pre-trained CSLS P@1 on {task} dev parallel "
                      f"sentences, fixed before any accuracy is read): **{block['layer']}**.", "",
                      *alignment_lines(block["layer"], block.get("alignment", [])), "",
                      "### The link: Δalignment vs Δaccuracy, and language distance", ""]
            for kind, corr in block.get("link", {}).items():
                for m, c in corr.items():
                    lines.append(f"- Δalignment vs Δ{kind} accuracy, {m}: ρ = {_ci(c['rho'], c['ci95'], True)} "
                                 f"(n = {c['n']} points, {c.get('n_groups')} languages resampled as clusters; "
                                 f"scipy p = {c['p_value']:.3f} assumes independent points"
                                 f"{FEW if (c.get('n_groups') or 99) < MIN_CLUSTERS else ''})")
            for fs, t in block.get("typology", {}).items():
                if isinstance(t, dict) and "zero-shot" in t:
                    for m, c in t["zero-shot"].items():
                        lines.append(f"- Δzero-shot accuracy vs URIEL {fs} distance from English, {m}: "
                                     f"ρ = {_ci(c['rho'], c['ci95'], True)} (n = {c['n']})")
            if not block.get("link") and not block.get("typology"):
                lines.append("No trained method has finished beside its reference yet (the link needs both).")
            lines.append("")
    lines += ["## Data hashes", "", "One SHA-256 per data set: over its sorted per-language SHA-256s (those are in "
              "every unit JSON, under `data`). Two units with a different digest here would not be comparable; the "
              "table lists every digest found, so a single row per data set means every unit read the same data.",
              "", "| data | digest | units |", "|---|---|---|", *[f"| {k} | `{v}` | {n} |" for k, v, n in hashes], "",
              f"Figures: [`analysis/{html_name}`]({html_name}).", ""]
    return "\n".join(lines)


def rewrite(design: Design, results_dir: Path, results_md: Path, html: Path, *, n_boot: int) -> list[tuple]:
    """Write RESULTS.md (always) and the HTML report from ``results_dir``; returns the missing units."""
    from analysis.study.aggregate import check_design, load_results
    from analysis.study.report import report_html
    from analysis.study.tuning import load_tuning
    from analysis.study.units import missing_units
    from xalign.io import write_text

    results = load_results(results_dir)
    check_design(results, design.to_dict(), results_dir)
    missing = missing_units(design, results_dir)
    agg = full_aggregate(results, n_boot=n_boot, tuning=load_tuning(results_dir))
    write_text(results_md, results_markdown(design, results, missing, n_boot=n_boot,
                                            html_name=html.name, agg=agg))
    write_text(html, report_html(results, agg))
    return missing
