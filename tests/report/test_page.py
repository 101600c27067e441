"""The page writer: plotly.js once, figure JSON that cannot break out of its <script>, CSP by hash."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser

import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs

from xalign.report.page import Row, Section, render_page, write_page
from xalign.report.tables import Html

HOSTILE = "</script><script>window.__xss=1</script><!--"


class Scripts(HTMLParser):
    """Collects <script> elements (type, content) the way a browser tokenises them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[str | None, str]] = []
        self.meta: dict[str, str] = {}
        self._current: tuple[str | None, list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._current = (attrs.get("type"), [])
        if tag == "meta" and attrs.get("http-equiv"):
            self.meta[attrs["http-equiv"]] = attrs["content"]

    def handle_data(self, data):
        if self._current is not None:
            self._current[1].append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._current is not None:
            self.scripts.append((self._current[0], "".join(self._current[1])))
            self._current = None


def _figure(text: str) -> go.Figure:
    return go.Figure(go.Scatter(x=[1, 2], y=[3, 4], hovertext=[text, "ok"], name=text),
                     layout={"title": {"text": text}, "height": 300})


def _parse(html: str) -> Scripts:
    parser = Scripts()
    parser.feed(html)
    return parser


def test_plotlyjs_embedded_exactly_once_and_no_remote_scripts():
    html = render_page("t", [Section("a", [_figure("x"), _figure("y")])])
    js = get_plotlyjs()
    assert html.count(js[:300]) == 1 and html.count(js[-300:]) == 1
    assert not re.search(r"<script[^>]+src=", html)
    outside = "".join(html.split(js))  # plotly.js itself mentions its CDN (topojson); nothing else may
    assert "cdn.plot.ly" not in outside and "https://" not in outside and "http://" not in outside


def test_hostile_text_stays_inside_its_json_script():
    figs = [_figure(HOSTILE), _figure("plain")]
    html = render_page(HOSTILE, [Section(HOSTILE, [Html("<p>ok</p>"), Row([figs[0]]), figs[1]])])
    parsed = _parse(html)
    types = [t for t, _ in parsed.scripts]
    # plotly.js, one JSON block per figure, the boot script: nothing else became a script
    assert types == [None, "application/json", "application/json", None]
    for (_, text), fig in zip(parsed.scripts[1:3], figs):
        assert json.loads(text) == json.loads(fig.to_json())  # round-trips exactly
    assert "window.__xss" not in parsed.scripts[0][1] and "window.__xss" not in parsed.scripts[3][1]
    assert "<title>&lt;/script&gt;&lt;script&gt;window.__xss=1&lt;/script&gt;&lt;!--</title>" in html


def test_csp_allows_exactly_the_inline_scripts_by_hash():
    html = render_page("t", [Section("a", [_figure("x")])])
    parsed = _parse(html)
    csp = parsed.meta["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "connect-src" not in csp  # no network at all
    hashes = set(re.findall(r"'sha256-([^']+)'", csp))
    executable = [text for t, text in parsed.scripts if t is None]
    assert len(executable) == 2
    assert hashes == {base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in executable}


def test_sections_anchors_and_fixed_width_figures():
    fig = _figure("x").update_layout(width=500)
    html = render_page("t", [Section("Summary", []), Section("Summary", [fig]), Section("sub", level=3)])
    assert '<h2 id="summary">' in html and '<h2 id="summary-x">' in html and '<h3 id="sub">' in html
    assert 'href="#summary"' in html and 'href="#sub"' not in html
    assert "max-width:502px" in html
    with pytest.raises(TypeError, match="Figure, Html or Row"):
        render_page("t", [Section("a", ["<b>raw string</b>"])])


def test_write_page_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "report.html"
    write_page(target, "old")
    assert target.read_text() == "old"
    write_page(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temporaries left
