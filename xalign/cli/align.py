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
    from xalign.data.gold import load_gold
    from xalign.embed.extract import resolve_layers
    from xalign.errors import ConfigError
    from xalign.io import base_manifest, check_not_busy, check_output, claim_output_dir, sha256_file, write_json
    from xalign.pipelines.align import align_corpus, write_alignment_run

    # settings, gold and --out are checked before the model is loaded
    if args.n_boot < 0:
        raise ConfigError(f"--n-boot must be >= 0, got {args.n_boot}")
    check_output(args.out, kind="dir", command="align")
    check_not_busy(args.out)
    gold = load_gold(args.gold, bitext=args.bitext, src_file=args.src_file, tgt_file=args.tgt_file,
                     one_indexed=args.one_indexed, possible_mark=args.possible_mark)
    encoder = load_encoder_from_args(args)
    layer = resolve_layers([args.layer], encoder.num_layers)
    (run_,) = align_corpus(encoder, gold, layers=layer, method=args.method, level=args.level, n_boot=args.n_boot,
                           seed=args.seed)
    files = [f for f in (args.gold, args.bitext, args.src_file, args.tgt_file) if f]
    manifest = base_manifest(command="align", model=encoder.describe(), method=args.method, level=args.level,
                             layer=layer[0], seed=args.seed,
                             data=[{"path": f, "sha256": sha256_file(f)} for f in files])
    with claim_output_dir(args.out, "align", overwrite=True) as work:  # a previous align run is replaced whole
        write_json(work / "manifest.json", manifest)
        write_alignment_run(run_, gold, work, manifest)
    m = run_.metrics
    ci = m.get("aer_ci95")
    ci_text = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    print(f"{len(gold.src_words)} pairs, layer {layer[0]}, {args.method}/{args.level}: precision {m['precision']:.3f} "
          f"recall {m['recall']:.3f} F1 {m['f1']:.3f} AER {m['aer']:.3f}{ci_text}")
    if gold.out_of_range:
        print(f"note: {gold.out_of_range} gold links pointed outside their sentence and were dropped")
    print(f"wrote {args.out}/ (manifest.json, alignments.txt, metrics.json)")
    return 0
