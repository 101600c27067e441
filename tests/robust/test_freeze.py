"""Freezing the word-embedding matrix: only that matrix stops training."""

from __future__ import annotations

import pytest
import torch

from xalign.errors import ModelError
from xalign.robust.config import RobustConfig
from xalign.training.freeze import freeze_input_embeddings

from .test_trainer import _trainer


@pytest.mark.parametrize("method", ["baseline", "adv"])
def test_only_the_word_embedding_matrix_stays_fixed(tiny_classifier, tmp_path, method):
    model, tok = tiny_classifier
    word = model.get_input_embeddings().weight
    assert freeze_input_embeddings(model) == word.numel()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen == ["bert.embeddings.word_embeddings.weight"]
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer, _ = _trainer(model, tok, tmp_path, RobustConfig(method=method, adv_objective="mixed"), max_steps=2)
    trainer.train()
    after = dict(model.named_parameters())
    word_name = "bert.embeddings.word_embeddings.weight"
    assert torch.equal(after[word_name], before[word_name])
    for name in ("bert.embeddings.position_embeddings.weight", "bert.encoder.layer.0.attention.self.query.weight",
                 "classifier.weight"):
        assert not torch.equal(after[name], before[name]), name  # everything else still trains
    n_opt = sum(p.numel() for g in trainer.optimizer.param_groups for p in g["params"])
    assert n_opt == sum(p.numel() for p in model.parameters()) - word.numel()  # no AdamW state for the matrix


def test_a_model_without_input_embeddings_is_refused():
    with pytest.raises(ModelError, match="exposes no word-embedding matrix"):
        freeze_input_embeddings(torch.nn.Linear(2, 2))
