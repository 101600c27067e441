"""Streaming to disk: equal to in-memory extraction, an interrupted run resumes, a changed or damaged
array is recomputed rather than reported complete."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xalign.embed import embed, embed_to_disk
from xalign.embed import store as store_mod
from xalign.errors import DataError

from ..conftest import CORPUS


def test_store_equals_in_memory(tiny_encoder, tmp_path):
    texts = CORPUS * 3
    folder = tmp_path / "store"
    info = embed_to_disk(tiny_encoder, texts, folder / "e.npy", shard_size=5, batch_size=4)
    arr = np.load(folder / "e.npy", mmap_mode="r")
    np.testing.assert_allclose(arr, embed(tiny_encoder, texts), atol=1e-5)
    assert info.shape == arr.shape and info.resumed_shards == 0
    assert sorted(p.name for p in folder.iterdir()) == ["e.json", "e.npy"]  # no shards, partial or progress left
    assert json.loads((folder / "e.json").read_text())["shape"] == list(arr.shape)


def _counting(monkeypatch, fail_at: int | None = None) -> dict[str, int]:
    calls = {"n": 0}
    real = embed  # the real function, also when an earlier wrapper is installed

    def counted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise KeyboardInterrupt("simulated kill")
        return real(*args, **kwargs)

    monkeypatch.setattr(store_mod, "embed", counted)
    return calls


def test_interrupted_run_resumes(tiny_encoder, tmp_path, monkeypatch):
    texts = CORPUS * 3  # 42 texts → 9 shards of 5
    _counting(monkeypatch, fail_at=4)
    with pytest.raises(KeyboardInterrupt):
        embed_to_disk(tiny_encoder, texts, tmp_path / "e.npy", shard_size=5)
    assert not (tmp_path / "e.npy").exists() and not (tmp_path / "e.json").exists()  # nothing looks complete
    shards = sorted(p.name for p in (tmp_path / "e.npy.shards").glob("*.npy"))
    assert shards == ["000000.npy", "000001.npy", "000002.npy"]
    calls = _counting(monkeypatch)
    info = embed_to_disk(tiny_encoder, texts, tmp_path / "e.npy", shard_size=5)
    assert info.resumed_shards == 3 and calls["n"] == 6  # only the 6 missing shards were embedded
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), embed(tiny_encoder, texts), atol=1e-5)


def test_complete_array_is_not_recomputed(tiny_encoder, tmp_path, monkeypatch):
    embed_to_disk(tiny_encoder, CORPUS, tmp_path / "e.npy", shard_size=5)
    calls = _counting(monkeypatch)
    info = embed_to_disk(tiny_encoder, CORPUS, tmp_path / "e.npy", shard_size=5)
    assert calls["n"] == 0 and info.shape == (3, len(CORPUS), 32)


def test_changed_input_starts_over(tiny_encoder, tmp_path):
    embed_to_disk(tiny_encoder, CORPUS, tmp_path / "e.npy", shard_size=5)
    info = embed_to_disk(tiny_encoder, CORPUS[::-1], tmp_path / "e.npy", shard_size=5)
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), embed(tiny_encoder, CORPUS[::-1]), atol=1e-5)
    assert info.resumed_shards == 0


def test_array_of_wrong_shape_is_recomputed(tiny_encoder, tmp_path, monkeypatch):
    """A sidecar that matches but an array that does not (another run wrote it) is not 'complete'."""
    embed_to_disk(tiny_encoder, CORPUS, tmp_path / "e.npy", shard_size=5)
    np.save(tmp_path / "e.npy", np.zeros((3, 4, 32), np.float32))
    calls = _counting(monkeypatch)
    embed_to_disk(tiny_encoder, CORPUS, tmp_path / "e.npy", shard_size=5)
    assert calls["n"] == 3
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), embed(tiny_encoder, CORPUS), atol=1e-5)


def test_stale_shards_of_other_texts_are_not_reused(tiny_encoder, tmp_path, monkeypatch):
    _counting(monkeypatch, fail_at=2)
    with pytest.raises(KeyboardInterrupt):
        embed_to_disk(tiny_encoder, CORPUS, tmp_path / "e.npy", shard_size=5)
    calls = _counting(monkeypatch)
    info = embed_to_disk(tiny_encoder, CORPUS[::-1], tmp_path / "e.npy", shard_size=5)
    assert info.resumed_shards == 0 and calls["n"] == 3
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), embed(tiny_encoder, CORPUS[::-1]), atol=1e-5)


def test_empty_text_list_is_a_data_error(tiny_encoder, tmp_path):
    with pytest.raises(DataError, match="empty"):
        embed_to_disk(tiny_encoder, [], tmp_path / "store" / "e.npy")
    assert not (tmp_path / "store").exists()


def test_npy_shape_reads_the_header(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 3, 4), np.float32))
    assert store_mod.npy_shape(tmp_path / "a.npy") == (2, 3, 4)
    (tmp_path / "b.npy").write_bytes(b"not an array")
    assert store_mod.npy_shape(tmp_path / "b.npy") is None
    assert store_mod.npy_shape(tmp_path / "missing.npy") is None


def test_auto_shard_size_depends_on_n_only():
    assert [store_mod.auto_shard_size(n) for n in (1, 48, 2000, 2049, 10_000, 10**6)] == [256, 256, 256, 257, 1250,
                                                                                           4096]


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA device")
def test_store_on_cuda_equals_cpu(tiny_model_dir, tmp_path):
    import torch

    from xalign.encoders import load_encoder

    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        gpu = load_encoder(str(tiny_model_dir), device="cuda")
        embed_to_disk(gpu, CORPUS * 2, tmp_path / "g.npy", shard_size=6, precision="fp32")
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    cpu = load_encoder(str(tiny_model_dir), device="cpu")
    np.testing.assert_allclose(np.load(tmp_path / "g.npy"), embed(cpu, CORPUS * 2), atol=1e-4)


def test_store_writes_through_the_staging_scheme(tiny_encoder, tmp_path, monkeypatch):
    """The array is assembled in xalign.io's staging folder: a link is refused, and what a kill during the
    assembly left is cleaned by the next run (no ``e.npy.partial`` beside the result)."""
    from xalign.errors import OutputError

    real = tmp_path / "real.npy"
    real.write_bytes(b"mine")
    (tmp_path / "link.npy").symlink_to(real)
    with pytest.raises(OutputError, match="symbolic link"):
        embed_to_disk(tiny_encoder, CORPUS, tmp_path / "link.npy")
    assert real.read_bytes() == b"mine"
    folder = tmp_path / "store"
    calls = {"n": 0}
    real_load = np.load

    def dying_load(*args, **kwargs):  # killed while copying the second shard into place
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_load(*args, **kwargs)

    monkeypatch.setattr(store_mod.np, "load", dying_load)
    with pytest.raises(KeyboardInterrupt):
        embed_to_disk(tiny_encoder, CORPUS, folder / "e.npy", shard_size=5)
    monkeypatch.setattr(store_mod.np, "load", real_load)
    info = embed_to_disk(tiny_encoder, CORPUS, folder / "e.npy", shard_size=5)
    assert info.resumed_shards == info.shape[1] // 5 + (info.shape[1] % 5 > 0)  # every shard was kept
    assert sorted(p.name for p in folder.iterdir()) == ["e.json", "e.npy"]
