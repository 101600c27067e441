"""The mean-pooling classification head: logits against a naive loop, save/reload, and a full ``xalign train``."""

from __future__ import annotations

import json

import pytest
import torch

from xalign.errors import ConfigError, ModelError
from xalign.training.heads import HEAD_FILE, MeanPoolClassifier, build_classifier, load_classifier

from ..pipelines.test_train import _config, pair_files  # noqa: F401 - fixture
from .conftest import _one_thread  # noqa: F401 - autouse fixture


def _naive_logits(model: MeanPoolClassifier, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per sentence: average the last-layer vectors of its real tokens one by one, then W·v + b."""
    rows = []
    for i in range(input_ids.shape[0]):
        n = int(mask[i].sum())
        h = model.encoder(input_ids=input_ids[i:i + 1, :n]).last_hidden_state[0]  # unpadded: no mask needed
        v = sum(h[t] for t in range(n)) / n
        rows.append(model.classifier.weight @ v + model.classifier.bias)
    return torch.stack(rows)


@pytest.mark.parametrize("kind", ["bert", "xlmr"])
def test_logits_are_a_linear_layer_over_the_masked_token_mean(_tiny_dirs, kind):
    from transformers import AutoTokenizer

    torch.manual_seed(0)
    path = str(_tiny_dirs[kind])
    model = build_classifier(path, "mean", ["a", "b", "c"]).eval()
    assert isinstance(model, MeanPoolClassifier) and model.config.num_labels == 3
    assert model.config.id2label == {0: "a", 1: "b", 2: "c"}
    tok = AutoTokenizer.from_pretrained(path)
    batch = tok(["the cat sat on the mat today", "a dog", "birds sing in the morning light"], padding=True,
                return_tensors="pt")
    assert int(batch["attention_mask"].sum(1).min()) < batch["input_ids"].shape[1]  # padding is exercised
    with torch.no_grad():
        got = model(**batch).logits
        want = _naive_logits(model, batch["input_ids"], batch["attention_mask"])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # inputs_embeds (how the robust methods perturb) gives the same logits as input_ids
    with torch.no_grad():
        embeds = model.get_input_embeddings()(batch["input_ids"])
        via_embeds = model(inputs_embeds=embeds, attention_mask=batch["attention_mask"]).logits
    torch.testing.assert_close(via_embeds, got)


def test_no_pooler_is_built_for_the_mean_head(_tiny_dirs):
    model = build_classifier(str(_tiny_dirs["bert"]), "mean", ["x", "y"])
    assert not [n for n, _ in model.named_parameters() if "pooler" in n]
    with pytest.raises(ConfigError, match="head must be one of"):
        build_classifier(str(_tiny_dirs["bert"]), "max", ["x", "y"])


def test_save_and_reload_give_the_same_logits(_tiny_dirs, tmp_path):
    from transformers import AutoTokenizer

    torch.manual_seed(3)
    path = str(_tiny_dirs["bert"])
    model = build_classifier(path, "mean", ["same", "different"]).eval()
    with torch.no_grad():
        model.classifier.weight.normal_()
    model.save_pretrained(tmp_path / "m")
    again = load_classifier(tmp_path / "m").eval()
    batch = AutoTokenizer.from_pretrained(path)(["one two three", "four"], padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(again(**batch).logits, model(**batch).logits)
    spec = json.loads((tmp_path / "m" / HEAD_FILE).read_text())
    assert spec["head"] == "mean" and spec["num_labels"] == 2 and spec["id2label"] == {"0": "same", "1": "different"}
    (tmp_path / "m" / HEAD_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="xalign_head.json: expected a JSON head spec"):
        load_classifier(tmp_path / "m")


@pytest.mark.parametrize("method", ["baseline", "adv"])
def test_train_with_the_mean_head_end_to_end(tmp_path, tiny_bert_dir, pair_files, method):  # noqa: F811
    from xalign.encoders import load_encoder
    from xalign.pipelines.train import train

    result = train(_config(tmp_path, tiny_bert_dir, pair_files, method=method, head="mean", max_steps=4))
    run = result.run_dir
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["head"] == "mean" and result.metrics.config["head"] == "mean"
    # the saved classifier reproduces the run's English accuracy on the evaluation file
    model = load_classifier(run / "model").eval()
    import csv

    from transformers import AutoTokenizer

    with open(pair_files["eval_files"]["en"], encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))
    tok = AutoTokenizer.from_pretrained(run / "model")
    names = pair_files["label_names"]
    batch = tok([r["sentence1"] for r in rows], [r["sentence2"] for r in rows], padding=True, truncation=True,
                max_length=64, return_tensors="pt")
    with torch.no_grad():
        pred = model(**batch).logits.argmax(-1).tolist()
    acc = sum(p == names.index(r["label"]) for p, r in zip(pred, rows)) / len(rows)
    assert acc == pytest.approx(result.accuracy["en"], abs=1e-9)
    # encoder/ holds the trained encoder itself (what the probes read), not the pre-trained one
    enc = load_encoder(str(run / "encoder"), device="cpu")
    trained = dict(model.encoder.named_parameters())
    saved = dict(enc.model.named_parameters())
    assert set(trained) <= set(saved), sorted(set(trained) - set(saved))[:5]
    for name, p in trained.items():
        torch.testing.assert_close(saved[name].float(), p.float(), atol=0, rtol=0)


def test_cli_and_config_take_the_head():
    from xalign.cli.main import build_parser
    from xalign.cli.train import config_from_args
    from xalign.pipelines.train import TrainConfig

    args = build_parser().parse_args(["train", "--task", "xnli", "--head", "mean"])
    assert config_from_args(args).head == "mean"
    assert config_from_args(build_parser().parse_args(["train", "--task", "xnli"])).head == "stock"
    with pytest.raises(ConfigError, match="unknown --head 'cls': expected one of stock, mean"):
        TrainConfig(task="xnli", head="cls")
