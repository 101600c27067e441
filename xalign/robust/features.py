"""Tokenized sentence-pair datasets for the Trainer, with optional on-the-fly RS-DA substitution.

:class:`PairDataset` tokenizes one pair per ``__getitem__`` (dynamic padding happens in the collator).
With a substitution table it perturbs both sentences independently using ``item_rng(seed, epoch, index)``
— reproducible, identical in every data-loader worker, and different in every epoch. The epoch is set
by ``set_epoch`` (accelerate calls it on the dataset; :class:`xalign.robust.callbacks.EpochCallback`
also does, before each epoch's workers start).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from xalign.errors import DataError
from xalign.robust.substitutions import item_rng, substitute

if TYPE_CHECKING:  # pragma: no cover
    import datasets

import torch
from torch.utils.data import Dataset as _TorchDataset
from torch.utils.data import Sampler


class PairDataset(_TorchDataset):
    """Labelled sentence pairs tokenized as ``tokenizer(sentence1, sentence2)`` (truncated to ``max_length``)."""

    def __init__(self, sentence1: Sequence[str], sentence2: Sequence[str], labels: Sequence[int], tokenizer, *,
                 max_length: int, table: Mapping[str, Sequence[str]] | None = None, seed: int = 0) -> None:
        if not (len(sentence1) == len(sentence2) == len(labels)):
            raise DataError(f"sentence-pair columns differ in length: sentence1 {len(sentence1)}, "
                            f"sentence2 {len(sentence2)}, labels {len(labels)}")
        if len(sentence1) == 0:
            raise DataError("empty dataset: expected at least one sentence pair, got none")
        self.sentence1, self.sentence2 = list(sentence1), list(sentence2)
        self.labels = [int(x) for x in labels]
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.table = table
        self.seed = int(seed)
        self.epoch = 0
        self._lengths: list[int] | None = None

    @classmethod
    def from_dataset(cls, data: "datasets.Dataset", tokenizer, **kwargs: Any) -> "PairDataset":
        return cls(data["sentence1"], data["sentence2"], data["label"], tokenizer, **kwargs)

    def __len__(self) -> int:
        return len(self.labels)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def texts(self, index: int) -> tuple[str, str]:
        """The (possibly substituted) pair seen at ``index`` in the current epoch."""
        a, b = self.sentence1[index], self.sentence2[index]
        if self.table:
            rng = item_rng(self.seed, self.epoch, index)
            a, b = substitute(a, self.table, rng), substitute(b, self.table, rng)
        return a, b

    def __getitem__(self, index: int) -> dict[str, Any]:
        a, b = self.texts(index)
        enc = self.tokenizer(a, b, truncation=True, max_length=self.max_length)
        item = {k: list(v) for k, v in enc.items()}
        item["labels"] = self.labels[index]
        return item

    @property
    def lengths(self) -> list[int]:
        """Token counts of the unperturbed pairs (for length-grouped batching)."""
        if self._lengths is None:
            enc = self.tokenizer(self.sentence1, self.sentence2, truncation=True, max_length=self.max_length)
            self._lengths = [len(x) for x in enc["input_ids"]]
        return self._lengths

    def n_truncated(self) -> int:
        """How many unperturbed pairs reach ``max_length`` (and so may have been cut)."""
        return sum(1 for n in self.lengths if n >= self.max_length)


def length_order(lengths: Sequence[int]) -> list[int]:
    """Evaluation order: longest first, ties in item order. Deterministic, so per-item predictions made in
    this order map back to items (``order[k]`` is the item predicted k-th); batches of similar length
    need little padding."""
    return sorted(range(len(lengths)), key=lambda i: (-int(lengths[i]), i))


class LengthGroupedEpochSampler(Sampler):
    """Length-grouped shuffling (``transformers``' ``get_length_grouped_indices``: random mega-batches
    of ``50 × batch_size`` items sorted by length) whose randomness depends only on ``(seed, epoch)``.

    The Trainer calls ``set_epoch`` before every epoch, so a run resumed in a later epoch sees exactly
    the batches an uninterrupted run would (transformers' own ``LengthGroupedSampler`` draws from the
    global RNG at iteration time, which a resume does not reproduce).
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, *, seed: int) -> None:
        self.lengths = list(lengths)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        from transformers.trainer_pt_utils import get_length_grouped_indices

        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=gen))
