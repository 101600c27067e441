"""``xalign train``: robust fine-tuning (baseline, adv, rs-rp, rs-da) and zero-shot evaluation."""

from __future__ import annotations

import argparse
import os

METHODS_HELP = """methods (Huang et al., EMNLP 2021):
  baseline  cross-entropy on clean inputs (the default settings are XTREME's recipe; best checkpoint by
            dev accuracy)
  adv       PGD on the word embeddings: --adv-steps K of size --adv-alpha in an --adv-eps ball (--adv-norm l2|linf,
            --adv-scope token|sequence, --adv-random-start); the update minimises, by --adv-objective:
              mixed     (default) loss = CE(x) + w * CE(x + d_K), w = --adv-weight; K+1 passes per step
              adv-only  Madry et al., ICLR 2018: loss = CE(x + d_K), no clean term; K+1 passes
              freelb    Zhu et al., ICLR 2020: d_0 uniform in the ball, d_k+1 = proj(d_k + alpha * g_k/|g_k|);
                        loss = (1/K) sum_k CE(x + d_k), i.e. the parameter gradients of all K steps averaged;
                        K passes (published setting: --adv-scope sequence --adv-norm l2)
  rs-rp     randomized smoothing, random perturbation: CE on embeddings + noise (--rs-noise gaussian with --rs-sigma,
            or uniform in an --rs-eps ball); --smooth-n N adds smoothed accuracy (majority vote over N noisy copies)
  rs-da     randomized smoothing, data augmentation: each whitespace word with substitutes is replaced uniformly from
            {word} + its substitutes (--rsda-sources synonyms,embedding,dictionary), seeded per epoch and item

examples:
  xalign train --recipe robust-xlt --task xnli --data-dir ../shared/data/xnli_xtreme \\
      --train-file ../shared/data/mnli_en_9k/train.jsonl --eval-langs all --generalized --generalized-langs en,sw,ur
  xalign train --recipe robust-xlt --task pawsx --data-dir ../shared/data/pawsx_xtreme \\
      --train-file ../shared/data/paws_wiki_en/test.tsv --eval-langs all --eval-splits test,dev --generalized
  xalign train --config examples/train_xnli_small.yaml
  xalign train --task xnli --data-dir ../shared/data/xnli_via_myxnli --protocol noleak --n-train 2000 \\
      --method rs-da --synonyms ../shared/data/synonyms/counterfitted_neighbors.json \\
      --eval-langs en,sw,ur --generalized --out runs/rsda
  xalign train --config run.yaml --out runs/a --resume        # continue a killed run from its last checkpoint
  xalign train --config run.yaml --method adv --adv-objective freelb --adv-steps 3 --adv-scope sequence \\
      --adv-eps 0.5 --adv-alpha 0.1 --freeze-embeddings --out runs/freelb
"""


GROUPS = {
    None: ["out", "resume", "overwrite", "recipe"],
    "model": ["model", "trust_remote_code", "allow_pickle"],
    "data": ["task", "data_dir", "data_layout", "protocol", "train_lang", "eval_langs", "eval_splits", "generalized",
             "generalized_langs", "generalized_n", "generalized_split", "data_seed", "n_train", "n_select", "n_eval",
             "train_file", "select_file", "eval_files", "columns", "label_names"],
    "method": ["method", "adv_steps", "adv_eps", "adv_alpha", "adv_norm", "adv_scope", "adv_random_start",
               "adv_weight", "adv_objective", "rs_noise", "rs_sigma", "rs_eps", "rs_norm", "smooth_n", "rsda_sources",
               "synonyms", "dictionaries", "embed_k", "embed_min_cos", "rsda_copies", "freeze_embeddings", "head"],
    "optimisation": ["learning_rate", "adam_epsilon", "weight_decay", "lr_scheduler", "warmup_steps", "max_grad_norm",
                     "max_length", "batch_size", "grad_accum", "eval_batch_size", "epochs", "max_steps", "eval_steps",
                     "logging_steps", "save_total_limit", "keep_checkpoints", "seed"],
    "hardware and logging": ["precision", "device", "group_by_length", "num_workers", "report_to", "tensorboard",
                             "progress"],
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``train`` flags, generated from the :class:`~xalign.pipelines.train.config.TrainConfig` fields
    (a setting declared there and in no group of :data:`GROUPS` lands in "other settings")."""
    import dataclasses

    from xalign.cli.flags import add_setting_flags
    from xalign.pipelines.train.config import TrainConfig

    p = sub.add_parser(
        "train", help="robust fine-tuning on XNLI/PAWS-X/your pairs and zero-shot cross-lingual evaluation",
        description="Fine-tune an encoder for sentence-pair classification with a robust-training method and "
                    "evaluate zero-shot in other languages. Writes config.json, log.csv, checkpoints/, encoder/, "
                    "model/, manifest.json and, last, train_metrics.json into --out. Settings come from --config "
                    "(YAML/JSON; same keys as the flags with '_') and flags given on the command line win. "
                    "Unset flags take the values shown in the config file or the defaults below.",
        epilog=METHODS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=argparse.SUPPRESS, help="YAML or JSON file of settings (flags override it)")
    grouped = {name for names in GROUPS.values() for name in names}
    for title, names in GROUPS.items():
        add_setting_flags(p, TrainConfig, names, title=title)
    rest = [f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("cli", True) and f.name not in grouped]
    if rest:
        add_setting_flags(p, TrainConfig, rest, title="other settings")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    """The validated ``TrainConfig``: the ``--config`` file (if any) with the given flags on top."""
    from xalign.cli.flags import settings_from_args
    from xalign.pipelines.train.config import TrainConfig

    overrides = settings_from_args(args, TrainConfig)
    if getattr(args, "quiet", False):  # -q: no progress bar either, unless --progress is given
        overrides.setdefault("progress", False)
    config_file = getattr(args, "config", None)
    if config_file:
        return TrainConfig.from_file(config_file, **overrides)
    return TrainConfig.from_dict(overrides, source="command line")


def format_summary(result) -> list[str]:
    """The run folder, the selected step and the accuracy per split and language, from a typed
    :class:`~xalign.pipelines.train.result.TrainResult`."""
    m = result.metrics
    lines = [f"run: {result.run_dir}  method: {m.method}  steps: {m.steps}  best step: {m.select.best_step} "
             f"(dev accuracy {m.select.accuracy:.4f})"]
    smoothed = m.eval.smoothed_accuracy or {}
    several = len(m.eval.splits) > 1
    for split, res in m.eval.splits.items():
        if several:
            lines.append(f"  {split}:")
        for lang, acc in res.accuracy.items():
            n = f" (n = {res.n[lang]})" if res.n.get(lang) else ""
            extra = f"  smoothed {smoothed[lang]:.4f}" if lang in smoothed and split == m.eval.split else ""
            lines.append(f"  {'  ' if several else ''}{lang}: accuracy {acc:.4f}{n}{extra}")
    gen = m.eval.generalized
    if gen is not None:
        lines.append(f"  generalized on {gen.n if gen.n is not None else '?'} {gen.split} items (rows: sentence 1, "
                     f"columns: sentence 2)")
        lines.append("        " + " ".join(f"{x:>7}" for x in gen.languages))
        lines += [f"  {lang:>5} " + " ".join(f"{x:7.4f}" for x in row) for lang, row in zip(gen.languages, gen.matrix)]
    return lines


def run(args: argparse.Namespace) -> int:
    from xalign.cli.common import quiet_transformers
    from xalign.pipelines.train import train

    config = config_from_args(args)
    if not args.verbose:  # transformers' load reports; the training progress bar: --progress (default: a terminal)
        quiet_transformers(args)
    result = train(config)
    if int(os.environ.get("RANK", "0")) != 0:  # under a launcher, rank 0 reports
        return 0
    print("\n".join(format_summary(result)))
    return 0
