"""``xalign probe``: every alignment metric on every layer, summary printed, run directory written."""

from __future__ import annotations

import argparse

from xalign.cli.flags import add_setting_flags, settings_from_args

MODEL_FIELDS = ["model", "device", "dtype", "revision", "trust_remote_code", "allow_pickle"]
DATA_FIELDS = ["pairs", "langs", "src_file", "tgt_file", "data", "split", "limit", "strict"]
PROBE_FIELDS = ["layers", "preset", "pooling", "prefix", "dictionary", "bli", "gold", "gold_pair", "gold_bitext",
                "gold_src_file", "gold_tgt_file", "gold_one_indexed", "align_method", "n_boot", "n_boot_cka", "seed",
                "batch_size", "report", "progress"]
FLAG_NAMES = {"pairs": "pair"}  # repeatable flags are singular


def add_parser(sub: argparse._SubParsersAction) -> None:
    from xalign.pipelines.probe import ProbeConfig

    p = sub.add_parser(
        "probe", help="measure cross-lingual alignment of every layer (retrieval, CKA, BLI, word alignment)",
        description="Embed a parallel corpus once with every layer and compute sentence retrieval (cosine, CSLS, "
                    "margin, centred cosine; both directions; P@1/5/10, MRR, hubness), cross-lingual CKA (linear, "
                    "debiased), bilingual lexicon induction when a dictionary for the pair is known, and word "
                    "alignment when gold is given. Writes metrics.json, metrics.csv, details.json, embeddings/ "
                    "and report.html into --out. With no data arguments the bundled FLORES-200 demo set is used. "
                    "--pair en-all --data sib200:DIR probes English against every other language of a SIB-200 "
                    "folder (sentence-level metrics; English embedded once; a killed run resumes) and adds "
                    "languages.csv (best layer, P@1 there and at the last layer).")
    add_setting_flags(p, ProbeConfig, MODEL_FIELDS, title="model")
    add_setting_flags(p, ProbeConfig, DATA_FIELDS, title="data", flags=FLAG_NAMES)
    add_setting_flags(p, ProbeConfig, PROBE_FIELDS, title="probe")
    p.add_argument("--out", default="runs/probe", help="run directory (replaced atomically)")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    from xalign.pipelines.probe import ProbeConfig

    from xalign.settings import from_mapping

    values = settings_from_args(args, ProbeConfig, MODEL_FIELDS + DATA_FIELDS + PROBE_FIELDS)
    return from_mapping(ProbeConfig, values, source="command line")


def format_summary(result) -> list[str]:
    """Best layer per headline metric with its value and CI, one line each (labels from the registry)."""
    from xalign.results.registry import format_value, is_headline, metric_label

    lines = []
    for name, pair in result.pairs.items():
        lines.append(f"{name}  (n = {pair.n}, {len(pair.layers)} layers)")
        for key, best in sorted(pair.best.items()):
            if not is_headline(key):
                continue
            mv = pair.layer(best.layer).values[key]
            ci = f"  [{format_value(key, mv.ci95[0])}, {format_value(key, mv.ci95[1])}]" if mv.ci95 else ""
            lines.append(f"  {metric_label(key):<32} {key:<34} layer {best.layer:>2}  {format_value(key, best.value)}{ci}")
        lines += [f"  note: {note}" for note in pair.notes]
    return lines


def format_languages(result) -> list[str]:
    """One line per language of a many-language probe: P@1 at the best and at the last layer."""
    from xalign.results.summary import language_summaries

    rows = language_summaries(result)
    if not rows:
        return []
    lines = [f"{rows[0].metric.split('.')[1]} P@1, {rows[0].src_lang} → language  (best layer / last layer)"]
    for s in sorted(rows, key=lambda r: -r.best_value):
        lines.append(f"  {s.pair:<20} n={s.n:<5} layer {s.best_layer:>2} {s.best_value:.3f}   layer {s.last_layer:>2} "
                     f"{s.last_value:.3f}")
    return lines


def run(args: argparse.Namespace) -> int:
    from xalign.cli.common import quiet_transformers
    from xalign.pipelines.probe import probe

    config = config_from_args(args)
    quiet_transformers(args)
    result = probe(config, out_dir=args.out)
    if config.many:
        print("\n".join(format_languages(result.typed)))
        for note in result.manifest.get("data", {}).get("notes", []):
            print(f"note: {note}")
        written = "manifest.json, metrics.json, metrics.csv, languages.csv, details.json" + (
            ", report.html" if config.report else "")
    else:
        print("\n".join(format_summary(result.typed)))
        written = "manifest.json, metrics.json, metrics.csv, details.json, embeddings/" + (
            ", report.html" if config.report else "")
    print(f"wrote {args.out}/ ({written}); preset: {config.preset}, pooling: {config.resolved_pooling}")
    return 0
