"""``xalign align``: word alignment of a bitext with an encoder, scored against gold."""

from __future__ import annotations

import argparse

from xalign.cli.common import add_model_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("align", help="align words with an encoder (SimAlign/awesome-align methods) and score vs gold",
                       description="Writes <out>/alignments.txt (0-indexed Pharaoh, one line per pair), "
                                   "<out>/metrics.json (precision, recall, F1, AER with a bootstrap CI) and "
                                   "<out>/manifest.json; a previous align run in --out is replaced atomically, "
                                   "any other folder is refused.")
    add_model_args(p)
    p.add_argument("--bitext", default=None, help="'src ||| tgt' file (pre-tokenized), or JSONL gold with words")
    p.add_argument("--src-file", default=None, help="source sentences (pre-tokenized, optional 'id<TAB>' column)")
    p.add_argument("--tgt-file", default=None, help="target sentences, line-aligned with --src-file")
    p.add_argument("--gold", required=True, help="gold links: Pharaoh (i-j sure, ipj possible) or JSONL")
    p.add_argument("--one-indexed", action="store_true", help="gold indices start at 1")
    p.add_argument("--possible-mark", default="p", help="separator marking possible links (default 'p')")
    p.add_argument("--method", default="itermax", choices=["argmax", "itermax", "match", "softmax"],
                   help="alignment from the similarity matrix: SimAlign's argmax/itermax/match or "
                        "awesome-align's softmax (default: itermax)")
    p.add_argument("--level", default="subword", choices=["subword", "word"],
                   help="align subword tokens and map links to words, or average subwords into words first "
                        "(default: subword)")
    p.add_argument("--layer", type=int, default=8, help="hidden_states index (SimAlign/awesome-align use 8)")
    p.add_argument("--n-boot", type=int, default=1000,
                   help="bootstrap resamples for the AER confidence interval; 0 = none (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    p.add_argument("--out", default="runs/align",
                   help="run folder: absent, empty or an earlier align run (default: runs/align)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xalign.cli.common import load_encoder_from_args
    from xalign.pipelines.align import align

    gold_args = dict(gold=args.gold, bitext=args.bitext, src_file=args.src_file, tgt_file=args.tgt_file,
                     one_indexed=args.one_indexed, possible_mark=args.possible_mark)
    run_, gold = align(gold_args, load_model=lambda: load_encoder_from_args(args), layer=args.layer,
                       method=args.method, level=args.level, n_boot=args.n_boot, seed=args.seed, out_dir=args.out)
    print(f"{len(gold.src_words)} pairs, layer {run_.layer}, {run_.metrics.summary()}")
    if gold.out_of_range:
        print(f"note: {gold.out_of_range} gold links pointed outside their sentence and were dropped")
    print(f"wrote {args.out}/ (manifest.json, alignments.txt, metrics.json)")
    return 0
