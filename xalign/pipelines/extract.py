"""Embedding a parallel corpus into a run directory (used by ``xalign embed`` and the probe)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xalign.embed import embed_to_disk
from xalign.io import base_manifest, write_json

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data import ParallelCorpus
    from xalign.encoders import Encoder

logger = logging.getLogger(__name__)


@dataclass
class ExtractConfig:
    layers: str | list[int] = "all"
    pooling: str = "mean"
    prefix: str | None = None
    batch_size: int = 32
    max_tokens: int | None = 16384
    shard_size: int = 4096
    precision: str = "auto"
    progress: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from xalign.embed.pooling import Pooling

        Pooling.parse(self.pooling)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {self.shard_size}")


def corpus_manifest(corpus: "ParallelCorpus") -> dict[str, Any]:
    return {"name": corpus.name, "pair": corpus.pair, "n": len(corpus), "sources": list(corpus.sources),
            "dropped_empty": getattr(corpus, "dropped_empty", 0)}


def extract_corpus(encoder: "Encoder", corpus: "ParallelCorpus", out_dir: str | Path,
                   config: ExtractConfig | None = None) -> dict[str, Any]:
    """Write ``<src>.npy`` and ``<tgt>.npy`` (``[layers, n, hidden]``), ``texts.json`` and
    ``manifest.json`` into ``out_dir``; resumes an interrupted extraction. Returns the manifest."""
    config = config or ExtractConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    infos = {}
    for lang, texts in ((corpus.src_lang, corpus.src), (corpus.tgt_lang, corpus.tgt)):
        infos[lang] = embed_to_disk(
            encoder, texts, out / f"{lang}.npy", layers=config.layers, pooling=config.pooling,
            prefix=config.prefix, batch_size=config.batch_size, max_tokens=config.max_tokens,
            shard_size=config.shard_size, precision=config.precision, progress=config.progress)
    write_json(out / "texts.json", {"src_lang": corpus.src_lang, "tgt_lang": corpus.tgt_lang,
                                    "src": corpus.src, "tgt": corpus.tgt})
    first = next(iter(infos.values()))
    manifest = base_manifest(
        command="embed", model=encoder.describe(), data=corpus_manifest(corpus), pooling=config.pooling,
        prefix=config.prefix, layers=first.layers, max_length=encoder.max_length,
        truncated={lang: info.n_truncated for lang, info in infos.items()},
        arrays={lang: {"file": f"{lang}.npy", "shape": list(info.shape)} for lang, info in infos.items()},
        seed=None)
    write_json(out / "manifest.json", manifest)
    return manifest
