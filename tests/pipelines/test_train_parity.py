"""``xalign train --method baseline`` is a plain transformers fine-tune (issue 11, section 7).

On a tiny model, xalign's baseline with its default random batches takes exactly the steps that
``AutoModelForSequenceClassification`` + ``transformers.Trainer`` take on the same data, seed and recipe: the same
losses at every step and the same final weights. With length-grouped batches (the old default) the steps differ.
The full-size comparison on MultiNLI → XNLI over seeds is ``analysis/bench_baseline_parity.py``.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from xalign.pipelines.train import TrainConfig, train

from ..robust.conftest import _one_thread, synthetic_pairs  # noqa: F401 - autouse fixture: one torch thread
from .test_train import _write_pairs

NAMES = ["same", "different", "shuffled"]


def _plain_finetune(model_dir, train_file, out, *, seed, steps, lr, batch):
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainerCallback, TrainingArguments, set_seed)

    snapshots = {}

    class Snapshot(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            snapshots[state.global_step] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    with open(train_file, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    set_seed(seed)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=3)
    data = [dict(tok(r["sentence1"], r["sentence2"], truncation=True, max_length=64), labels=NAMES.index(r["label"]))
            for r in rows]
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=batch, learning_rate=lr, max_steps=steps,
                             lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0, adam_epsilon=1e-8,
                             max_grad_norm=1.0, seed=seed, logging_steps=1, save_strategy="no", eval_strategy="no",
                             report_to=["none"], use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorWithPadding(tok),
                      callbacks=[Snapshot()])
    trainer.train()
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    return losses, snapshots


@pytest.mark.parametrize("grouped", [False, True])
def test_baseline_equals_plain_transformers_finetune(tmp_path, tiny_bert_dir, grouped):
    a, b, y = synthetic_pairs(24, seed=1)
    train_file = _write_pairs(tmp_path / "train.tsv", a, b, y, [f"t{i}" for i in range(24)])
    a, b, y = synthetic_pairs(6, seed=2)
    dev = _write_pairs(tmp_path / "dev.tsv", a, b, y, [f"d{i}" for i in range(6)])
    cfg = TrainConfig(out=str(tmp_path / "x"), model=str(tiny_bert_dir), task="pairs", train_file=train_file,
                      select_file=dev, eval_files={"en": dev}, columns={"item_id": "id"}, label_names=NAMES,
                      max_length=64, batch_size=4, max_steps=10, logging_steps=1, learning_rate=3e-3, seed=5,
                      device="cpu", group_by_length=grouped)
    result = train(cfg)
    ours = [h["loss"] for h in result.metrics.history]
    theirs, snapshots = _plain_finetune(tiny_bert_dir, train_file, tmp_path / "p", seed=5, steps=10, lr=3e-3, batch=4)
    assert len(ours) == len(theirs) == 10
    if grouped:  # length-grouped batches are other batches: the runs part at once
        assert not np.allclose(ours, theirs, atol=1e-4)
        return
    np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=0)
    from safetensors.torch import load_file

    # xalign keeps the best checkpoint by dev accuracy: its weights are the plain run's at that step
    best = result.metrics.select.best_step
    assert best in (6, 10)  # evaluations at the epoch end (24 items / batch 4) and at the last step
    saved = load_file(result.run_dir / "model" / "model.safetensors")
    for name, value in snapshots[best].items():
        torch.testing.assert_close(saved[name], value, atol=1e-5, rtol=0)
