"""``rs-da``: randomized smoothing with data augmentation (Huang et al., EMNLP 2021).

Plain cross-entropy; the method lives in the data. Every whitespace word that has substitutes (synonym sets,
the encoder's embedding neighbours, bilingual dictionaries) is replaced by a uniform draw from
``{word} ∪ substitutes`` (:func:`xalign.robust.substitutions.substitute`).

* ``rsda_copies = N > 0`` — as the paper ran it: N offline copies of the whole training set, each item's
  copies only (the original line is not kept), seeded per (copy, item); the pipeline writes them to
  ``rsda_copies.tsv``.
* ``rsda_copies = 0`` — on the fly: a new draw per (epoch, item).
* ``rsda_paired`` — an ablation: one draw per word type for the whole item, so a word that occurs in both
  sentences (or twice in one) is replaced the same way everywhere (the paper substitutes the two sentences
  independently, which breaks the word-order signal PAWS labels depend on).

A one-sentence task (no ``sentence2`` column) substitutes words in its one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xalign.errors import ConfigError
from xalign.robust.methods.base import RobustMethod, TrainData, check_settings, register, setting

RSDA_SOURCES = ("synonyms", "embedding", "dictionary")


@dataclass(frozen=True)
class RsDaSettings:
    rsda_sources: list[str] = setting(lambda: ["synonyms"], "comma-separated substitute sources of rs-da",
                                      choices=RSDA_SOURCES, sep=",")
    synonyms: str | None = setting(None, "JSON {word: [substitutes]} file (e.g. counterfitted_neighbors.json)")
    dictionaries: list[str] = setting(list, "bilingual dictionary foreign<TAB>english for code-switching",
                                      flag="dictionary", repeat=True, metavar="FILE")
    embed_k: int = setting(8, "embedding-neighbour substitutes per word", min=1)
    embed_min_cos: float = setting(0.5, "minimum cosine of an embedding neighbour", min=-1.0, max=1.0)
    rsda_copies: int = setting(0, "N precomputed augmented copies (0: substitute on the fly, seeded per epoch and "
                               "item)", min=0)
    rsda_paired: bool = setting(False, "replace a word the same way wherever it occurs in an item (ablation)")

    def __post_init__(self) -> None:
        check_settings(self, method="rs-da")

    def check_inputs(self) -> None:
        """``ConfigError`` unless every source has its files (checked before the data step builds the table)."""
        if not self.rsda_sources:
            raise ConfigError(f"method rs-da needs at least one substitution source (--rsda-sources: any of "
                              f"{', '.join(RSDA_SOURCES)})")
        if "synonyms" in self.rsda_sources and not self.synonyms:
            raise ConfigError("rs-da with the 'synonyms' source needs a synonym file: --synonyms FILE "
                              "(a JSON {word: [substitutes]} file)")
        if "dictionary" in self.rsda_sources and not self.dictionaries:
            raise ConfigError("rs-da with the 'dictionary' source needs --dictionaries FILE[,FILE] "
                              "(foreign<TAB>english)")


@register
class RsDa(RobustMethod):
    name = "rs-da"
    summary = "randomized smoothing by word substitution in the training data (offline copies or on the fly)"
    settings_type = RsDaSettings

    def table(self, data: Any, tokenizer: Any = None, model: Any = None) -> dict[str, tuple[str, ...]]:
        """The substitution table, restricted to the words of the training texts."""
        from xalign.robust.substitutions import build_table

        s = self.settings
        s.check_inputs()
        texts = [*data["sentence1"], *(data["sentence2"] if "sentence2" in data.column_names else [])]
        weight = model.get_input_embeddings().weight if model is not None else None
        return build_table(s.rsda_sources, texts=texts, synonyms=s.synonyms, dictionaries=s.dictionaries,
                           tokenizer=tokenizer, embeddings=weight, k=s.embed_k, min_cos=s.embed_min_cos)

    def train_data(self, data, tokenizer, *, max_length, seed, model=None) -> TrainData:
        from xalign.robust.substitutions import augment_pairs
        from xalign.training.features import PairDataset

        s = self.settings
        table = self.table(data, tokenizer, model)
        two = "sentence2" in data.column_names
        if s.rsda_copies == 0:
            return TrainData(PairDataset.from_dataset(data, tokenizer, max_length=max_length, table=table, seed=seed,
                                                      paired=s.rsda_paired))
        labels = list(data["label"])
        a, b, src = augment_pairs(list(data["sentence1"]), list(data["sentence2"]) if two else None, table,
                                  copies=s.rsda_copies, seed=seed, paired=s.rsda_paired)
        dataset = PairDataset(a, b, [labels[i] for i in src], tokenizer, max_length=max_length)
        ids, names, n = data["item_id"], data.features["label"].names, len(data)
        copies: dict[str, list[Any]] = {"item_id": [ids[i] for i in src], "copy": [k // n for k in range(len(src))],
                                        "sentence1": a, **({"sentence2": b} if two else {}),
                                        "label": [names[labels[i]] for i in src]}
        return TrainData(dataset, copies)
