"""``xalign compare``: the same probe on several models, with paired bootstrap deltas."""

from __future__ import annotations

import argparse

from xalign.cli.flags import add_setting_flags, settings_from_args
from xalign.cli.probe import DATA_FIELDS, FLAG_NAMES

COMPARE_FIELDS = ["device", "dtype", "revision", "trust_remote_code", "allow_pickle", "layers", "preset", "pooling",
                  "prefix", "bli", "dictionary", "n_boot", "n_boot_cka", "seed", "batch_size", "report", "progress"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from xalign.pipelines.probe import ProbeConfig

    p = sub.add_parser(
        "compare", help="probe models on identical inputs and test per-layer differences (before vs after)",
        description="Runs the probe on --before and every --after model over the same sentences, preset and "
                    "seeds; reports per layer and metric each model's value and the paired difference with a "
                    "paired bootstrap 95% CI and p-value, plus model x model layer CKA. Writes compare.json, "
                    "models/<label>/ (full probe runs) and report.html. With --pair en-all --data sib200:DIR: "
                    "per language, with p-values Holm-adjusted across languages and the languages that gained or "
                    "lost significantly.")
    p.add_argument("--before", required=True, help="reference model (hub id, directory or 'default')")
    p.add_argument("--after", action="append", required=True, help="model(s) to compare (repeatable)")
    p.add_argument("--label", action="append", default=None,
                   help="labels for before and each after model, in order (repeatable)")
    add_setting_flags(p, ProbeConfig, DATA_FIELDS, title="data", flags=FLAG_NAMES)
    add_setting_flags(p, ProbeConfig, COMPARE_FIELDS, title="probe")
    p.add_argument("--out", default="runs/compare", help="run folder (absent, empty or an earlier compare run)")
    p.set_defaults(func=run)


def format_pairs(comparison, labels: list[str]) -> list[str]:
    """Per pair and layer: CSLS P@1 and CKA of each model and each paired difference."""
    from xalign.results.registry import format_value, metric_label

    lines = []
    for name, pair in comparison.pairs.items():
        lines.append(f"{name} (n = {pair.n})")
        for entry in pair.layers:
            for key in (f"retrieval.csls.{pair.src_lang}->{pair.tgt_lang}.p@1", "cka.linear"):
                mc = entry.metrics.get(key)
                if mc is None:
                    continue
                parts = [f"{lab} {format_value(key, mc.values[lab])}" for lab in labels
                         if mc.values.get(lab) is not None]
                for lab in labels[1:]:
                    d = mc.deltas.get(lab)
                    if d is not None and d.ci95 is not None:
                        parts.append(f"Δ{lab} {d.value:+.3f} [{d.ci95[0]:+.3f}, {d.ci95[1]:+.3f}] p={d.p_value:.3f}")
                lines.append(f"  layer {entry.layer:>2} {metric_label(key):<20} " + "  ".join(parts))
    return lines


def format_languages(comparison) -> list[str]:
    """A many-language compare: the languages that gained or lost significantly (Holm across languages)."""
    summary = comparison.languages
    if not summary:
        return [f"{len(comparison.pairs)} languages compared"]
    lines = [f"{summary['metric']} at layer {summary['layer']}, Holm across {len(comparison.pairs)} languages, "
             f"alpha {summary['alpha']}:"]
    for lab in summary["gained"]:
        for what in ("gained", "lost"):
            langs = summary[what][lab]
            lines.append(f"  {lab} {what} ({len(langs)}): {', '.join(langs) or '-'}")
    return lines


def run(args: argparse.Namespace) -> int:
    from xalign.cli.common import quiet_transformers
    from xalign.pipelines.compare import CompareConfig, compare
    from xalign.pipelines.probe import ProbeConfig

    from xalign.settings import from_mapping

    pconf = from_mapping(ProbeConfig, settings_from_args(args, ProbeConfig, DATA_FIELDS + COMPARE_FIELDS),
                         source="command line")
    config = CompareConfig(before=args.before, after=args.after, labels=args.label, probe=pconf)
    quiet_transformers(args)
    result = compare(config, out_dir=args.out)
    lines = format_languages(result.comparison) if pconf.many else format_pairs(result.comparison, config.labels or [])
    print("\n".join(lines))
    written = "compare.json" + ("" if pconf.many else ", models/") + (", report.html" if pconf.report else "")
    print(f"wrote {args.out}/ ({written})")
    return 0
