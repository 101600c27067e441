"""Escaping rules for the three places untrusted text lands: HTML, plotly labels, JSON in <script>."""

from __future__ import annotations

import json

import pytest

from xalign.report.escaping import html_text, hover_text, plotly_text, script_json


def test_html_text_escapes_markup_and_quotes():
    assert html_text('<img src=x onerror="a()">&\'') == "&lt;img src=x onerror=&quot;a()&quot;&gt;&amp;&#x27;"
    assert html_text(3) == "3"


def test_plotly_text_neutralises_hover_template_references():
    out = plotly_text("%{customdata} <b>")
    assert out == "%&#123;customdata&#125; &lt;b&gt;"
    assert "{" not in out and "<" not in out


def test_hover_text_wraps_then_escapes_each_line():
    text = "<script>alert(1)</script> " + "word " * 30
    out = hover_text(text, width=40)
    lines = out.split("<br>")
    assert len(lines) > 1
    assert lines[0].startswith("&lt;script&gt;alert(1)&lt;/script&gt;")
    # the only markup is the <br> separators
    assert out.replace("<br>", "").count("<") == 0


def test_hover_text_truncates_long_sentences():
    out = hover_text("a" * 1000, max_chars=100, width=1000)
    assert out == "a" * 99 + "…"


@pytest.mark.parametrize("payload", ["</script><script>alert(1)</script>", "<!-- <script>", "a & b > c",
                                     "line\u2028sep\u2029"])
def test_script_json_cannot_close_a_script_element_and_round_trips(payload):
    text = script_json(json.dumps({"s": payload}))
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"s": payload}


def test_script_json_keeps_escaped_backslashes_valid():
    raw = json.dumps({"s": "a\\<b"})
    assert json.loads(script_json(raw)) == {"s": "a\\<b"}
