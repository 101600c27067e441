"""Is ``xalign train --method baseline`` equal to a plain transformers fine-tune? (issue 11, section 7)

Three arms on identical data, recipe and seeds, each a resumable unit (one small JSON per arm × seed):

* ``hf-plain``        ``AutoModelForSequenceClassification`` + ``transformers.Trainer``, its default random
                      sampler, the same tokenization (``tokenizer(s1, s2, truncation=True, max_length)``);
* ``xalign-random``   ``xalign.pipelines.train.train`` with ``group_by_length=False`` (random batches, the default);
* ``xalign-grouped``  the same with ``group_by_length=True`` (length-grouped batches, the old default).

``xalign-random`` takes exactly the plain run's steps (``tests/pipelines/test_train_parity.py`` proves it on a
tiny model), so one seed of it checks the identity at full size (``identical_items`` = 1.0) and the other seeds
need not run it: ``--arms hf-plain xalign-grouped``.

Every arm is evaluated once, after the last step, on the same English XNLI dev items (and their Swahili
translations, zero-shot). Per-item correctness is kept, so arms are compared with a paired bootstrap over
items × seeds (:func:`xalign.metrics.significance.paired_item_seed_bootstrap`).

    python analysis/bench_baseline_parity.py --work /tmp/parity            # run missing units, then summarise
    python analysis/bench_baseline_parity.py --work /tmp/parity --summarize-only

The summary (``analysis/baseline_parity.json`` and a markdown table on stdout) is the committed result.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
ARMS = ("hf-plain", "xalign-random", "xalign-grouped")


def _write_tsv(path: Path, rows: list[list[str]]) -> None:
    """Verbatim (no quoting or escaping, as xalign reads TSV); a tab or newline inside a field is an error."""
    lines = ["sentence1\tsentence2\tlabel"]
    for row in rows:
        if any("\t" in x or "\n" in x for x in row):
            raise ValueError(f"a field holds a tab or newline: {row}")
        lines.append("\t".join(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


NAMES = ["entailment", "neutral", "contradiction"]


def prepare(work: Path, n_dev: int) -> dict[str, Path]:
    """Header TSVs for the first ``n_dev`` XNLI dev items in en and sw (the same items), and the MultiNLI
    training pairs as ``train.tsv`` (labels by name, MultiNLI's 0/1/2 = entailment/neutral/contradiction)."""
    rows = [json.loads(line) for line in (DATA / "mnli_en_9k" / "train.jsonl").open(encoding="utf-8")]
    _write_tsv(work / "train.tsv", [[r["premise"], r["hypothesis"], NAMES[int(r["label"])]] for r in rows])
    files = {}
    for lang in ("en", "sw"):
        src = DATA / "xnli_xtreme" / "dev" / f"dev-{lang}.tsv"
        rows = [line.rstrip("\n").split("\t") for line in src.open(encoding="utf-8")][:n_dev]
        files[lang] = work / f"dev-{lang}.tsv"
        _write_tsv(files[lang], rows)
    return files


def _run_xalign(arm: str, seed: int, args, files, out: Path) -> dict:
    from xalign.pipelines.train import TrainConfig, train

    cfg = TrainConfig(out=str(out), model=args.model, task="pairs", train_file=str(files["en"].parent / "train.tsv"),
                      select_file=str(files["en"]), eval_files={k: str(v) for k, v in files.items()},
                      label_names=NAMES, n_train=None,
                      learning_rate=args.lr, epochs=args.epochs, max_steps=args.max_steps, max_length=args.max_length, batch_size=32,
                      seed=seed, group_by_length=(arm == "xalign-grouped"), logging_steps=20, device="cpu",
                      overwrite=True, tensorboard=False)
    result = train(cfg)
    return {lang: result.metrics.eval.correct[lang] for lang in files}


def _run_plain(seed: int, args, files, out: Path) -> dict:
    import numpy as np
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainingArguments, set_seed)

    from xalign.encoders import resolve_model_path

    path = resolve_model_path(args.model)
    set_seed(seed)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3)

    class DS(torch.utils.data.Dataset):
        def __init__(self, a, b, y):
            self.a, self.b, self.y = a, b, y

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            enc = tok(self.a[i], self.b[i], truncation=True, max_length=args.max_length)
            return {**{k: list(v) for k, v in enc.items()}, "labels": self.y[i]}

    rows = [json.loads(line) for line in (DATA / "mnli_en_9k" / "train.jsonl").open(encoding="utf-8")]
    train_ds = DS([r["premise"] for r in rows], [r["hypothesis"] for r in rows], [int(r["label"]) for r in rows])
    targs = TrainingArguments(output_dir=str(out), per_device_train_batch_size=32, per_device_eval_batch_size=64,
                              learning_rate=args.lr, num_train_epochs=args.epochs, max_steps=args.max_steps or -1, weight_decay=0.0,
                              adam_epsilon=1e-8, warmup_steps=0, lr_scheduler_type="linear", max_grad_norm=1.0,
                              seed=seed, save_strategy="no", eval_strategy="no", logging_steps=20,
                              report_to=["none"], use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=targs, train_dataset=train_ds, data_collator=DataCollatorWithPadding(tok))
    trainer.train()
    names = ["entailment", "neutral", "contradiction"]
    correct = {}
    for lang, f in files.items():
        ev = [line.rstrip("\n").split("\t") for line in f.open(encoding="utf-8")][1:]
        ds = DS([r[0] for r in ev], [r[1] for r in ev], [names.index(r[2]) for r in ev])
        pred = trainer.predict(ds)
        ok = np.asarray(pred.predictions).argmax(-1) == np.asarray(pred.label_ids)
        correct[lang] = "".join("1" if c else "0" for c in ok)
    return correct


def run_unit(arm: str, seed: int, args, files, work: Path) -> dict:
    unit = work / "units" / f"{arm}-seed{seed}.json"
    if unit.is_file():
        return json.loads(unit.read_text())
    started = time.time()
    scratch = work / "runs" / f"{arm}-seed{seed}"
    correct = _run_plain(seed, args, files, scratch) if arm == "hf-plain" else _run_xalign(arm, seed, args, files,
                                                                                           scratch)
    rec = {"arm": arm, "seed": seed, "correct": correct, "wall_s": round(time.time() - started, 1),
           "settings": {k: getattr(args, k) for k in ("model", "lr", "epochs", "max_steps", "max_length", "n_dev")}}
    from xalign.io import write_json

    write_json(unit, rec)
    return rec


def summarize(records: list[dict], *, n_boot: int = 10_000) -> dict:
    """Accuracy per arm (mean over its seeds) and paired differences over items × the seeds both arms ran."""
    import numpy as np

    from xalign.metrics.significance import paired_item_seed_bootstrap

    by: dict[str, dict[int, dict]] = {}
    for r in records:
        by.setdefault(r["arm"], {})[r["seed"]] = r
    langs = sorted(records[0]["correct"]) if records else []

    def mat(arm, lang, seeds):
        return np.array([[c == "1" for c in by[arm][s]["correct"][lang]] for s in seeds], dtype=float)

    out: dict = {"arms": {}, "comparisons": {}}
    for arm, runs in by.items():
        seeds = sorted(runs)
        out["arms"][arm] = {"seeds": seeds, "wall_s": [runs[s]["wall_s"] for s in seeds],
                            **{lang: {"accuracy": float(mat(arm, lang, seeds).mean()),
                                      "per_seed": [float(x) for x in mat(arm, lang, seeds).mean(1)]}
                               for lang in langs}}
    for a, b in (("xalign-grouped", "hf-plain"), ("xalign-random", "hf-plain"), ("xalign-grouped", "xalign-random")):
        if a not in by or b not in by:
            continue
        seeds = sorted(set(by[a]) & set(by[b]))
        if not seeds:
            continue
        cmp = {"seeds": seeds}
        for lang in langs:
            x, y = mat(a, lang, seeds), mat(b, lang, seeds)
            res = paired_item_seed_bootstrap(x, y, n_boot=n_boot, seed=0)
            cmp[lang] = {"diff": res.delta, "ci95": list(res.ci95), "p": res.p_value,
                         "identical_items": float((x == y).mean())}
        out["comparisons"][f"{a} - {b}"] = cmp
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", required=True, help="scratch folder for units and runs (resumable)")
    p.add_argument("--model", default="default")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    p.add_argument("--lr", type=float, default=3e-5)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--max-steps", type=int, default=None, help="optimizer steps (overrides --epochs)")
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--n-dev", type=int, default=1000)
    p.add_argument("--summarize-only", action="store_true")
    p.add_argument("--out", default=str(REPO / "analysis" / "baseline_parity.json"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    work = Path(args.work)
    (work / "units").mkdir(parents=True, exist_ok=True)
    files = prepare(work, args.n_dev)
    if not args.summarize_only:
        for seed in args.seeds:  # seed-major: a partial run already has complete pairs to compare
            for arm in args.arms:
                run_unit(arm, seed, args, files, work)
    records = [json.loads(f.read_text()) for f in sorted((work / "units").glob("*.json"))]
    summary = summarize(records)
    summary["settings"] = {k: getattr(args, k) for k in ("model", "lr", "epochs", "max_steps", "max_length", "n_dev")}
    summary["command"] = " ".join(sys.argv)
    from xalign.io import write_json

    write_json(args.out, summary)
    langs = sorted(records[0]["correct"]) if records else []
    print("| arm | seeds | " + " | ".join(langs) + " |\n|---|---|" + "---|" * len(langs))
    for arm, v in summary["arms"].items():
        print(f"| {arm} | {v['seeds']} | " + " | ".join(f"{v[lang]['accuracy']:.4f}" for lang in langs) + " |")
    print("\n| comparison | seeds | " + " | ".join(f"Δ {lang} [95% CI], p" for lang in langs) + " |\n|---|---|"
          + "---|" * len(langs))
    for name, c in summary["comparisons"].items():
        print(f"| {name} | {c['seeds']} | " + " | ".join(
            f"{c[k]['diff']:+.4f} [{c[k]['ci95'][0]:+.4f}, {c[k]['ci95'][1]:+.4f}], p={c[k]['p']:.3f}" for k in langs)
              + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
