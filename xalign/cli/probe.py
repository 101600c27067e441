"""``xalign probe``: every alignment metric on every layer, summary printed, run directory written."""

from __future__ import annotations

import argparse
from pathlib import Path

from xalign.cli.common import add_data_args, add_model_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe", help="measure cross-lingual alignment of every layer (retrieval, CKA, BLI, word alignment)",
        description="Embed a parallel corpus once with every layer and compute sentence retrieval (cosine, CSLS, "
                    "margin, centred cosine; both directions; P@1/5/10, MRR, hubness), cross-lingual CKA (linear, "
                    "debiased), bilingual lexicon induction when a dictionary for the pair is known, and word "
                    "alignment when gold is given. Writes metrics.json, metrics.csv, details.json, embeddings/ "
                    "and report.html into --out. With no data arguments the bundled FLORES-200 demo set is used.")
    add_model_args(p)
    add_data_args(p)
    p.add_argument("--layers", default="all", help="'all' or comma-separated hidden_states indices")
    p.add_argument("--preset", default="default", choices=["default", "xtreme-tatoeba", "mteb"],
                   help="published protocol to follow (recorded in the output)")
    p.add_argument("--pooling", default=None, choices=["mean", "mean_all", "cls"],
                   help="sentence pooling (default: the preset's; 'default' preset = mean over non-special tokens)")
    p.add_argument("--prefix", default=None, help="text prepended to every sentence (off by default)")
    p.add_argument("--dictionary", default=None, help="bilingual dictionary for BLI (default: bundled one for the pair)")
    p.add_argument("--no-bli", action="store_true", help="skip bilingual lexicon induction")
    p.add_argument("--gold", default=None, help="gold word alignments (Pharaoh or JSONL) to score word alignment")
    p.add_argument("--gold-bitext", default=None, help="'src ||| tgt' file the gold refers to")
    p.add_argument("--gold-src-file", default=None)
    p.add_argument("--gold-tgt-file", default=None)
    p.add_argument("--gold-one-indexed", action="store_true")
    p.add_argument("--align-method", default="itermax", choices=["argmax", "itermax", "match", "softmax"])
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for P@1/AER CIs (0 = none)")
    p.add_argument("--n-boot-cka", type=int, default=200, help="bootstrap resamples for CKA CIs (0 = none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--no-report", action="store_true", help="do not write report.html")
    p.add_argument("--out", default="runs/probe", help="run directory (replaced atomically)")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    from xalign.pipelines.probe import ProbeConfig

    return ProbeConfig(
        model=args.model, pairs=args.pair or ["en-sw"], data=args.data, src_file=args.src_file,
        tgt_file=args.tgt_file, split=args.split, limit=args.limit, strict=args.strict, layers=args.layers,
        preset=args.preset, pooling=args.pooling, prefix=args.prefix, bli=not args.no_bli,
        dictionary=args.dictionary, gold=args.gold, gold_bitext=args.gold_bitext, gold_src_file=args.gold_src_file,
        gold_tgt_file=args.gold_tgt_file, gold_one_indexed=args.gold_one_indexed, align_method=args.align_method,
        n_boot=args.n_boot, n_boot_cka=args.n_boot_cka, seed=args.seed, batch_size=args.batch_size,
        device=args.device, dtype=args.dtype, report=not args.no_report)


def format_summary(metrics: dict) -> list[str]:
    """Best layer per headline metric with its value and CI, one line each."""
    lines = []
    for pair, block in metrics["pairs"].items():
        lines.append(f"{pair}  (n = {block['n']}, {len(block['layers'])} layers)")
        by_layer = {e["layer"]: e for e in block["layers"]}
        for key, best in sorted(block["best"].items()):
            node = by_layer[best["layer"]]
            *path, leaf = key.split(".")
            for part in path:
                node = node.get(part, {})
            ci = node.get(f"{leaf}_ci95")
            ci_text = f"  [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
            lines.append(f"  {key:<40} layer {best['layer']:>2}  {best['value']:.3f}{ci_text}")
    return lines


def run(args: argparse.Namespace) -> int:
    from xalign.cli.common import load_encoder_from_args
    from xalign.pipelines.probe import load_corpora, probe

    config = config_from_args(args)
    corpora = load_corpora(config)  # bad data fails before the model is loaded
    encoder = load_encoder_from_args(args)
    result = probe(config, encoder=encoder, corpora=corpora, out_dir=args.out)
    print("\n".join(format_summary(result.metrics())))
    out = Path(args.out)
    written = [p.name for p in sorted(out.iterdir())]
    print(f"wrote {out}/ ({', '.join(written)}); preset: {config.preset}, pooling: {config.resolved_pooling}")
    return 0
