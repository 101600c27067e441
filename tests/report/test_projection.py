"""Display projections: seeded subsampling, PCA against an eigen-decomposition, layer alignment, UMAP."""

from __future__ import annotations

import numpy as np
import pytest

from xalign.report.projection import (MIN_UMAP_POINTS, project_2d, project_pair_layers, resolve_method,
                                      subsample)


def test_subsample_is_seeded_sorted_and_without_replacement():
    a = subsample(1000, 100, seed=3)
    assert len(a) == 100 and len(set(a.tolist())) == 100
    assert np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(a, subsample(1000, 100, seed=3))
    assert not np.array_equal(a, subsample(1000, 100, seed=4))
    np.testing.assert_array_equal(subsample(7, 100, seed=0), np.arange(7))
    np.testing.assert_array_equal(subsample(7, None, seed=0), np.arange(7))
    with pytest.raises(ValueError, match="max_points"):
        subsample(10, 0, seed=0)


def test_pca_matches_covariance_eigenvectors():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 6)) * np.array([5, 3, 1, 0.5, 0.2, 0.1])
    xy, used = project_2d(x, method="pca")
    assert used == "pca"
    z = x / np.linalg.norm(x, axis=1, keepdims=True)
    z = z - z.mean(axis=0)
    vals, vecs = np.linalg.eigh(z.T @ z)
    ref = z @ vecs[:, ::-1][:, :2]
    for j in range(2):  # equal up to the sign of each axis
        assert np.allclose(np.abs(xy[:, j]), np.abs(ref[:, j]), atol=1e-8)
        assert np.allclose(xy[:, j], ref[:, j], atol=1e-8) or np.allclose(xy[:, j], -ref[:, j], atol=1e-8)


def test_resolve_method():
    assert resolve_method("auto", MIN_UMAP_POINTS - 1) == "pca"
    assert resolve_method("umap", 3) == "pca"  # too few points for a neighbourhood graph
    assert resolve_method("pca", 10_000) == "pca"
    with pytest.raises(ValueError, match="auto"):
        resolve_method("tsne", 100)
    with pytest.raises(ValueError, match="shape"):
        project_2d(np.zeros(5))


def test_layers_that_are_rotations_of_each_other_get_identical_maps():
    rng = np.random.default_rng(1)
    base_s = rng.standard_normal((25, 8)) * np.linspace(3, 0.5, 8)
    base_t = base_s + 0.1 * rng.standard_normal((25, 8))
    src, tgt = [base_s], [base_t]
    for _ in range(2):  # each further layer: the same points under a random orthogonal map
        q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
        src.append(src[-1] @ q)
        tgt.append(tgt[-1] @ q)
    proj = project_pair_layers(np.stack(src), np.stack(tgt), [0, 1, 2], max_points=None, method="pca")
    assert proj.method == "pca" and proj.src_xy.shape == (3, 25, 2)
    for li in (1, 2):
        np.testing.assert_allclose(proj.src_xy[li], proj.src_xy[0], atol=1e-5)
        np.testing.assert_allclose(proj.tgt_xy[li], proj.tgt_xy[0], atol=1e-5)
    both = np.concatenate([proj.src_xy[0], proj.tgt_xy[0]])
    assert np.isclose(np.abs(both).max(), 1.0)  # scaled into [-1, 1]
    assert np.allclose(both.mean(axis=0), 0, atol=1e-6)


def test_identical_languages_project_onto_each_other_and_subsample_is_shared():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 50, 6)).astype(np.float32)
    proj = project_pair_layers(x, x.copy(), [3, 7], max_points=20, seed=5, method="pca")
    np.testing.assert_array_equal(proj.index, subsample(50, 20, seed=5))
    np.testing.assert_allclose(proj.src_xy, proj.tgt_xy, atol=1e-6)
    assert proj.layers == [3, 7]


def test_shape_errors():
    with pytest.raises(ValueError, match="shape"):
        project_pair_layers(np.zeros((2, 5, 3)), np.zeros((2, 6, 3)), [0, 1])
    with pytest.raises(ValueError, match="layer numbers"):
        project_pair_layers(np.zeros((2, 5, 3)), np.zeros((2, 5, 3)), [0])


@pytest.mark.slow  # numba compiles UMAP on first use (~15 s on 2 cores)
def test_umap_is_seeded_and_separates_planted_clusters():
    pytest.importorskip("umap")
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2, 16)) * 4
    x = np.concatenate([centres[0] + 0.3 * rng.standard_normal((40, 16)),
                        centres[1] + 0.3 * rng.standard_normal((40, 16))])
    a, used = project_2d(x, seed=7, method="umap")
    b, _ = project_2d(x, seed=7, method="umap")
    assert used == "umap"
    np.testing.assert_allclose(a, b)  # fixed seed → same map
    # every point is nearer to its own cluster's centroid than to the other one
    c0, c1 = a[:40].mean(axis=0), a[40:].mean(axis=0)
    d0 = np.linalg.norm(a - c0, axis=1)
    d1 = np.linalg.norm(a - c1, axis=1)
    assert np.all(d0[:40] < d1[:40]) and np.all(d1[40:] < d0[40:])


def test_distance_matrix_matches_brute_force():
    from xalign.report.projection import _distances

    rng = np.random.default_rng(3)
    z = rng.standard_normal((12, 5))
    ref = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1))
    np.testing.assert_allclose(_distances(z), ref, atol=1e-10)
    assert np.all(np.diag(_distances(z)) == 0)


def test_joint_projection_is_one_fit_of_all_models_together():
    """Compare's maps share coordinates: layer 0 equals a PCA of all models' points stacked (numpy SVD)."""
    from xalign.report.projection import project_joint

    rng = np.random.default_rng(5)
    a_s, a_t, b_s, b_t = (rng.standard_normal((2, 30, 6)) for _ in range(4))
    b_s += 3.0  # the second model sits elsewhere: separate fits would hide that, a joint fit shows it
    pa, pb = project_joint([(a_s, a_t), (b_s, b_t)], [0, 1], max_points=None, method="pca")
    rows = np.concatenate([a_s[0], a_t[0], b_s[0], b_t[0]])
    z = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    z = z - z.mean(axis=0)
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    ref = z @ vt[:2].T
    ref = ref - ref.mean(axis=0)
    ref /= np.abs(ref).max()
    got = np.concatenate([pa.src_xy[0], pa.tgt_xy[0], pb.src_xy[0], pb.tgt_xy[0]]).astype(np.float64)
    for j in range(2):  # an axis is defined up to its sign
        sign = np.sign(ref[:, j] @ got[:, j])
        np.testing.assert_allclose(got[:, j], sign * ref[:, j], atol=1e-5)
    assert np.linalg.norm(pb.src_xy[0].mean(0) - pa.src_xy[0].mean(0)) > 0.5  # the offset is visible
    with pytest.raises(ValueError, match="same layers and sentences"):
        project_joint([(a_s, a_t), (b_s[:, :10], b_t[:, :10])], [0, 1])


def test_projection_cache_is_read_back_and_keyed_by_the_inputs(tmp_path, monkeypatch):
    import xalign.report.cache as cache

    rng = np.random.default_rng(2)
    src, tgt = rng.standard_normal((3, 20, 5)), rng.standard_normal((3, 20, 5))
    first = cache.cached_projection(tmp_path, [(src, tgt)], [0, 1, 2], max_points=15, seed=1, method="pca")[0]
    files = list((tmp_path / cache.CACHE_DIR).glob("projection-*.npz"))
    assert len(files) == 1

    def boom(*args, **kwargs):
        raise AssertionError("projected again")

    monkeypatch.setattr(cache, "project_joint", boom)
    again = cache.cached_projection(tmp_path, [(src, tgt)], [0, 1, 2], max_points=15, seed=1, method="pca")[0]
    np.testing.assert_array_equal(again.src_xy, first.src_xy)
    np.testing.assert_array_equal(again.index, first.index)
    # another seed, another subsample size, changed embeddings: other keys, so they are projected
    changed = src.copy()
    changed[1, first.index[0], 0] += 1e-3
    for args in ((src, 2, 15), (src, 1, 14), (changed, 1, 15)):
        key = cache.projection_key([(args[0], tgt)], [0, 1, 2], max_points=args[2], seed=args[1], method="pca")
        assert not (tmp_path / cache.CACHE_DIR / f"projection-{key[:32]}.npz").exists()
    # a corrupt cache file is ignored and replaced
    files[0].write_bytes(b"not a zip")
    monkeypatch.undo()
    fixed = cache.cached_projection(tmp_path, [(src, tgt)], [0, 1, 2], max_points=15, seed=1, method="pca")[0]
    np.testing.assert_array_equal(fixed.src_xy, first.src_xy)
    assert np.load(files[0])["src_0"].shape == (3, 15, 2)


def test_an_unwritable_run_folder_only_costs_the_recomputation(tmp_path, monkeypatch, caplog):
    import xalign.report.cache as cache
    from xalign.errors import OutputError

    def refuse(path, **kwargs):
        raise OutputError(f"refusing to write {path}: read-only")

    monkeypatch.setattr("xalign.io.atomic_path", refuse)
    src = np.random.default_rng(0).standard_normal((2, 12, 4))
    out = cache.cached_projection(tmp_path, [(src, src)], [0, 1], max_points=None, seed=0, method="pca")
    assert out[0].src_xy.shape == (2, 12, 2)
    assert any("could not cache" in r.message for r in caplog.records)
