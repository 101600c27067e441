"""The embedding map: one frame per layer with that layer's coordinates, escaped hover text, pair ids."""

from __future__ import annotations

import numpy as np
import pytest

from xalign.report.maps import MAP_ROLE, embedding_map
from xalign.report.projection import PairProjection


@pytest.fixture
def projection():
    rng = np.random.default_rng(0)
    src = rng.uniform(-1, 1, (3, 4, 2)).astype(np.float32)
    tgt = rng.uniform(-1, 1, (3, 4, 2)).astype(np.float32)
    return PairProjection(index=np.array([0, 2, 3, 5]), layers=[0, 4, 8], src_xy=src, tgt_xy=tgt, method="pca")


TEXTS_SRC = ["zero", "one", "<script>window.__xss=1</script>", "three", "four", "five"]
TEXTS_TGT = ["sifuri", "moja", "mbili", "tatu", "nne", "tano"]


def test_frames_hold_each_layers_coordinates(projection):
    fig = embedding_map(projection, TEXTS_SRC, TEXTS_TGT, src_lang="en", tgt_lang="sw", initial_layer=4)
    assert [f.name for f in fig.frames] == ["0", "4", "8"]
    for li, frame in enumerate(fig.frames):
        assert list(frame.traces) == [0, 1, 2]
        np.testing.assert_allclose(frame.data[0].x, projection.src_xy[li, :, 0], atol=1e-4)
        np.testing.assert_allclose(frame.data[1].y, projection.tgt_xy[li, :, 1], atol=1e-4)
        # translation lines: src point, tgt point, gap, ...
        lx = frame.data[2].x
        assert lx[2] is None and lx[0] == pytest.approx(float(projection.src_xy[li, 0, 0]), abs=1e-4)
        assert lx[1] == pytest.approx(float(projection.tgt_xy[li, 0, 0]), abs=1e-4)
    # the base traces show the initial layer (index 1 = layer 4)
    np.testing.assert_allclose(fig.data[0].x, projection.src_xy[1, :, 0], atol=1e-4)
    assert fig.layout.sliders[0].active == 1
    assert [list(s.args[0]) for s in fig.layout.sliders[0].steps] == [["0"], ["4"], ["8"]]


def test_hover_text_is_escaped_and_customdata_is_the_sentence_index(projection):
    fig = embedding_map(projection, TEXTS_SRC, TEXTS_TGT, src_lang="en", tgt_lang="<i>sw</i>")
    src, tgt = fig.data[0], fig.data[1]
    assert list(src.customdata) == [0, 2, 3, 5] and list(tgt.customdata) == [0, 2, 3, 5]
    assert list(tgt.hovertext) == ["sifuri", "mbili", "tatu", "tano"]
    assert src.hovertext[1] == "&lt;script&gt;window.__xss=1&lt;/script&gt;"
    assert tgt.name == "&lt;i&gt;sw&lt;/i&gt;"
    meta = fig.layout.meta
    assert meta["role"] == MAP_ROLE and (meta["src_trace"], meta["tgt_trace"], meta["highlight_trace"]) == (0, 1, 3)
    assert fig.data[2].visible == "legendonly"


def test_inconsistent_inputs_raise(projection):
    with pytest.raises(ValueError, match="target texts"):
        embedding_map(projection, TEXTS_SRC, TEXTS_TGT[:3], src_lang="en", tgt_lang="sw")
    with pytest.raises(ValueError, match="sentence 5"):
        embedding_map(projection, TEXTS_SRC[:4], TEXTS_TGT[:4], src_lang="en", tgt_lang="sw")
