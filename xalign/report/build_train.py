"""The sections of a train report: summary, loss curve, accuracy per language (with the chance level), the
generalized l1 × l2 heatmap, accuracy against alignment per language when the run also probed, then the
probe sections.

``train_metrics.json`` is read as a dict: train results are not typed yet (:mod:`xalign.results` has
no ``TrainResult``), so this module is the one place that knows its fields.
"""

from __future__ import annotations

from typing import Any

from xalign.report import figures_train, tables
from xalign.report.build import probe_sections
from xalign.report.build_atlas import accuracy_alignment_block
from xalign.report.options import ReportOptions, safe
from xalign.report.loaders import TrainRun
from xalign.report.page import Block, Section
from xalign.report.style import finite

__all__ = ["train_sections", "train_summary_rows", "chance_level"]

#: above this many evaluation languages the per-language accuracies leave the summary for a collapsed table
_MANY_LANGS = 12


def chance_level(doc: dict[str, Any]) -> float | None:
    """1 / number of labels, from the run's ``config.label_names`` or its task's declared labels; None if unknown."""
    config = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    names = config.get("label_names")
    if isinstance(names, list) and len(names) >= 2:
        return 1.0 / len(names)
    from xalign.data.tasks import task_names, task_spec

    task = str(doc.get("task"))
    labels = task_spec(task).labels if task in task_names() else None
    return 1.0 / len(labels) if labels and len(labels) >= 2 else None


def _curve_note(doc: dict[str, Any]) -> Block | None:
    """A sentence when the run logged too few steps for a curve (e.g. --logging-steps ≥ --max-steps)."""
    history = [h for h in doc.get("history") or [] if isinstance(h, dict) and finite(h.get("loss")) is not None]
    if len(history) >= 2:
        return None
    config = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    every, steps = config.get("logging_steps"), doc.get("steps")
    why = (f"the loss is logged every {every} steps and the run took {steps}" if every is not None and steps is not None
           else "the run logged too few steps")
    return tables.note(f"{len(history)} logged training loss value(s): {why}. Pass a smaller --logging-steps "
                       "for a curve; what was logged is drawn as points.")


def _figures(run: TrainRun) -> list[Block]:
    doc = run.train
    ev = doc.get("eval") if isinstance(doc.get("eval"), dict) else {}
    select = doc.get("select") if isinstance(doc.get("select"), dict) else {}
    chance = chance_level(doc)
    figs: list[Block] = []
    if (note := _curve_note(doc)) is not None:
        figs.append(note)
    if doc.get("history") or select.get("curve"):
        figs.append(safe("loss curve", figures_train.loss_curve, doc.get("history") or [],
                         select_curve=select.get("curve"), best_step=select.get("best_step"), title="training"))
    if isinstance(ev.get("accuracy"), dict) or isinstance(ev.get("smoothed_accuracy"), dict):
        figs.append(safe("accuracy bars", figures_train.accuracy_bars, ev, chance=chance,
                         title="accuracy per language"))
    if isinstance(ev.get("generalized"), dict):
        figs.append(safe("generalized accuracy", figures_train.generalized_heatmap, ev["generalized"], chance=chance,
                         title="generalized cross-lingual accuracy (l1 × l2)"))
    if run.probe is not None and isinstance(ev.get("accuracy"), dict):
        block = accuracy_alignment_block(run.probe, ev, chance=chance)
        if block is not None:
            figs.append(block)
    return figs


def train_sections(run: TrainRun, opts: ReportOptions) -> list[Section]:
    """Summary (method, task, results, config, manifest), loss curve, accuracy bars, generalized heatmap,
    accuracy against alignment, then the probe sections when the run directory also holds a probe."""
    doc = run.train
    rows, per_lang = train_summary_rows(doc)
    summary: list[Block] = [tables.table(["", ""], rows, caption="training run", cls="manifest")]
    if per_lang:
        lang_table = tables.table(["language", "accuracy"], per_lang, caption="accuracy per evaluation language")
        summary.append(lang_table if len(per_lang) <= _MANY_LANGS else
                       tables.collapsible(f"accuracy in each of the {len(per_lang)} languages", lang_table))
    raw: list[Block] = []
    for key, caption in (("config", "configuration"), ("robust", "robustness settings"), ("data", "data")):
        if isinstance(doc.get(key), dict) and doc[key]:
            raw.append(tables.collapsible(caption, tables.table(["field", "value"], list(doc[key].items()),
                                                                cls="manifest")))
    manifest = run.manifest or (doc.get("manifest") if isinstance(doc.get("manifest"), dict) else {})
    if manifest:
        raw.append(tables.collapsible("run manifest", tables.manifest_table(manifest)))
    sections = [Section("Training summary", summary)]
    figs = _figures(run)
    if figs:
        sections.append(Section("Training", figs))
    if run.probe is not None:
        sections += probe_sections(run.probe, opts, manifest_title="Probe summary")
    if raw:
        sections.append(Section("Run details", raw))
    return sections


_TRAIN_LABELS = {"method": "method", "task": "task", "steps": "training steps", "train_runtime_s": "training time",
                 "wall_time_s": "wall time"}


def _duration(seconds: Any) -> str:
    v = finite(seconds)
    if v is None:
        return ""
    return f"{v / 60:.1f} min" if v >= 120 else f"{v:.0f} s"


def train_summary_rows(doc: dict[str, Any]) -> tuple[list[tuple[str, Any]], list[tuple[str, str]]]:
    """Human-labelled, rounded facts of a training run (no per-item strings, no empty values), and the
    accuracy of each evaluation language with its number of items."""
    rows: list[tuple[str, Any]] = []
    for key, label in _TRAIN_LABELS.items():
        value = doc.get(key)
        if value in (None, "", {}, []):
            continue
        rows.append((label, _duration(value) if key.endswith("_s") else value))
    select = doc.get("select") if isinstance(doc.get("select"), dict) else {}
    if finite(select.get("accuracy")) is not None:
        rows.append(("selection accuracy (English dev)", f"{float(select['accuracy']):.3f}"))
    if isinstance(select.get("best_step"), int):
        rows.append(("selected step", select["best_step"]))
    chance = chance_level(doc)
    if chance is not None:
        rows.append(("chance accuracy (1 / labels)", f"{chance:.3f}"))
    ev = doc.get("eval") if isinstance(doc.get("eval"), dict) else {}
    if isinstance(ev.get("split"), str):
        rows.append(("evaluation split", ev["split"]))
    per_lang = []
    correct = ev.get("correct") if isinstance(ev.get("correct"), dict) else {}
    for lang, value in (ev.get("accuracy") or {}).items() if isinstance(ev.get("accuracy"), dict) else []:
        if finite(value) is not None:
            n = len(correct.get(lang, "")) if isinstance(correct.get(lang), str) else 0
            per_lang.append((str(lang), f"{float(value):.3f}" + (f" (n = {n})" if n else "")))
    return rows, per_lang
