"""Tiny classifiers and synthetic sentence-pair data for the robust-training tests."""

from __future__ import annotations

import random

import pytest

from ..conftest import CORPUS


def synthetic_pairs(n: int, seed: int = 0) -> tuple[list[str], list[str], list[int]]:
    """Pairs from the fixture corpus; label 0 = same sentence, 1 = different, 2 = second one shuffled."""
    rng = random.Random(seed)
    a, b, y = [], [], []
    for i in range(n):
        s1 = CORPUS[i % len(CORPUS)]
        label = i % 3
        if label == 0:
            s2 = s1
        elif label == 1:
            s2 = CORPUS[(i + 1 + rng.randrange(len(CORPUS) - 1)) % len(CORPUS)]
        else:
            words = s1.split()
            rng.shuffle(words)
            s2 = " ".join(words)
        a.append(s1)
        b.append(s2)
        y.append(label)
    return a, b, y


@pytest.fixture
def tiny_classifier(_tiny_dirs):
    """(model, tokenizer): the tiny BERT with a 3-way head, dropout off (deterministic train mode)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    path = _tiny_dirs["bert"]
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return model, AutoTokenizer.from_pretrained(path)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models gain nothing from intra-op threads, and spinning threads slow down a busy CI machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
