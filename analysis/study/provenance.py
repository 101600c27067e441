"""What RESULTS.md says about how it was made: data digests, measured cost, package versions, the sizes each
comparison rests on and how the zero-shot column weighs languages. Pure functions of the units and design."""

from __future__ import annotations

from typing import Any

from analysis.study.aggregate import Results
from analysis.study.design import Design
from analysis.study.units import unit_name


def _digest(by_lang: Any) -> str:
    from xalign.io import sha256_texts

    if isinstance(by_lang, dict):
        return sha256_texts(f"{k}={v}" for k, v in sorted(by_lang.items()))
    return str(by_lang)


def data_hashes(results: Results) -> list[tuple[str, str, int]]:
    """(data set, digest, number of units that read it): probe corpora, evaluation splits, training files."""
    seen: dict[tuple[str, str], int] = {}
    for (task, _, _), rec in results.items():
        data = rec.get("data", {})
        found = [(f"probe {n}", _digest(h.get("sha256"))) for n, h in data.get("probe", {}).items()]
        found += [(f"{task} eval {split}", _digest(h.get("sha256"))) for split, h in data.get("eval", {}).items()
                  if isinstance(h, dict) and "sha256" in h]
        if data.get("train_file_sha256"):
            found.append((f"{task} training file", data["train_file_sha256"]))
        for key in found:
            seen[key] = seen.get(key, 0) + 1
    return sorted((k, v, n) for (k, v), n in seen.items())


def time_words(results: Results, cores: int = 2) -> str:
    """The measured cost: the sum of the units' wall-clock times, and the core-hours they occupied (a unit's
    time × its recorded torch threads; a unit that predates that record counts as using all ``cores``, an upper
    bound), i.e. hours of a ``cores``-core machine."""
    units = [(float(r.get("timings", {}).get("unit_s", 0.0)), r.get("host", {}).get("torch_threads"))
             for r in results.values()]
    wall = sum(s for s, _ in units) / 3600
    core = sum(s * min(t or cores, cores) for s, t in units) / 3600
    unknown = sum(1 for _, t in units if t is None)
    return (f"measured {wall:.2f} h summed over the units' wall-clock times (training, evaluation and probe); "
            f"{core:.2f} core-hours, i.e. about {core / cores:.2f} h of a {cores}-core machine"
            + (f" ({unknown} unit(s) without a thread record counted at {cores} threads, an upper bound)" if unknown
               else "") + "; each unit's host and timings are in its JSON")


def versions_words(results: Results) -> str:
    """The package versions the units recorded: one line when every unit ran the same, else each set with the
    units that ran it (a mixed study is shown, not hidden)."""
    sets: dict[str, list[str]] = {}
    for key, rec in sorted(results.items(), key=lambda kv: str(kv[0])):
        text = ", ".join(f"{k} {v}" for k, v in sorted(rec.get("versions", {}).items())) or "not recorded"
        sets.setdefault(text, []).append(unit_name(*key))
    if len(sets) == 1:
        return f"Versions (all {len(results)} units): {next(iter(sets))}"
    return "Versions differ between units: " + "; ".join(f"{text} ({', '.join(f'`{u}`' for u in units)})"
                                                        for text, units in sets.items())


def sizes_words(design: Design) -> str:
    """How much data each comparison rests on, from the design (the ``cannot show`` sentence)."""
    per = "; ".join(f"{task}: {t.n_eval or 'all'} items per language" for task, t in design.tasks.items())
    return f"{per}; {len(design.seeds)} seeds per method, {len(design.offline_seeds)} for the offline-copies pair"


def pooling_words(design: Design) -> str:
    """How the zero-shot column weighs languages: each item is averaged over its split's reported non-English
    languages and the splits' items are pooled (equal item counts per split), so a language weighs
    1 / (number of splits × its split's languages)."""
    out = []
    for task, t in design.tasks.items():
        splits = {sp: [lg for lg in langs if lg != "en"] for sp, langs in t.report.items()}
        splits = {sp: langs for sp, langs in splits.items() if langs}
        weights = ", ".join(f"{sp}:{lg} 1/{len(splits) * len(langs)}" for sp, langs in splits.items() for lg in langs)
        if len(splits) < 2:
            out.append(f"{task}: every non-English language equally")
        elif t.n_eval is None:  # every item of each split: splits weigh by their item counts
            out.append(f"{task}: each split's languages share its items' weight, splits by their item counts")
        else:
            out.append(f"{task}: {weights}")
    return ("Zero-shot pools items (each averaged over its split's reported non-English languages), so languages "
            "weigh: " + "; ".join(out) + ".")
