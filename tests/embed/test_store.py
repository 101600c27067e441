"""Streaming to disk: equal to in-memory extraction, and an interrupted run resumes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xalign.embed import embed, embed_to_disk
from xalign.embed import store as store_mod

from ..conftest import CORPUS


def test_store_equals_in_memory(tiny_encoder, tmp_path):
    texts = CORPUS * 3
    info = embed_to_disk(tiny_encoder, texts, tmp_path / "e.npy", shard_size=5, batch_size=4)
    arr = np.load(tmp_path / "e.npy", mmap_mode="r")
    np.testing.assert_allclose(arr, embed(tiny_encoder, texts), atol=1e-5)
    assert info.shape == arr.shape and info.resumed_shards == 0
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("*progress*"))


def test_interrupted_run_resumes(tiny_encoder, tmp_path, monkeypatch):
    texts = CORPUS * 3  # 42 texts → 9 shards of 5
    calls = {"n": 0}
    real = store_mod.embed

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("simulated kill")
        return real(*args, **kwargs)

    monkeypatch.setattr(store_mod, "embed", flaky)
    with pytest.raises(KeyboardInterrupt):
        embed_to_disk(tiny_encoder, texts, tmp_path / "e.npy", shard_size=5)
    assert not (tmp_path / "e.npy").exists()  # nothing looks complete
    progress = json.loads((tmp_path / "e.npy.progress0.json").read_text())
    assert progress["done"] == [0, 1, 2]
    monkeypatch.setattr(store_mod, "embed", real)
    info = embed_to_disk(tiny_encoder, texts, tmp_path / "e.npy", shard_size=5)
    assert info.resumed_shards == 3
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), embed(tiny_encoder, texts), atol=1e-5)


def test_changed_input_starts_over(tiny_encoder, tmp_path):
    embed_to_disk(tiny_encoder, CORPUS, tmp_path / "e.npy", shard_size=5)
    info = embed_to_disk(tiny_encoder, CORPUS[::-1], tmp_path / "e.npy", shard_size=5)
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), embed(tiny_encoder, CORPUS[::-1]), atol=1e-5)
    assert info.resumed_shards == 0
