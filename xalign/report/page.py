"""The single page writer: sections of figures and tables → one self-contained, offline HTML file.

* plotly.js is inlined exactly once (from the installed plotly package, never a CDN);
* each figure is JSON in a ``<script type="application/json">`` element, escaped with
  :func:`~xalign.report.escaping.script_json` so no string can close the element, then drawn by
  one small script (sequentially, yielding between figures so the page stays responsive);
* a Content-Security-Policy allows only those two inline scripts (by hash) and no network access,
  so even markup that slipped through escaping could neither run nor load anything;
* embedding maps get a hover handler that highlights the hovered sentence's translation.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import plotly.graph_objects as go

from xalign.io import atomic_path
from xalign.report.escaping import html_text, script_json
from xalign.report.tables import Html

__all__ = ["Section", "Row", "Block", "render_page", "write_page", "figure_json"]


@dataclass
class Row:
    """Blocks shown side by side (e.g. embedding maps of several models)."""

    blocks: list["Block"]


Block = Union[go.Figure, Html, Row]


@dataclass
class Section:
    """A titled part of the page; ``level`` 2 for top-level sections, 3 for sub-sections."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f3b57;color:#fff;padding:14px 24px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.85;font-size:13px}
nav{padding:8px 24px;background:#fff;border-bottom:1px solid #ddd;position:sticky;top:0;z-index:10;font-size:13px}
nav a{margin-right:14px;color:#1f77b4;text-decoration:none}main{padding:8px 24px 40px;max-width:1400px}
h2{border-bottom:2px solid #1f3b57;padding-bottom:4px;margin-top:32px}h3{margin-top:22px;color:#1f3b57}
.xfigure{background:#fff;border:1px solid #e3e3e3;border-radius:4px;margin:10px 0;min-height:120px}
.row{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px}
table{border-collapse:collapse;margin:10px 0;background:#fff;font-size:13px}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f0f3f6}
td code{font-size:11px;word-break:break-all}table.manifest td:first-child{white-space:nowrap;font-weight:600}
.note{color:#666;font-size:13px}.warn{color:#a94442;font-size:13px}
"""

_BOOT = """
(function () {
  "use strict";
  var config = {responsive: true, displaylogo: false};
  function attachMap(gd, meta) {
    var a = meta.src_trace, b = meta.tgt_trace, hi = meta.highlight_trace, current = null;
    function clear() {
      if (current === null) { return; }
      current = null;
      Plotly.restyle(gd, {x: [[]], y: [[]]}, [hi]);
    }
    gd.on("plotly_hover", function (ev) {
      var p = ev && ev.points && ev.points[0];
      if (!p || (p.curveNumber !== a && p.curveNumber !== b)) { return; }
      var other = gd.data[p.curveNumber === a ? b : a], i = p.pointNumber, key = p.curveNumber + ":" + i;
      if (key === current) { return; }
      current = key;
      Plotly.restyle(gd, {x: [[p.x, other.x[i]]], y: [[p.y, other.y[i]]]}, [hi]);
    });
    gd.on("plotly_unhover", clear);
    gd.on("plotly_sliderchange", clear);
  }
  function pause() { return new Promise(function (resolve) { setTimeout(resolve, 0); }); }
  async function render() {
    var divs = document.querySelectorAll("div.xfigure"), done = 0;
    for (var k = 0; k < divs.length; k++) {
      var div = divs[k];
      try {
        var spec = JSON.parse(document.getElementById(div.id + "-json").textContent);
        await Plotly.newPlot(div, {data: spec.data, layout: spec.layout, frames: spec.frames || [],
                                   config: config});
        var meta = spec.layout && spec.layout.meta;
        if (meta && meta.role === "embedding-map") { attachMap(div, meta); }
        div.setAttribute("data-rendered", "1");
      } catch (err) {
        div.textContent = "this figure could not be drawn: " + err;
        console.error(err);
      }
      done += 1;
      document.body.setAttribute("data-figures-rendered", String(done));
      await pause();
    }
    document.body.setAttribute("data-ready-ms", String(Math.round(performance.now())));
    document.body.setAttribute("data-report-ready", "1");
  }
  render();
})();
"""

_ANCHOR = re.compile(r"[^a-z0-9]+")


def figure_json(fig: go.Figure) -> str:
    """The figure as JSON (numpy arrays as base64 typed arrays), safe inside a ``<script>`` element."""
    return script_json(fig.to_json(validate=False))


def _csp_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


class _Renderer:
    def __init__(self) -> None:
        self.n_figures = 0
        self.parts: list[str] = []

    def block(self, block: Block) -> None:
        if isinstance(block, Row):
            self.parts.append('<div class="row">')
            for inner in block.blocks:
                self.block(inner)
            self.parts.append("</div>")
        elif isinstance(block, Html):
            self.parts.append(block)
        elif isinstance(block, go.Figure):
            self.n_figures += 1
            fid = f"fig-{self.n_figures}"
            style = f"height:{int(block.layout.height or 450)}px"
            if block.layout.width:
                style += f";max-width:{int(block.layout.width) + 2}px"
            self.parts.append(f'<div class="xfigure" id="{fid}" style="{style}"></div>'
                              f'<script type="application/json" id="{fid}-json">{figure_json(block)}</script>')
        else:
            raise TypeError(f"a page block must be a plotly Figure, Html or Row, got {type(block).__name__}")


def render_page(title: str, sections: list[Section], *, subtitle: str = "") -> str:
    """The complete HTML document; every text passes through :func:`html_text` (``Html`` blocks are
    trusted markup built by :mod:`xalign.report.tables`)."""
    from plotly.offline import get_plotlyjs

    body = _Renderer()
    nav = []
    used: set[str] = set()
    for si, section in enumerate(sections):
        anchor = _ANCHOR.sub("-", section.title.lower()).strip("-") or f"section-{si}"
        while anchor in used:
            anchor += "-x"
        used.add(anchor)
        level = 3 if section.level == 3 else 2
        if level == 2:
            nav.append(f'<a href="#{anchor}">{html_text(section.title)}</a>')
        body.parts.append(f'<h{level} id="{anchor}">{html_text(section.title)}</h{level}>')
        for block in section.blocks:
            body.block(block)
    plotly_js = get_plotlyjs()
    csp = ("default-src 'none'; " f"script-src {_csp_hash(plotly_js)} {_csp_hash(_BOOT)}; "
           "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; base-uri 'none'; form-action 'none'")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{html_text(csp)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html_text(title)}</title>",
        f"<style>{_CSS}</style>",
        f"<script>{plotly_js}</script>",
        "</head><body>",
        f"<header><h1>{html_text(title)}</h1><p>{html_text(subtitle)}</p></header>",
        f"<nav>{''.join(nav)}</nav>",
        "<main>", *body.parts, "</main>",
        f"<script>{_BOOT}</script>",
        "</body></html>",
    ]) + "\n"


def write_page(path: str | Path, html: str) -> Path:
    """Write ``html`` to ``path`` atomically (a crash leaves any previous report untouched)."""
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return target
