"""One-sentence tasks (SIB-200 topic classification): a dataset with ``sentence1``, ``label``, ``item_id`` and no
``sentence2`` trains with every method, evaluates per language, and refuses the generalized evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import DataCollatorWithPadding, TrainingArguments

from xalign.errors import ConfigError
from xalign.robust.config import RobustConfig
from xalign.robust.methods import get_method
from xalign.robust.smoothing import NoiseSpec
from xalign.robust.substitutions import item_rng, substitute
from xalign.robust.trainer import RobustTrainer
from xalign.training.evaluate import check_generalized, evaluate_run

from ..conftest import CORPUS

TOPICS = ["animals", "people", "other"]
SYNONYMS = {"The": ["A"], "cat": ["kitten", "feline"], "dog": ["hound"], "park": ["garden"], "read": ["study"]}


def one_sentence_dataset(texts, *, prefix="s"):
    import datasets

    features = datasets.Features({"sentence1": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=TOPICS), "item_id": datasets.Value("string")})
    labels = [0 if any(w in t for w in ("cat", "dog", "Birds")) else 1 if "Children" in t else 2 for t in texts]
    return datasets.Dataset.from_dict({"sentence1": list(texts), "label": labels,
                                       "item_id": [f"{prefix}{i}" for i in range(len(texts))]}, features=features)


@pytest.fixture
def synonyms_file(tmp_path):
    path = tmp_path / "syn.json"
    path.write_text(json.dumps(SYNONYMS), encoding="utf-8")
    return str(path)


def _settings(method, synonyms_file, **extra):
    values = {"rs_sigma": 0.05, "adv_eps": 0.1, "adv_alpha": 0.1, "synonyms": synonyms_file, **extra}
    return get_method(method).from_config(values)


@pytest.mark.parametrize("method,extra", [("baseline", {}), ("adv", {}), ("adv", {"adv_objective": "freelb"}),
                                          ("rs-rp", {}), ("rs-da", {}), ("rs-da", {"rsda_copies": 2}),
                                          ("rs-da", {"rsda_paired": True})])
def test_each_method_trains_and_evaluates_a_one_sentence_task(tiny_classifier, tmp_path, synonyms_file, method,
                                                              extra):
    model, tok = tiny_classifier
    train_data = one_sentence_dataset(CORPUS[:6] * 2)
    rm = _settings(method, synonyms_file, **extra)
    prepared = rm.train_data(train_data, tok, max_length=32, seed=3, model=model)
    ds = prepared.dataset
    assert ds.one_sentence and len(ds) == 12 * extra.get("rsda_copies", 1)
    for i in range(len(ds)):  # tokenized as one sentence, [CLS] s [SEP], never as a pair
        text, second = ds.texts(i)
        assert second is None
        assert ds[i]["input_ids"] == tok(text, truncation=True, max_length=32)["input_ids"]
    args = TrainingArguments(output_dir=str(tmp_path / "out"), use_cpu=True, report_to="none",
                             per_device_train_batch_size=4, per_device_eval_batch_size=5, learning_rate=1e-2,
                             max_steps=3, logging_steps=1, save_strategy="no", disable_tqdm=True, seed=0)
    trainer = RobustTrainer(model=model, args=args, train_dataset=ds, data_collator=DataCollatorWithPadding(tok),
                            processing_class=tok, robust=RobustConfig(method=method, seed=3), method=rm)
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 3 and np.isfinite(losses).all()

    eval_sets = {"test": {"en": one_sentence_dataset(CORPUS), "xx": one_sentence_dataset([t.lower() for t in CORPUS])}}
    tiny = NoiseSpec(sigma=1e-7)  # smoothed inference with vanishing noise votes for the clean prediction
    results = evaluate_run(trainer, eval_sets, max_length=32, smooth_n=2, noise=tiny, seed=1)
    assert results["smoothed_accuracy"] == results["accuracy"]
    model.eval()
    for lang, data in eval_sets["test"].items():  # reference: one forward pass per sentence, by hand
        with torch.no_grad():
            pred = [int(model(**tok(t, return_tensors="pt")).logits.argmax(-1)) for t in data["sentence1"]]
        correct = "".join("1" if p == y else "0" for p, y in zip(pred, data["label"]))
        assert results["correct"][lang] == correct
        assert results["accuracy"][lang] == pytest.approx(correct.count("1") / len(correct))


def test_offline_copies_of_a_one_sentence_task(tiny_classifier, synonyms_file):
    model, tok = tiny_classifier
    data = one_sentence_dataset(CORPUS[:4])
    prepared = _settings("rs-da", synonyms_file, rsda_copies=3).train_data(data, tok, max_length=32, seed=9)
    copies = prepared.copies
    assert list(copies) == ["item_id", "copy", "sentence1", "label"]  # no sentence2 column
    table = {w: tuple(s) for w, s in SYNONYMS.items()}
    want = [substitute(CORPUS[i], table, item_rng(9, c, i)) for c in range(3) for i in range(4)]
    assert copies["sentence1"] == want == prepared.dataset.sentence1
    assert copies["item_id"] == [f"s{i}" for i in range(4)] * 3 and copies["copy"] == [0] * 4 + [1] * 4 + [2] * 4
    assert copies["label"] == [TOPICS[y] for y in data["label"]] * 3
    assert any(w != CORPUS[i % 4] for i, w in enumerate(want))  # something was substituted


def test_on_the_fly_substitution_of_one_sentence_follows_the_item_seed(tiny_classifier, synonyms_file):
    model, tok = tiny_classifier
    data = one_sentence_dataset(CORPUS[:3])
    ds = _settings("rs-da", synonyms_file).train_data(data, tok, max_length=32, seed=4).dataset
    table = {w: tuple(s) for w, s in SYNONYMS.items()}
    ds.set_epoch(2)
    assert [ds.texts(i)[0] for i in range(3)] == [substitute(CORPUS[i], table, item_rng(4, 2, i)) for i in range(3)]


def test_the_generalized_evaluation_is_refused_for_one_sentence_data(tiny_classifier, tmp_path):
    from xalign.data.tasks.splits import GeneralizedSet

    model, tok = tiny_classifier
    data = one_sentence_dataset(CORPUS[:4])
    with pytest.raises(ConfigError, match="needs two sentences per item, but task sib200 has one .*--generalized"):
        check_generalized(data, task="task sib200")
    args = TrainingArguments(output_dir=str(tmp_path / "o"), use_cpu=True, report_to="none", disable_tqdm=True)
    trainer = RobustTrainer(model=model, args=args, data_collator=DataCollatorWithPadding(tok), processing_class=tok)
    gen = GeneralizedSet("test", ["en", "xx"], {"en": data, "xx": data})
    with pytest.raises(ConfigError, match="needs two sentences per item"):
        evaluate_run(trainer, {"test": {"en": data}}, max_length=32, generalized=gen)


@pytest.mark.parametrize("method", ["adv", "rs-rp"])
def test_the_mean_pooling_head_trains_on_one_sentence(tiny_bert_dir, tmp_path, method):
    """The ``mean`` head reads no token-type ids: one-sentence batches go through it with perturbed embeddings."""
    from transformers import AutoTokenizer

    from xalign.training.heads import MeanPoolClassifier, build_classifier

    torch.manual_seed(0)
    model = build_classifier(str(tiny_bert_dir), "mean", TOPICS)
    assert isinstance(model, MeanPoolClassifier)
    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    ds = _settings(method, None).train_data(one_sentence_dataset(CORPUS[:8]), tok, max_length=32, seed=0).dataset
    batch = DataCollatorWithPadding(tok)([ds[i] for i in range(4)])
    assert "token_type_ids" not in batch or int(batch["token_type_ids"].max()) == 0  # one segment
    args = TrainingArguments(output_dir=str(tmp_path / "o"), use_cpu=True, report_to="none",
                             per_device_train_batch_size=4, learning_rate=1e-2, max_steps=2, logging_steps=1,
                             save_strategy="no", disable_tqdm=True, seed=0)
    trainer = RobustTrainer(model=model, args=args, train_dataset=ds, data_collator=DataCollatorWithPadding(tok),
                            processing_class=tok, robust=RobustConfig(method=method))
    before = [p.detach().clone() for p in model.classifier.parameters()]
    trainer.train()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.classifier.parameters()))
    results = evaluate_run(trainer, {"test": {"en": one_sentence_dataset(CORPUS)}}, max_length=32)
    model.eval()
    with torch.no_grad():
        pred = [int(model(**tok(t, return_tensors="pt")).logits.argmax(-1)) for t in CORPUS]
    want = np.mean([p == y for p, y in zip(pred, one_sentence_dataset(CORPUS)["label"])])
    assert results["accuracy"]["en"] == pytest.approx(want)
