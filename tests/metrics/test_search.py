"""The top-k kernel against brute-force numpy, and exact CSLS top-k on augmented vectors."""

from __future__ import annotations

import numpy as np
import pytest

from xalign.metrics.search import csls_topk, prepare, topk_search


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _brute_topk(q: np.ndarray, k_: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    s = q.astype(np.float64) @ k_.astype(np.float64).T
    idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(s, idx, 1), idx


def _min_gap(scores: np.ndarray, top: int = 11) -> float:
    """Smallest difference between consecutive scores among each row's ``top`` best."""
    srt = np.sort(scores, axis=1)[:, ::-1][:, :top]
    return float(np.min(-np.diff(srt, axis=1)))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    q, keys = _unit(rng, 120, 24), _unit(rng, 300, 24)
    full = q.astype(np.float64) @ keys.astype(np.float64).T
    assert _min_gap(full) > 1e-5, "random data must be free of near-ties for an exact ranking check"
    return q, keys


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_flat_equals_brute_force(data, backend):
    q, keys = data
    ref_s, ref_i = _brute_topk(q, keys, 10)
    s, i = topk_search(q, keys, 10, backend=backend, device="cpu")
    np.testing.assert_array_equal(i, ref_i)
    np.testing.assert_allclose(s, ref_s, atol=1e-5)
    assert s.dtype == np.float32 and i.dtype == np.int64


def test_chunking_does_not_change_results(data):
    q, keys = data
    a = topk_search(q, keys, 5, chunk_size=7, device="cpu")
    b = topk_search(q, keys, 5, chunk_size=10_000, device="cpu")
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], b[0])


def test_ivf_with_all_cells_probed_is_exact():
    rng = np.random.default_rng(3)
    centres = _unit(rng, 8, 16)
    keys = centres[rng.integers(0, 8, 800)] + 0.3 * rng.standard_normal((800, 16)).astype(np.float32)
    q = _unit(rng, 40, 16)
    _, ref_i = _brute_topk(q, keys, 5)
    _, i = topk_search(q, keys, 5, index="ivf", nlist=8, nprobe=8, device="cpu")
    np.testing.assert_array_equal(i, ref_i)


def test_torch_tensors_and_float64_are_accepted(data):
    import torch

    q, keys = data
    a = topk_search(torch.from_numpy(q.astype(np.float64)), torch.from_numpy(keys), 3, device="cpu")
    b = topk_search(q, keys, 3, device="cpu")
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"k": 0}, ValueError, "1 <= k"),
        ({"k": 301}, ValueError, "number of keys"),
        ({"k": 2.5}, TypeError, "expected an int"),
        ({"k": 3, "index": "hnsw"}, ValueError, "index"),
        ({"k": 3, "backend": "cupy"}, ValueError, "backend"),
        ({"k": 3, "backend": "torch", "index": "ivf"}, ValueError, "exact only"),
        ({"k": 3, "index": "ivf", "nlist": 301}, ValueError, "nlist"),
    ],
)
def test_bad_arguments_raise(data, kwargs, error, match):
    q, keys = data
    with pytest.raises(error, match=match):
        topk_search(q, keys, device="cpu", **kwargs)


def test_bad_inputs_raise(data):
    q, keys = data
    with pytest.raises(ValueError, match="dim"):
        topk_search(q[:, :5], keys, 3)
    bad = q.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match="row 4"):
        topk_search(bad, keys, 3)
    with pytest.raises(ValueError, match="2-D"):
        topk_search(q[0], keys, 3)
    with pytest.raises(TypeError, match="numeric"):
        topk_search(np.array([["a", "b"]]), keys, 3)
    with pytest.raises(ValueError, match="row 1 has zero norm"):
        prepare(np.array([[1.0, 0.0], [0.0, 0.0]]), "x")


def test_csls_topk_equals_brute_force_with_separate_query_pool():
    rng = np.random.default_rng(11)
    pool, keys = rng.standard_normal((90, 12)), rng.standard_normal((70, 12))
    queries = pool[:25]
    p = pool / np.linalg.norm(pool, axis=1, keepdims=True)
    kk = keys / np.linalg.norm(keys, axis=1, keepdims=True)
    q = p[:25]
    cos = q @ kk.T
    r_q = np.sort(cos, axis=1)[:, -5:].mean(1)  # mean cos of the 5 nearest keys
    r_k = np.sort(kk @ p.T, axis=1)[:, -5:].mean(1)  # mean cos of each key's 5 nearest pool rows
    ref = 2 * cos - r_q[:, None] - r_k[None, :]
    ref_i = np.argsort(-ref, axis=1)[:, :4]
    s, i = csls_topk(queries, keys, 4, neighbourhood=5, query_pool=pool, device="cpu")
    np.testing.assert_array_equal(i, ref_i)
    np.testing.assert_allclose(s, np.take_along_axis(ref, ref_i, 1), atol=1e-5)


def test_cosine_metric_normalises_rows(data):
    q, keys = data
    scaled_q = q * np.linspace(0.5, 3.0, len(q), dtype=np.float32)[:, None]
    scaled_k = keys * np.linspace(4.0, 0.1, len(keys), dtype=np.float32)[:, None]
    s, i = topk_search(scaled_q, scaled_k, 5, metric="cosine", device="cpu")
    ref_s, ref_i = _brute_topk(q, keys, 5)
    np.testing.assert_array_equal(i, ref_i)
    np.testing.assert_allclose(s, ref_s, atol=1e-5)
    with pytest.raises(ValueError, match="metric"):
        topk_search(q, keys, 5, metric="l2")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA device")
def test_cuda_search_equals_cpu(data):
    import torch

    q, keys = data
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # exact float32 products for the comparison
    try:
        ref = topk_search(q, keys, 10, device="cpu")
        got = topk_search(q, keys, 10, device="cuda")
        np.testing.assert_array_equal(got[1], ref[1])
        np.testing.assert_allclose(got[0], ref[0], atol=1e-5)
        from xalign.metrics.retrieval import retrieval_scores

        for method in ("cosine", "csls", "margin"):
            a = retrieval_scores(q, keys[: len(q)], method=method, device="cpu")
            b = retrieval_scores(q, keys[: len(q)], method=method, device="cuda")
            np.testing.assert_array_equal(a.ranks, b.ranks)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


@pytest.mark.parametrize("hubby", [False, True])
def test_csls_topk_candidate_shortcut_and_fallback_are_exact(hubby, caplog):
    rng = np.random.default_rng(12)
    keys = rng.standard_normal((400, 10))
    queries = rng.standard_normal((150, 10))
    if hubby:  # a few keys near the queries' mean direction (hubs) and a spread of r_S values
        keys[:40] = queries.mean(0) * 6 + 0.3 * rng.standard_normal((40, 10))
        queries += 0.8 * queries.mean(0)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    kk = keys / np.linalg.norm(keys, axis=1, keepdims=True)
    cos = q @ kk.T
    r_q = np.sort(cos, axis=1)[:, -3:].mean(1)
    r_k = np.sort(cos, axis=0)[-3:, :].mean(0)
    ref = 2 * cos - r_q[:, None] - r_k[None, :]
    ref_i = np.argsort(-ref, axis=1)[:, :2]
    with caplog.at_level("DEBUG", logger="xalign.metrics.search"):
        s, i = csls_topk(queries, keys, 2, neighbourhood=3, candidates=8, device="cpu")
    np.testing.assert_array_equal(i, ref_i)
    np.testing.assert_allclose(s, np.take_along_axis(ref, ref_i, 1), atol=1e-5)
    redone = int(next(r.args[0] for r in caplog.records if "augmented" in r.getMessage()))
    assert (redone > 0) if hubby else (redone < 150)  # both paths are exercised across the two cases
