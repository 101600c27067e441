"""PairDataset: tokenization, on-the-fly substitution seeded by (seed, epoch, index), worker safety."""

from __future__ import annotations

import pytest
import torch
from transformers import DataCollatorWithPadding

from xalign.robust.substitutions import item_rng, substitute
from xalign.training.callbacks import EpochCallback, history_rows
from xalign.training.features import PairDataset

from .conftest import synthetic_pairs

TABLE = {"The": ("A", "One"), "cat": ("dog", "cow"), "the": ("a",), "Paka": ("Mbwa",)}


@pytest.fixture
def tok(_tiny_dirs):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(_tiny_dirs["bert"])


def test_items_match_direct_tokenization(tok):
    a, b, y = synthetic_pairs(6)
    ds = PairDataset(a, b, y, tok, max_length=16)
    for i in range(6):
        enc = tok(a[i], b[i], truncation=True, max_length=16)
        assert ds[i]["input_ids"] == enc["input_ids"] and ds[i]["labels"] == y[i]
    assert ds.lengths == [len(tok(x, z, truncation=True, max_length=16)["input_ids"]) for x, z in zip(a, b)]
    assert ds.n_truncated() == sum(1 for n in ds.lengths if n >= 16)


def test_substitution_depends_on_seed_epoch_and_index_only(tok):
    a, b, y = synthetic_pairs(6)
    ds = PairDataset(a, b, y, tok, max_length=64, table=TABLE, seed=5)
    first = [ds.texts(i) for i in range(6)]
    rng = item_rng(5, 0, 0)
    assert first[0] == (substitute(a[0], TABLE, rng), substitute(b[0], TABLE, rng))  # sentence 1, then sentence 2
    assert [ds.texts(i) for i in range(6)] == first  # no hidden state
    epochs = set()
    for epoch in range(6):
        EpochCallback(ds).on_epoch_begin(None, type("S", (), {"epoch": epoch + 0.4})(), None)
        assert ds.epoch == epoch
        epochs.add(tuple(ds.texts(0)))
    assert len(epochs) > 1  # a new draw every epoch


def test_same_items_with_data_loader_workers(tok):
    a, b, y = synthetic_pairs(8)
    ds = PairDataset(a, b, y, tok, max_length=64, table=TABLE, seed=1)
    ds.set_epoch(3)
    collate = DataCollatorWithPadding(tok)
    batches = {}
    for workers in (0, 2):
        loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=workers, collate_fn=collate)
        batches[workers] = [bt["input_ids"] for bt in loader]
    for x, z in zip(batches[0], batches[2]):
        assert torch.equal(x, z)


def test_empty_and_ragged_inputs_are_rejected(tok):
    with pytest.raises(ValueError, match="empty dataset"):
        PairDataset([], [], [], tok, max_length=8)
    with pytest.raises(ValueError, match="differ in length"):
        PairDataset(["a"], ["b", "c"], [0], tok, max_length=8)


def test_history_rows_keep_training_entries():
    log = [{"loss": 1.0, "learning_rate": 0.1, "epoch": 0.5, "step": 1, "grad_norm": 2.0},
           {"eval_select_accuracy": 0.5, "step": 1}, {"train_runtime": 3.0, "step": 2}]
    assert history_rows(log) == [{"step": 1, "epoch": 0.5, "loss": 1.0, "lr": 0.1, "grad_norm": 2.0}]


def test_lengths_are_counted_in_chunks_without_changing_them(tok):
    """``lengths`` tokenizes 1,000 items at a time (only the counts are kept); the counts are those of one call."""
    a, b, y = synthetic_pairs(2300)
    ds = PairDataset(a, b, y, tok, max_length=12)
    assert ds.lengths == [len(x) for x in tok(a, b, truncation=True, max_length=12)["input_ids"]]
    assert ds.n_truncated() == sum(1 for x in tok(a, b)["input_ids"] if len(x) >= 12)
    one = PairDataset(a, None, y, tok, max_length=12)
    assert one.lengths == [len(x) for x in tok(a, truncation=True, max_length=12)["input_ids"]]
