"""Embedding a parallel corpus into a run directory (used by ``xalign embed``).

The run is atomic as a whole, through the staging scheme every command uses
(:class:`xalign.io.OutputClaim`): arrays, ``texts.json`` and ``manifest.json`` are built in the
resumable staging folder beside the output (``.<name>.partial/``) and swapped in only when every array
has been checked against the manifest, so a killed run never leaves a mixed-looking result over a good
one, and a rerun resumes from the staging folder. Rank 0 holds the claim (the lock ``.<name>.lock``: a
second concurrent run refuses with one line) for the whole run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xalign.embed import embed_to_disk
from xalign.embed.store import ProcessGroup, auto_shard_size, npy_shape, process_group, store_fingerprint
from xalign.errors import ConfigError, DataError, OutputError
from xalign.io import OutputClaim, base_manifest, check_output, resume_dir, run_command, write_json

if TYPE_CHECKING:  # pragma: no cover
    from xalign.data import ParallelCorpus
    from xalign.encoders import Encoder

logger = logging.getLogger(__name__)


@dataclass
class EmbedRunConfig:
    layers: str | list[int] = "all"
    pooling: str = "mean"
    prefix: str | None = None
    batch_size: int = 32
    max_tokens: int | None = 16384
    shard_size: int | None = None  # None: xalign.embed.store.auto_shard_size(n)
    precision: str = "auto"
    progress: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from xalign.embed.pooling import Pooling

        try:
            Pooling.parse(self.pooling)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.shard_size is not None and self.shard_size < 1:
            raise ConfigError(f"shard_size must be >= 1, got {self.shard_size}")


def corpus_manifest(corpus: "ParallelCorpus") -> dict[str, Any]:
    return {"name": corpus.name, "pair": corpus.pair, "n": len(corpus), "sources": list(corpus.sources),
            "dropped_empty": getattr(corpus, "dropped_empty", 0)}


def _run_fingerprint(encoder: "Encoder", corpus: "ParallelCorpus", config: EmbedRunConfig) -> str:
    from xalign.embed.extract import resolve_layers

    layers = resolve_layers(config.layers, encoder.num_layers)
    parts = [[lang, store_fingerprint(encoder, texts, layers, config.pooling, config.prefix,
                                      config.shard_size or auto_shard_size(len(texts)), config.precision)]
             for lang, texts in ((corpus.src_lang, corpus.src), (corpus.tgt_lang, corpus.tgt))]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def read_complete(out: Path, fingerprint: str | None = None) -> dict[str, Any] | None:
    """The manifest of a finished ``embed`` run in ``out`` whose arrays all exist with the shapes the
    manifest states (and, when given, whose fingerprint matches); None otherwise."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("command") != "embed" or not (out / "texts.json").is_file():
        return None
    if fingerprint is not None and manifest.get("fingerprint") != fingerprint:
        return None
    arrays = manifest.get("arrays")
    if not isinstance(arrays, dict) or not arrays:
        return None
    for entry in arrays.values():
        if not (isinstance(entry, dict) and isinstance(entry.get("file"), str) and isinstance(entry.get("shape"), list)):
            return None
        if npy_shape(out / entry["file"]) != tuple(entry["shape"]):
            return None
    return manifest


def check_embed_root(out: str | Path) -> Path:
    """Refuse, before any model loads, an ``embed --out`` folder xalign must not write into: a link, a
    file, the current folder, or a folder holding anything but ``embed`` runs (one per pair) and their
    staging folders."""
    root = Path(out)
    if not (root.is_dir() and not root.is_symlink() and any(root.iterdir())):
        return check_output(out, kind="dir")  # links, files, devices, the current folder, unwritable places
    if root.resolve() == Path.cwd().resolve() or root.resolve() in Path.cwd().resolve().parents:
        check_output(out, kind="dir")  # says: the current folder
    foreign = sorted(e.name for e in root.iterdir() if not e.name.startswith(".")
                     and not (e.is_dir() and not e.is_symlink() and run_command(e) == "embed"))
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OutputError(f"refusing to write {out}: it is a folder xalign did not write (it holds {shown}); "
                          f"name a new or empty folder, or one that holds only xalign embed runs")
    return root


class _Claim:
    """The output folder's claim (:class:`xalign.io.OutputClaim`), held by rank 0; a second run refuses
    at once on every rank."""

    def __init__(self, out: Path, group: ProcessGroup) -> None:
        self.out, self.group, self.stack = out, group, contextlib.ExitStack()
        self.claim: OutputClaim | None = None

    def __enter__(self) -> "_Claim":
        def acquire() -> None:
            self.claim = self.stack.enter_context(OutputClaim(self.out, "embed", overwrite=True))

        self.group.decide(acquire)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stack.close()

    def prepare(self, fingerprint: str) -> dict[str, Any] | None:
        """Rank 0: the manifest of a complete run of this request, or None after making the staging folder."""
        done = read_complete(self.out, fingerprint)
        if done is None:
            self.claim.stage(resumable=True)
        return done


def embed_corpus(encoder: "Encoder", corpus: "ParallelCorpus", out_dir: str | Path,
                 config: EmbedRunConfig | None = None) -> dict[str, Any]:
    """Write ``<src>.npy`` and ``<tgt>.npy`` (``[layers, n, hidden]``), ``texts.json`` and
    ``manifest.json`` into ``out_dir`` (atomically as a whole); resumes an interrupted extraction, and
    returns at once when ``out_dir`` already holds this exact run. Returns the manifest.

    Under ``torchrun``/``accelerate launch`` every process calls this; they share the shards and one
    of them writes the result.
    """
    config = config or EmbedRunConfig()
    if len(corpus) == 0:
        raise DataError(f"corpus {corpus.name!r} ({corpus.pair}) has no sentence pairs; nothing to embed")
    out = Path(out_dir)
    staging = resume_dir(out)
    fingerprint = _run_fingerprint(encoder, corpus, config)
    group = process_group(encoder.device)
    with _Claim(out, group) as claim:
        done = group.decide(claim.prepare, fingerprint)
        if done is not None:
            logger.info("%s is complete; nothing to do", out)
            group.barrier()
            return done
        infos = {}
        for lang, texts in ((corpus.src_lang, corpus.src), (corpus.tgt_lang, corpus.tgt)):
            infos[lang] = embed_to_disk(
                encoder, texts, staging / f"{lang}.npy", layers=config.layers, pooling=config.pooling,
                prefix=config.prefix, batch_size=config.batch_size, max_tokens=config.max_tokens,
                shard_size=config.shard_size, precision=config.precision, progress=config.progress)

        def finish() -> dict[str, Any]:
            write_json(staging / "texts.json", {"src_lang": corpus.src_lang, "tgt_lang": corpus.tgt_lang,
                                                "src": corpus.src, "tgt": corpus.tgt})
            first = next(iter(infos.values()))
            manifest = base_manifest(
                command="embed", model=encoder.describe(), data=corpus_manifest(corpus), pooling=config.pooling,
                prefix=config.prefix, layers=first.layers, max_length=encoder.max_length,
                precision=config.precision, fingerprint=fingerprint, world_size=group.world,
                truncated={lang: info.n_truncated for lang, info in infos.items()},
                arrays={lang: {"file": f"{lang}.npy", "shape": list(info.shape)} for lang, info in infos.items()},
                seed=None)
            write_json(staging / "manifest.json", manifest)
            if read_complete(staging, fingerprint) is None:  # a bug, not a user error: keep the traceback
                raise RuntimeError(f"{staging}: arrays do not match the manifest just written")
            claim.claim.commit()
            return manifest

        manifest = group.decide(finish)
        group.barrier()
    return manifest
