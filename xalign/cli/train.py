"""``xalign train``: robust fine-tuning (baseline, adv, rs-rp, rs-da) and zero-shot evaluation."""

from __future__ import annotations

import argparse
import os
from typing import Any

_S = argparse.SUPPRESS  # only flags the user gives override the config file / the defaults

METHODS_HELP = """methods (Huang et al., EMNLP 2021):
  baseline  cross-entropy on clean inputs (XTREME recipe: AdamW lr 2e-5, eps 1e-8, no decay, linear schedule,
            no warm-up, clip 1.0, max length 128, batch 32, seed 7, best checkpoint by dev accuracy)
  adv       PGD on the word embeddings: --adv-steps K of size --adv-alpha in an --adv-eps ball (--adv-norm l2|linf,
            --adv-scope token|sequence); loss = CE(clean) + --adv-weight * CE(adversarial)
  rs-rp     randomized smoothing, random perturbation: CE on embeddings + noise (--rs-noise gaussian with --rs-sigma,
            or uniform in an --rs-eps ball); --smooth-n N adds smoothed accuracy (majority vote over N noisy copies)
  rs-da     randomized smoothing, data augmentation: each whitespace word with substitutes is replaced uniformly from
            {word} + its substitutes (--rsda-sources synonyms,embedding,dictionary), seeded per epoch and item

examples:
  xalign train --config examples/train_xnli_small.yaml
  xalign train --task xnli --data-dir ../shared/data/xnli_via_myxnli --protocol noleak --n-train 2000 \\
      --method rs-da --synonyms ../shared/data/synonyms/counterfitted_neighbors.json \\
      --eval-langs en,sw,ur --generalized --out runs/rsda
  xalign train --config run.yaml --out runs/a --resume        # continue a killed run from its last checkpoint
"""


def _kv(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="robust fine-tuning on XNLI/PAWS-X/your pairs and zero-shot cross-lingual evaluation",
        description="Fine-tune an encoder for sentence-pair classification with a robust-training method and "
                    "evaluate zero-shot in other languages. Writes config.json, log.csv, checkpoints/, encoder/, "
                    "model/, manifest.json and, last, train_metrics.json into --out. Settings come from --config "
                    "(YAML/JSON; same keys as the flags with '_') and flags given on the command line win. "
                    "Unset flags take the values shown in the config file or the defaults below.",
        epilog=METHODS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter, argument_default=_S)
    p.add_argument("--config", help="YAML or JSON file of settings (flags override it)")
    p.add_argument("--out", help="run directory (default runs/train)")
    p.add_argument("--resume", action="store_true", help="continue the unfinished run in --out from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="delete a previous run's outputs in --out first")

    g = p.add_argument_group("model")
    g.add_argument("--model", help="'default' (bundled multilingual-e5-small), a local HF directory or a hub id")
    g.add_argument("--trust-remote-code", action="store_true", help="allow model code from the hub")

    g = p.add_argument_group("data")
    g.add_argument("--task", help="xnli (default), pawsx, or pairs (your --train-file/--select-file/--eval-file)")
    g.add_argument("--data-dir", help="local copy (myXNLI or PAWS-X x-final layout); default: the HF hub")
    g.add_argument("--protocol", help="standard (train/dev/test, default) or noleak (train on test items, select "
                                      "and evaluate on disjoint dev items; for local XNLI copies)")
    g.add_argument("--train-lang", help="training language (default en)")
    g.add_argument("--eval-langs", help="comma-separated evaluation languages (default en)")
    g.add_argument("--generalized", action=argparse.BooleanOptionalAction,
                   help="also the l1 x l2 accuracy matrix (sentence 1 in l1, sentence 2 in l2)")
    g.add_argument("--n-train", type=int, help="training items (default: all)")
    g.add_argument("--n-select", type=int, help="model-selection (dev) items (default: all / half the dev set)")
    g.add_argument("--n-eval", type=int, help="evaluation items per language (default: all)")
    g.add_argument("--train-file", help="task pairs: TSV (with header) or JSONL training file")
    g.add_argument("--select-file", help="task pairs: model-selection file")
    g.add_argument("--eval-file", type=_kv, action="append", metavar="LANG=FILE", help="task pairs: evaluation file "
                                                                                     "(repeatable)")
    g.add_argument("--column", type=_kv, action="append", metavar="KEY=NAME",
                   help="task pairs: file column for sentence1, sentence2, label or item_id (repeatable)")
    g.add_argument("--label-names", help="task pairs: comma-separated label names in class order")

    g = p.add_argument_group("method")
    g.add_argument("--method", help="baseline (default), adv, rs-rp or rs-da — see below")
    g.add_argument("--adv-steps", type=int, help="PGD steps K (default 1)")
    g.add_argument("--adv-eps", type=float, help="radius of the perturbation ball (default 0.1)")
    g.add_argument("--adv-alpha", type=float, help="PGD step size (default 0.1)")
    g.add_argument("--adv-norm", help="l2 (default) or linf")
    g.add_argument("--adv-scope", help="token (one ball per token, default) or sequence (one ball per sentence)")
    g.add_argument("--adv-random-start", action=argparse.BooleanOptionalAction, help="start PGD uniformly in the ball")
    g.add_argument("--adv-weight", type=float, help="weight of the adversarial loss (default 1.0)")
    g.add_argument("--rs-noise", help="gaussian (default) or uniform")
    g.add_argument("--rs-sigma", type=float, help="Gaussian noise standard deviation (default 0.01)")
    g.add_argument("--rs-eps", type=float, help="uniform-noise ball radius (default 0.1)")
    g.add_argument("--rs-norm", help="uniform-noise ball: l2 (default) or linf")
    g.add_argument("--smooth-n", type=int, help="also report smoothed accuracy over N noisy copies (default 0: off)")
    g.add_argument("--rsda-sources", help="comma-separated: synonyms (default), embedding, dictionary")
    g.add_argument("--synonyms", help="JSON {word: [substitutes]} file (e.g. counterfitted_neighbors.json)")
    g.add_argument("--dictionary", dest="dictionaries", action="append", metavar="FILE",
                   help="bilingual dictionary foreign<TAB>english for code-switching (repeatable)")
    g.add_argument("--embed-k", type=int, help="embedding-neighbour substitutes per word (default 8)")
    g.add_argument("--embed-min-cos", type=float, help="minimum cosine of an embedding neighbour (default 0.5)")
    g.add_argument("--rsda-copies", type=int, help="N precomputed augmented copies instead of on-the-fly (default 0)")

    g = p.add_argument_group("optimisation")
    g.add_argument("--lr", dest="learning_rate", type=float, help="learning rate (default 2e-5)")
    g.add_argument("--adam-epsilon", type=float, help="AdamW epsilon (default 1e-8)")
    g.add_argument("--weight-decay", type=float, help="AdamW weight decay (default 0)")
    g.add_argument("--lr-scheduler", help="linear (default), constant or cosine")
    g.add_argument("--warmup-steps", type=int, help="warm-up steps (default 0)")
    g.add_argument("--max-grad-norm", type=float, help="gradient clipping (default 1.0)")
    g.add_argument("--max-length", type=int, help="max tokens per pair (default 128)")
    g.add_argument("--batch-size", type=int, help="effective batch size over devices and accumulation (default 32)")
    g.add_argument("--grad-accum", type=int, help="gradient accumulation steps (default 1)")
    g.add_argument("--eval-batch-size", type=int, help="evaluation batch size per device (default 64)")
    g.add_argument("--epochs", type=float, help="training epochs (default 1)")
    g.add_argument("--max-steps", type=int, help="optimizer steps (overrides --epochs)")
    g.add_argument("--eval-steps", type=int, help="evaluate and checkpoint every N steps (default: each epoch end "
                                                  "and the last step)")
    g.add_argument("--logging-steps", type=int, help="log the loss every N steps (default 10)")
    g.add_argument("--save-total-limit", type=int, help="checkpoints kept besides the best (default 2)")
    g.add_argument("--keep-checkpoints", action=argparse.BooleanOptionalAction,
                   help="keep checkpoints/ after a finished run (default: delete)")
    g.add_argument("--seed", type=int, help="seed for data subsets, initialisation, dropout and noise (default 7)")

    g = p.add_argument_group("hardware and logging")
    g.add_argument("--precision", help="auto (bf16 on a capable GPU, else fp32), fp32, bf16 or fp16")
    g.add_argument("--device", help="auto (CUDA when available, default) or cpu")
    g.add_argument("--group-by-length", action=argparse.BooleanOptionalAction,
                   help="batch pairs of similar length (default on)")
    g.add_argument("--num-workers", type=int, help="data-loader workers (default 0)")
    g.add_argument("--report-to", help="comma-separated Trainer integrations, e.g. wandb (default none)")
    g.add_argument("--tensorboard", action=argparse.BooleanOptionalAction,
                   help="TensorBoard logs in <out>/tensorboard (default: when tensorboard is installed)")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, help="show progress bars")
    p.set_defaults(func=run)


_NOT_CONFIG = {"config", "func", "command", "verbose", "quiet"}


def config_from_args(args: argparse.Namespace):
    """The validated ``TrainConfig``: the ``--config`` file (if any) with the given flags on top."""
    from xalign.pipelines.train import TrainConfig

    overrides: dict[str, Any] = {k: v for k, v in vars(args).items() if k not in _NOT_CONFIG}
    if "eval_file" in overrides:
        overrides["eval_files"] = dict(overrides.pop("eval_file"))
    if "column" in overrides:
        overrides["columns"] = dict(overrides.pop("column"))
    if "label_names" in overrides:
        overrides["label_names"] = [x.strip() for x in overrides["label_names"].split(",") if x.strip()]
    config_file = getattr(args, "config", None)
    if config_file:
        return TrainConfig.from_file(config_file, **overrides)
    return TrainConfig.from_dict(overrides, source="command line")


def run(args: argparse.Namespace) -> int:
    from xalign.pipelines.train import train

    result = train(config_from_args(args))
    if int(os.environ.get("RANK", "0")) != 0:  # under a launcher, rank 0 reports (the others hold no summary)
        return 0
    metrics = result.metrics
    print(f"run: {result.run_dir}  method: {metrics['method']}  steps: {metrics['steps']}  "
          f"best step: {metrics['select']['best_step']} (dev accuracy {metrics['select']['accuracy']:.4f})")
    smoothed = metrics["eval"].get("smoothed_accuracy", {})
    for lang, acc in metrics["eval"]["accuracy"].items():
        extra = f"  smoothed {smoothed[lang]:.4f}" if lang in smoothed else ""
        print(f"  {lang}: accuracy {acc:.4f}{extra}")
    gen = metrics["eval"].get("generalized")
    if gen:
        langs = gen["languages"]
        print("  generalized (rows: sentence 1, columns: sentence 2): " + " ".join(f"{x:>7}" for x in langs))
        for lang, row in zip(langs, gen["matrix"]):
            print(f"  {lang:>52}: " + " ".join(f"{x:7.4f}" for x in row))
    return 0
