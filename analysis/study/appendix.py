"""RESULTS_appendix.md: the long tables behind RESULTS.md (design in full, accuracy per language, every paired
test with its per-seed differences and claim, the transfer control, selection curves and the tuning search,
alignment per language pair, the link and distance correlations, data digests). Rebuilt with RESULTS.md."""

from __future__ import annotations

from typing import Any

from analysis.study.design import Design
from analysis.study.provenance import data_hashes, pooling_words
from analysis.study.summary import FEW, MIN_CLUSTERS
from analysis.study.transfer import claim_word, transfer_answer, transfer_table
from analysis.study.tuning import BARS, bar_check, tuning_lines

ADV_WHY = {
    "mixed": "each update minimises CE(x) + CE(x + δ), δ one L2 PGD step of radius ε on the embedding outputs of "
             "each token (xalign.robust.config). The paper's released code has no adversarial trainer, so there is "
             "no published objective to copy; the mixed objective (clean plus adversarial loss, the common practice of "
             "adversarial fine-tuning since Miyato et al. 2017) keeps every clean item in each update, and one PGD "
             "step keeps an adv step at about two baseline passes (the budget).",
    "adv-only": "each update minimises CE(x + δ) only (Madry et al. 2018).",
    "freelb": "each update minimises the mean CE over K ascent steps from a random start (Zhu et al. 2020)."}
def _ci(x: float, ci: list[float], signed: bool = False) -> str:
    f = "+.3f" if signed else ".3f"
    return f"{x:{f}} [{ci[0]:{f}}, {ci[1]:{f}}]"


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
    lines = ["| method − reference | column | Δ [95% CI] | p (Holm) | Δ per seed | claim (rule) | items |",
             "|---|---|---|---|---|---|---|"]
    for t in tests:
        if t["family"].split(":")[0] == family:
            lines.append(f"| {t['method']} − {t['reference']} | {t['column']} | {_ci(t['delta'], t['ci95'], True)} "
                         f"| {t['p_holm']:.4f} | {', '.join(f'{v:+.3f}' for v in t['seed_deltas'])} | {claim_word(t)} "
                         f"| {t['n_items']} |")
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
    lines = [f"CSLS P@1 at layer {layer} (mean of both directions; seed-aware bootstrap over seeds, then "
             "sentences; Holm over the languages of one method and corpus), linear CKA en–xx, and model×model CKA "
             "(the trained encoder's layer vs the pre-trained one on the xx sentences: 1 = unmoved). The change vs "
             "the reference uses the matched seeds where neither run collapsed to one predicted class; the last "
             "column applies the one claim rule.", "",
             "| corpus | pair | method | P@1 pre-trained | P@1 trained | Δ vs pre-trained [95% CI] | "
             "Δ vs reference [95% CI] | p (Holm) | CKA pre → trained | model×model CKA | claim vs reference |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
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
                     f"{cka} | {moved} | {claim_word(ref) if ref else '–'} |")
    return lines


def _link_lines(block: dict[str, Any]) -> list[str]:
    lines = []
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
    return lines or ["No trained method has finished beside its reference yet (the link needs both)."]


def task_sections(task: str, block: dict[str, Any]) -> list[str]:
    lines = [f"## {task}", "", "### Accuracy (seed-averaged, seed-aware bootstrap 95% CI: seeds, then items)", "",
             *_acc_table(block["accuracy"]), "", "### Paired tests, primary family and generalized control", "",
             *_test_lines(block["tests"], "primary"), *_test_lines(block["tests"], "generalized-control")[2:], "",
             "### Paired tests per language", "", *_test_lines(block["tests"], "languages"), "",
             "### Generalized cells with one sentence in a language", "",
             *_test_lines(block["tests"], "generalized-languages"), "",
             "### Transfer control: learned less, or transferred less?", "",
             "Each method's loss from English to the other languages on the same items, against its reference "
             "(`analysis/study/transfer.py`): the transfer gap (per item xx − en; > 0: loses less) and the retained "
             "share above the majority-class rate ((acc_xx − m) / (acc_en − m); > 0: keeps more).", "",
             *transfer_table(block.get("transfer", [])), "", *transfer_answer(block.get("transfer", [])), "",
             "### Did the baseline learn the task?", "",
             *selection_lines(task, block["selection"], searched=bool(block.get("tuning"))), "",
             *tuning_lines(task, block.get("tuning", []), block["selection"], BARS[task]), ""]
    if block.get("layer") is not None:
        lines += ["### Alignment before and after training", "",
                  f"Alignment layer by the stated rule (best pre-trained CSLS P@1 on {task} dev parallel sentences, "
                  f"fixed before any accuracy is read): **{block['layer']}**.", "",
                  *alignment_lines(block["layer"], block.get("alignment", [])), "",
                  "### The link: Δalignment vs Δaccuracy, and language distance", "", *_link_lines(block), ""]
    return lines


def appendix_markdown(design: Design, results: Any, agg: dict[str, Any], main_name: str = "RESULTS.md") -> str:
    """The appendix page (every table RESULTS.md summarises)."""
    hashes = data_hashes(results)
    lines = ["# Appendix to the study's RESULTS.md", "", f"Rebuilt with [`{main_name}`]({main_name}) from the same "
             "units. ↑/↓ and *higher*/*lower*: claimed by the one rule (seed-aware bootstrap, Holm p < 0.05, ≥ 3 "
             "seeds all of one sign); every other difference is *no claim* with its reason.", "",
             "## Design", "", *design_lines(design), "- " + pooling_words(design), ""]
    for task, block in agg.items():
        lines += task_sections(task, block)
    lines += ["## Data hashes", "", "One SHA-256 per data set: over its sorted per-language SHA-256s (those are in "
              "every unit JSON, under `data`). A single row per data set means every unit read the same data.", "",
              "| data | digest | units |", "|---|---|---|", *[f"| {k} | `{v}` | {n} |" for k, v, n in hashes], ""]
    return "\n".join(lines)
