"""The paper's three encoder families — WordPiece (mBERT-like), SentencePiece (XLM-R-like) and BPE with
its own model class (XLM) — through training (every method and objective) and probing."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding
from transformers import TrainingArguments

from xalign.errors import ModelError
from xalign.robust.config import RobustConfig
from xalign.robust.trainer import RobustTrainer
from xalign.training.features import PairDataset

from ..robust.conftest import _one_thread, synthetic_pairs  # noqa: F401 - autouse fixture: one torch thread

FAMILIES = ["bert", "xlmr", "xlm"]
VARIANTS = [("baseline", "mixed"), ("rs-da", "mixed"), ("rs-rp", "mixed"), ("adv", "mixed"), ("adv", "adv-only"),
            ("adv", "freelb")]


@pytest.fixture(params=FAMILIES)
def family_dir(request):
    if request.param == "xlm":
        return "xlm", request.getfixturevalue("tiny_xlm_dir")
    return request.param, request.getfixturevalue("_tiny_dirs")[request.param]


def _pairs_batch(tok, n=5):
    a, b, y = synthetic_pairs(n)
    ds = PairDataset(a, b, y, tok, max_length=64)
    return ds, DataCollatorWithPadding(tok)([ds[i] for i in range(n)])


def test_tiny_xlm_is_the_xlm_family(tiny_xlm_dir):
    tok = AutoTokenizer.from_pretrained(tiny_xlm_dir)
    model = AutoModel.from_pretrained(tiny_xlm_dir)
    assert type(tok).__name__ == "XLMTokenizer" and not tok.is_fast  # BPE, Python only: no word_ids()
    assert model.config.model_type == "xlm" and type(model).__name__ == "XLMModel"
    pieces = tok.tokenize("The cat sits on the mat.")
    assert pieces[:2] == ["the</w>", "cat</w>"]  # lower-cased, BPE word-end markers as in XLM's vocabularies
    assert model.get_input_embeddings() is model.embeddings


def test_inputs_embeds_path_equals_input_ids(family_dir):
    """The robust methods feed ``get_input_embeddings()(ids) + δ`` as ``inputs_embeds``: with δ = 0 every
    family must give the logits of the plain ``input_ids`` call, padding included (XLM builds its mask
    from ``attention_mask`` there, not from the pad id)."""
    _, path = family_dir
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3).eval()
    _, batch = _pairs_batch(tok)
    assert (batch["attention_mask"] == 0).any()
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    ids = inputs.pop("input_ids")
    with torch.no_grad():
        plain = model(input_ids=ids, **inputs).logits
        embedded = model(inputs_embeds=model.get_input_embeddings()(ids), **inputs).logits
    torch.testing.assert_close(embedded, plain, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method,objective", VARIANTS)
def test_every_method_and_objective_trains(family_dir, tmp_path, method, objective):
    _, path = family_dir
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3)
    a, b, y = synthetic_pairs(8)
    ds = PairDataset(a, b, y, tok, max_length=64, table={"The": ("A",), "cat": ("dog",)} if method == "rs-da"
                     else None)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), use_cpu=True, report_to="none",
                             per_device_train_batch_size=4, learning_rate=1e-2, max_steps=2, logging_steps=1,
                             save_strategy="no", disable_tqdm=True, seed=0)
    robust = RobustConfig(method=method, adv_objective=objective, adv_steps=2, adv_eps=0.1, adv_alpha=0.05)
    before = [p.detach().clone() for p in model.parameters()]
    trainer = RobustTrainer(model=model, args=args, train_dataset=ds, data_collator=DataCollatorWithPadding(tok),
                            robust=robust)
    trainer.train()
    rows = [h for h in trainer.state.log_history if "loss" in h]
    assert len(rows) == 2 and all(np.isfinite(h["loss"]) for h in rows)
    assert all(("adv_loss" in h) == (method == "adv") for h in rows)
    moved = [not torch.equal(b0, p.detach()) for b0, p in zip(before, model.parameters())]
    assert moved[0] or sum(moved) > len(moved) // 2  # the encoder trained, not only the head


def _write_pairs(path, a, b, y):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        w.writerow(["id", "sentence1", "sentence2", "label"])
        for i, row in enumerate(zip(a, b, y)):
            w.writerow([f"i{i}", *row])
    return str(path)


def test_train_pipeline_freelb_with_frozen_embeddings(family_dir, tmp_path):
    """``train`` end to end per family (FreeLB, frozen word embeddings): the settings are recorded in
    config.json, manifest.json and train_metrics.json; the saved encoder's word-embedding matrix is the
    pre-trained one while the layers moved; the saved encoder opens for word pooling — or, for XLM
    (no fast tokenizer), loading it for probing fails with one line naming what is missing."""
    from xalign.pipelines.train import TrainConfig, train

    kind, path = family_dir
    a, b, y = synthetic_pairs(16, seed=1)
    train_f = _write_pairs(tmp_path / "train.tsv", a, b, y)
    a, b, y = synthetic_pairs(6, seed=2)
    en = _write_pairs(tmp_path / "en.tsv", a, b, y)
    xx = _write_pairs(tmp_path / "xx.tsv", [s.lower() for s in a], b, y)
    cfg = TrainConfig(out=str(tmp_path / "run"), model=str(path), task="pairs", train_file=train_f, select_file=en,
                      eval_files={"en": en, "xx": xx}, columns={"item_id": "id"}, max_length=64, batch_size=4,
                      max_steps=3, logging_steps=1, learning_rate=5e-3, device="cpu", method="adv",
                      adv_objective="freelb", adv_steps=2, adv_scope="sequence", freeze_embeddings=True,
                      generalized=True)
    result = train(cfg)
    run = result.run_dir
    config = json.loads((run / "config.json").read_text())
    manifest = json.loads((run / "manifest.json").read_text())
    metrics = json.loads((run / "train_metrics.json").read_text())
    assert config["adv_objective"] == "freelb" and config["freeze_embeddings"] is True
    assert manifest["adv_objective"] == "freelb" and manifest["freeze_embeddings"] is True
    assert metrics["robust"]["adv_objective"] == "freelb" and metrics["robust"]["adv_random_start"] is True
    assert all("adv_loss" in h and "clean_loss" not in h for h in metrics["history"])
    assert set(metrics["eval"]["accuracy"]) == {"en", "xx"}

    original, trained = AutoModel.from_pretrained(path), AutoModel.from_pretrained(run / "encoder")
    torch.testing.assert_close(trained.get_input_embeddings().weight, original.get_input_embeddings().weight,
                               rtol=0, atol=0)
    layers = [n for n, _ in original.named_parameters() if "layer" in n and n.endswith("weight")]
    assert layers and any(not torch.equal(dict(original.named_parameters())[n], dict(trained.named_parameters())[n])
                          for n in layers)

    from xalign.embed.extract import embed_words
    from xalign.encoders import load_encoder

    if kind == "xlm":
        with pytest.raises(Exception, match="fast") as info:
            load_encoder(str(run / "encoder"), device="cpu")
        assert "\n" not in str(info.value)
        return
    text = "The cat sits on the mat."
    words = embed_words(load_encoder(str(run / "encoder"), device="cpu"), [text], layers=-1)[0]
    # WordPiece splits punctuation off; the Metaspace (SentencePiece) pre-tokenizer splits on spaces only
    assert words.words == (["The", "cat", "sits", "on", "the", "mat", "."] if kind == "bert" else text.split())
    assert words.vectors.shape == (1, len(words.words), 32) and np.abs(words.vectors).sum(-1).min() > 0


def test_xlm_sentence_vectors_work_and_word_pooling_fails_in_one_line(tiny_xlm_dir):
    """Sentence pooling needs no word boundaries and works with XLM's slow tokenizer (checked against a
    hand mean over the real, non-special tokens); word pooling raises one ModelError line."""
    from xalign.embed.extract import embed, embed_words
    from xalign.encoders.base import Encoder

    tok = AutoTokenizer.from_pretrained(tiny_xlm_dir)
    model = AutoModel.from_pretrained(tiny_xlm_dir).eval()
    enc = Encoder(model=model, tokenizer=tok, name="tiny-xlm", revision="test", device=torch.device("cpu"),
                  dtype=torch.float32)
    texts = ["The cat sits on the mat.", "A dog runs in the park!", "Birds fly."]
    got = embed(enc, texts, layers=[1, 2], pooling="mean")
    for i, text in enumerate(texts):
        ids = tok(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
        assert ids[0, 0] == tok.bos_token_id and ids[0, -1] == tok.sep_token_id  # <s> text </s>
        for j, layer in enumerate((1, 2)):
            np.testing.assert_allclose(got[j, i], hidden[layer][0][1:-1].mean(0).numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ModelError, match=r"needs a fast tokenizer with word_ids\(\); XLMTokenizer") as info:
        embed_words(enc, texts)
    assert "\n" not in str(info.value)


def test_xlm_probe_runs_sentence_level_metrics_and_notes_word_level(tiny_xlm_dir, capsys):
    """A slow tokenizer (no word_ids()) still gets retrieval and CKA; BLI is left out with a note."""
    import json

    from xalign.cli.main import main

    out = tiny_xlm_dir.parent / "probe"
    code = main(["-q", "probe", "--model", str(tiny_xlm_dir), "--pair", "en-sw", "--limit", "10", "--n-boot", "10",
                 "--no-report", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    block = json.loads((out / "metrics.json").read_text())["pairs"]["en-sw"]
    assert "retrieval" in block["layers"][0] and "cka" in block["layers"][0] and "bli" not in block["layers"][0]
    assert any("word-level metrics" in n and "XLMTokenizer" in n for n in block["notes"])
