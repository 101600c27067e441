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
    p.add_argument("--overwrite", action="store_true",
                   help="replace the xalign train run in --out: the new run is built beside it and swapped in when "
                        "it finishes (a failed or killed new run leaves the old one intact)")

    p.add_argument("--recipe", help="a published recipe: robust-xlt (Huang et al. 2021 via XTREME: lr 2e-5, batch 32, "
                                    "max length 128, random batches; XNLI 1 epoch, dev evaluation every 1000 steps; "
                                    "PAWS-X 3 epochs, every 500; best checkpoint by English dev accuracy; rs-da with "
                                    "3 / 10 offline copies). Flags you give win; config.json records each value's "
                                    "source; a too-long evaluation interval is scaled to the run and logged")

    g = p.add_argument_group("model")
    g.add_argument("--model", help="'default' (bundled multilingual-e5-small), a local HF directory or a hub id")
    g.add_argument("--trust-remote-code", action="store_true", help="allow model code from the hub")
    g.add_argument("--allow-pickle", action="store_true",
                   help="also load pickle weights (pytorch_model.bin) when a model has no safetensors; unpickling "
                        "can run code, so only for files you trust (default: safetensors only)")

    g = p.add_argument_group("data")
    g.add_argument("--task", help="xnli (default), pawsx, or pairs (your --train-file/--select-file/--eval-file)")
    g.add_argument("--data-dir", help="local copy of the task's dev/test data: XTREME layout (<split>-<lang>.tsv, flat, "
                                      "in dev/ and test/ or any subfolder), PAWS-X x-final (<lang>/dev_2k.tsv …) or "
                                      "myXNLI; default: the HF hub")
    g.add_argument("--data-layout", help="auto (default: per split, the source with the most languages), xtreme, "
                                         "x-final or myxnli")
    g.add_argument("--protocol", help="standard (train/dev/test, default) or noleak (train on test items, select "
                                      "and evaluate on disjoint dev items; for local XNLI copies)")
    g.add_argument("--train-lang", help="training language (default en)")
    g.add_argument("--eval-langs", help="comma-separated evaluation languages, or all (default en)")
    g.add_argument("--eval-splits", help="test (default), dev, or test,dev: with dev, English dev items are halved "
                                         "(selection on one half, dev evaluation on the other)")
    g.add_argument("--generalized", action=argparse.BooleanOptionalAction,
                   help="also the l1 x l2 accuracy matrix (sentence 1 in l1, sentence 2 in l2), on the items every "
                        "one of its languages has")
    g.add_argument("--generalized-langs", help="comma-separated languages of the matrix (default: all evaluated)")
    g.add_argument("--generalized-n", type=int, help="a seeded subsample of items for the matrix (same in every cell)")
    g.add_argument("--generalized-split", help="split of the matrix (default: the first that has its languages)")
    g.add_argument("--data-seed", type=int, help="seed of item subsamples and dev halves (default: --seed)")
    g.add_argument("--n-train", type=int, help="training items (default: all)")
    g.add_argument("--n-select", type=int, help="model-selection (dev) items (default: all / half the dev set)")
    g.add_argument("--n-eval", type=int, help="evaluation items per language (default: all)")
    g.add_argument("--train-file", help="training file: TSV (with header) or JSONL; with --task xnli/pawsx a MultiNLI "
                                        "JSONL (premise/hypothesis/label) or PAWS TSV (id sentence1 sentence2 label)")
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
    g.add_argument("--adv-weight", type=float, help="weight of the adversarial loss (default 1.0; mixed only)")
    g.add_argument("--adv-objective", help="mixed (default), adv-only or freelb — see below")
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
    g.add_argument("--rsda-paired", action=argparse.BooleanOptionalAction,
                   help="ablation: replace a word the same way in both sentences of an item (default off)")
    g.add_argument("--freeze-embeddings", action=argparse.BooleanOptionalAction,
                   help="do not train the word-embedding matrix (position/type embeddings and layers still train; "
                        "default off)")

    g.add_argument("--head", choices=["stock", "mean"],
                   help="classification head: stock (the model's own; for BERT a [CLS] pooler, freshly initialised "
                        "when the encoder stores none, as e5 does) or mean (one linear layer over the mean of every "
                        "token's last hidden state, how e5 pools); default stock")

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
                   help="batch pairs of similar length (default off: random batches, as the recipe and a plain "
                        "transformers fine-tune; see analysis/baseline_parity.json)")
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
    for key in ("eval_langs", "eval_splits", "generalized_langs"):
        if key in overrides:
            overrides[key] = [x.strip() for x in overrides[key].split(",") if x.strip()]
    if "label_names" in overrides:
        overrides["label_names"] = [x.strip() for x in overrides["label_names"].split(",") if x.strip()]
    config_file = getattr(args, "config", None)
    if config_file:
        return TrainConfig.from_file(config_file, **overrides)
    return TrainConfig.from_dict(overrides, source="command line")


def run(args: argparse.Namespace) -> int:
    from xalign.cli.common import quiet_transformers
    from xalign.pipelines.train import train

    config = config_from_args(args)
    if not config.progress and not args.verbose:  # transformers' load report and progress bars: --progress or -v
        quiet_transformers(args)
    result = train(config)
    if int(os.environ.get("RANK", "0")) != 0:  # under a launcher, rank 0 reports (the others hold no summary)
        return 0
    metrics = result.metrics
    print(f"run: {result.run_dir}  method: {metrics['method']}  steps: {metrics['steps']}  "
          f"best step: {metrics['select']['best_step']} (dev accuracy {metrics['select']['accuracy']:.4f})")
    smoothed = metrics["eval"].get("smoothed_accuracy", {})
    splits = metrics["eval"].get("splits") or {metrics["eval"].get("split", "eval"): metrics["eval"]}
    for split, res in splits.items():
        print(f"  {split}:" if len(splits) > 1 else "", end="\n" if len(splits) > 1 else "")
        for lang, acc in res["accuracy"].items():
            extra = f"  smoothed {smoothed[lang]:.4f}" if lang in smoothed and split == metrics["eval"]["split"] else ""
            n = res.get("n", {}).get(lang)
            print(f"  {'  ' if len(splits) > 1 else ''}{lang}: accuracy {acc:.4f}" + (f" (n = {n})" if n else "")
                  + extra)
    gen = metrics["eval"].get("generalized")
    if gen:
        langs = gen["languages"]
        print(f"  generalized on {gen.get('n', '?')} {gen.get('split', '')} items (rows: sentence 1, columns: "
              f"sentence 2)")
        print("        " + " ".join(f"{x:>7}" for x in langs))
        for lang, row in zip(langs, gen["matrix"]):
            print(f"  {lang:>5} " + " ".join(f"{x:7.4f}" for x in row))
    return 0
