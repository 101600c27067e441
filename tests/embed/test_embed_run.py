"""``embed_corpus`` (``xalign embed``): the output folder is swapped in whole, checked against its
manifest, locked while a run writes it, and never replaces a folder that is not an embed run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xalign.data import ParallelCorpus
from xalign.embed import embed
from xalign.embed import store as store_mod
from xalign.errors import OutputError
from xalign.pipelines import embed_run as ex

from ..conftest import CORPUS


def _corpus(n: int) -> ParallelCorpus:
    src = [CORPUS[i % len(CORPUS)] + f" {i}" for i in range(n)]
    tgt = [CORPUS[(i + 3) % len(CORPUS)] for i in range(n)]
    return ParallelCorpus("en", "sw", src, tgt, name="test")


CFG = ex.EmbedRunConfig(layers=[0, 2], shard_size=4)


def _kill_after(monkeypatch, n_calls: int) -> dict[str, int]:
    calls = {"n": 0}
    real = embed  # the real function, also when an earlier wrapper is installed

    def counted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n_calls:
            raise KeyboardInterrupt("simulated kill")
        return real(*args, **kwargs)

    monkeypatch.setattr(store_mod, "embed", counted)
    return calls


def _files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_run_writes_arrays_equal_to_embed_and_a_matching_manifest(tiny_encoder, tmp_path):
    corpus = _corpus(10)
    out = tmp_path / "OUT" / "en-sw"
    manifest = ex.embed_corpus(tiny_encoder, corpus, out, CFG)
    np.testing.assert_allclose(np.load(out / "en.npy"), embed(tiny_encoder, corpus.src, layers=[0, 2]), atol=1e-5)
    np.testing.assert_allclose(np.load(out / "sw.npy"), embed(tiny_encoder, corpus.tgt, layers=[0, 2]), atol=1e-5)
    assert manifest["arrays"]["en"]["shape"] == [2, 10, 32] and manifest["world_size"] == 1
    assert json.loads((out / "manifest.json").read_text())["fingerprint"] == manifest["fingerprint"]
    assert json.loads((out / "texts.json").read_text())["src"] == corpus.src
    assert sorted(p.name for p in out.parent.iterdir()) == ["en-sw"]  # no staging or lock file left


def test_killed_smaller_run_leaves_the_good_folder_intact_then_resumes(tiny_encoder, tmp_path, monkeypatch):
    out = tmp_path / "en-sw"
    ex.embed_corpus(tiny_encoder, _corpus(12), out, CFG)
    before = _files(out)
    small = _corpus(8)  # 2 shards per language; killed during the second language
    _kill_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        ex.embed_corpus(tiny_encoder, small, out, CFG)
    assert _files(out) == before  # byte for byte the first run, which still reads as complete
    assert ex.read_complete(out) is not None and ex.read_complete(out)["data"]["n"] == 12
    calls = _kill_after(monkeypatch, 10**6)
    manifest = ex.embed_corpus(tiny_encoder, small, out, CFG)
    assert calls["n"] == 1  # only the missing shard of the second language was embedded
    assert manifest["data"]["n"] == 8 and np.load(out / "sw.npy").shape == (2, 8, 32)
    np.testing.assert_allclose(np.load(out / "sw.npy"), embed(tiny_encoder, small.tgt, layers=[0, 2]), atol=1e-5)
    assert not (tmp_path / ".en-sw.partial").exists() and not (tmp_path / ".en-sw.old").exists()


def test_complete_run_is_checked_against_its_manifest(tiny_encoder, tmp_path, monkeypatch):
    out = tmp_path / "en-sw"
    corpus = _corpus(6)
    ex.embed_corpus(tiny_encoder, corpus, out, CFG)
    calls = _kill_after(monkeypatch, 10**6)
    ex.embed_corpus(tiny_encoder, corpus, out, CFG)
    assert calls["n"] == 0  # same request: nothing to do
    np.save(out / "sw.npy", np.zeros((2, 5, 32), np.float32))  # an array of another size under the same manifest
    assert ex.read_complete(out) is None
    ex.embed_corpus(tiny_encoder, corpus, out, CFG)
    assert calls["n"] == 4  # recomputed, not "complete; nothing to do"
    assert ex.read_complete(out) is not None and np.load(out / "sw.npy").shape == (2, 6, 32)


def test_refuses_to_replace_a_folder_that_is_not_an_embed_run(tiny_encoder, tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "thesis.txt").write_text("years of work")
    with pytest.raises(OutputError, match="folder xalign did not write"):
        ex.embed_corpus(tiny_encoder, _corpus(4), out, CFG)
    assert _files(out) == {"thesis.txt": b"years of work"}


def test_a_second_concurrent_run_refuses(tiny_encoder, tmp_path):
    from filelock import FileLock

    out = tmp_path / "en-sw"
    with FileLock(str(tmp_path / ".en-sw.lock")):  # another run holds the folder
        with pytest.raises(OutputError, match="being written by another xalign process"):
            ex.embed_corpus(tiny_encoder, _corpus(4), out, CFG)
    assert not out.exists()
    ex.embed_corpus(tiny_encoder, _corpus(4), out, CFG)  # free again
    assert ex.read_complete(out) is not None


def test_swap_killed_between_renames_brings_the_previous_run_back(tiny_encoder, tmp_path):
    out = tmp_path / "runs" / "en-sw"
    corpus = _corpus(5)
    ex.embed_corpus(tiny_encoder, corpus, out, CFG)
    before = _files(out)
    parked = out.parent / ".en-sw.k1ll.tmp"  # xalign.io.swap_in_dir's parking folder, as a kill left it
    parked.mkdir()
    out.rename(parked / ".old-en-sw")  # the state after the first rename of a swap
    ex.embed_corpus(tiny_encoder, corpus, out, CFG)
    assert _files(out) == before and not parked.exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["en-sw"]


def test_refuses_another_commands_run_and_a_symlink(tiny_encoder, tmp_path):
    probe = tmp_path / "probe-run"
    probe.mkdir()
    (probe / "manifest.json").write_text(json.dumps({"command": "probe"}))
    with pytest.raises(OutputError, match="holds an xalign probe run, not an xalign embed run"):
        ex.embed_corpus(tiny_encoder, _corpus(4), probe, CFG)
    (tmp_path / "link").symlink_to(probe)
    with pytest.raises(OutputError, match="symbolic link"):
        ex.embed_corpus(tiny_encoder, _corpus(4), tmp_path / "link", CFG)
    assert sorted(p.name for p in probe.iterdir()) == ["manifest.json"]


def test_empty_corpus_is_a_data_error(tiny_encoder, tmp_path):
    from xalign.errors import DataError

    with pytest.raises(DataError, match="no sentence pairs"):
        ex.embed_corpus(tiny_encoder, ParallelCorpus("en", "sw", [], [], name="empty"), tmp_path / "o", CFG)


def test_malformed_manifest_is_not_complete_and_is_replaced(tiny_encoder, tmp_path):
    out = tmp_path / "en-sw"
    corpus = _corpus(4)
    ex.embed_corpus(tiny_encoder, corpus, out, CFG)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["arrays"]["en"] = {"shape": [2, 4, 32]}  # no file named
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert ex.read_complete(out) is None
    ex.embed_corpus(tiny_encoder, corpus, out, CFG)
    assert ex.read_complete(out)["arrays"]["en"] == {"file": "en.npy", "shape": [2, 4, 32]}
