"""``xalign compare``: the same probe on several models, with paired bootstrap deltas."""

from __future__ import annotations

import argparse

from xalign.cli.common import add_data_args, quiet_transformers


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="probe models on identical inputs and test per-layer differences (before vs after)",
        description="Runs the probe on --before and every --after model over the same sentences, preset and "
                    "seeds; reports per layer and metric each model's value and the paired difference with a "
                    "paired bootstrap 95%% CI and p-value, plus model x model layer CKA. Writes compare.json, "
                    "models/<label>/ (full probe runs) and report.html.")
    p.add_argument("--before", required=True, help="reference model (hub id, directory or 'default')")
    p.add_argument("--after", action="append", required=True, help="model(s) to compare (repeatable)")
    p.add_argument("--label", action="append", default=None,
                   help="labels for before and each after model, in order (repeatable)")
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default=None)
    add_data_args(p)
    p.add_argument("--layers", default="all")
    p.add_argument("--preset", default="default", choices=["default", "xtreme-tatoeba", "mteb"])
    p.add_argument("--pooling", default=None, choices=["mean", "mean_all", "cls"])
    p.add_argument("--no-bli", action="store_true")
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--n-boot-cka", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-report", action="store_true")
    p.add_argument("--out", default="runs/compare")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xalign.pipelines.compare import CompareConfig, compare
    from xalign.pipelines.probe import ProbeConfig

    pconf = ProbeConfig(pairs=args.pair or ["en-sw"], data=args.data, src_file=args.src_file, tgt_file=args.tgt_file,
                        split=args.split, limit=args.limit, strict=args.strict, layers=args.layers,
                        preset=args.preset, pooling=args.pooling, bli=not args.no_bli, n_boot=args.n_boot,
                        n_boot_cka=args.n_boot_cka, seed=args.seed, device=args.device, dtype=args.dtype,
                        report=not args.no_report)
    config = CompareConfig(before=args.before, after=args.after, labels=args.label, probe=pconf)
    quiet_transformers(args)
    result = compare(config, out_dir=args.out)
    labels = config.labels or []
    for pair, block in result.pairs.items():
        print(f"{pair} (n = {block['n']})")
        for entry in block["layers"]:
            for key in (f"retrieval.csls.{block['src_lang']}->{block['tgt_lang']}.p@1", "cka.linear"):
                values = entry["metrics"].get(key)
                if not values:
                    continue
                parts = [f"{lab} {values[lab]:.3f}" for lab in labels if values.get(lab) is not None]
                for lab in labels[1:]:
                    if lab in values.get("ci95", {}):
                        lo, hi = values["ci95"][lab]
                        parts.append(f"Δ{lab} {values['delta'][lab]:+.3f} [{lo:+.3f}, {hi:+.3f}] "
                                     f"p={values['p_value'][lab]:.3f}")
                print(f"  layer {entry['layer']:>2} {key:<32} " + "  ".join(parts))
    print(f"wrote {args.out}/ (compare.json, models/, report.html)")
    return 0
