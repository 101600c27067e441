"""Tokenized sentence-pair (or one-sentence) datasets for the Trainer, with optional on-the-fly RS-DA substitution.

:class:`PairDataset` tokenizes one item per ``__getitem__`` (dynamic padding happens in the collator): a
pair as ``tokenizer(sentence1, sentence2)``, a one-sentence item (``sentence2`` None; a dataset without a
``sentence2`` column) as ``tokenizer(sentence1)``.
With a substitution table it perturbs the sentences (independently, or ``paired``) using ``item_rng(seed, epoch, index)``
— reproducible, identical in every data-loader worker, and different in every epoch. The epoch is set
by ``set_epoch`` (accelerate calls it on the dataset; :class:`xalign.training.callbacks.EpochCallback`
also does, before each epoch's workers start).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from xalign.errors import DataError
from xalign.robust.substitutions import item_rng, substitute_item

if TYPE_CHECKING:  # pragma: no cover
    import datasets

import torch
from torch.utils.data import Dataset as _TorchDataset
from torch.utils.data import Sampler

_CHUNK = 1000


class PairDataset(_TorchDataset):
    """Labelled items tokenized as ``tokenizer(sentence1, sentence2)``, or ``tokenizer(sentence1)`` when
    ``sentence2`` is None (truncated to ``max_length``)."""

    def __init__(self, sentence1: Sequence[str], sentence2: Sequence[str] | None, labels: Sequence[int], tokenizer, *,
                 max_length: int, table: Mapping[str, Sequence[str]] | None = None, seed: int = 0,
                 paired: bool = False) -> None:
        if not (len(sentence1) == len(labels) and (sentence2 is None or len(sentence2) == len(labels))):
            raise DataError(f"columns differ in length: sentence1 {len(sentence1)}, "
                            f"sentence2 {'none' if sentence2 is None else len(sentence2)}, labels {len(labels)}")
        if len(sentence1) == 0:
            raise DataError("empty dataset: expected at least one item, got none")
        self.sentence1 = list(sentence1)
        self.sentence2 = None if sentence2 is None else list(sentence2)
        self.labels = [int(x) for x in labels]
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.table = table
        self.seed = int(seed)
        self.paired = bool(paired)
        self.epoch = 0
        self._lengths: list[int] | None = None

    @classmethod
    def from_dataset(cls, data: "datasets.Dataset", tokenizer, **kwargs: Any) -> "PairDataset":
        """From a task dataset: ``sentence1``, ``label`` and, for a pair task, ``sentence2``."""
        two = "sentence2" in data.column_names
        return cls(data["sentence1"], data["sentence2"] if two else None, data["label"], tokenizer, **kwargs)

    @property
    def one_sentence(self) -> bool:
        return self.sentence2 is None

    def __len__(self) -> int:
        return len(self.labels)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def texts(self, index: int) -> tuple[str, str | None]:
        """The (possibly substituted) item seen at ``index`` in the current epoch (``(sentence, None)`` for a
        one-sentence item)."""
        a = self.sentence1[index]
        b = None if self.sentence2 is None else self.sentence2[index]
        if self.table:
            a, b = substitute_item(a, b, self.table, item_rng(self.seed, self.epoch, index), paired=self.paired)
        return a, b

    def _encode(self, a, b):
        if b is None:
            return self.tokenizer(a, truncation=True, max_length=self.max_length)
        return self.tokenizer(a, b, truncation=True, max_length=self.max_length)

    def __getitem__(self, index: int) -> dict[str, Any]:
        enc = self._encode(*self.texts(index))
        item = {k: list(v) for k, v in enc.items()}
        item["labels"] = self.labels[index]
        return item

    @property
    def lengths(self) -> list[int]:
        """Token counts of the unperturbed items (for length-grouped batching), tokenized in chunks of 1,000
        items so that only the counts are kept."""
        if self._lengths is None:
            lengths: list[int] = []
            for start in range(0, len(self.labels), _CHUNK):
                stop = start + _CHUNK
                enc = self._encode(self.sentence1[start:stop],
                                   None if self.sentence2 is None else self.sentence2[start:stop])
                lengths.extend(len(x) for x in enc["input_ids"])
            self._lengths = lengths
        return self._lengths

    def n_truncated(self) -> int:
        """How many unperturbed items reach ``max_length`` (and so may have been cut)."""
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
