"""Escaping of untrusted text (corpus sentences, tokens, file names, manifest values) for the report.

Three places text can land, three rules:

* HTML body (tables, headings): :func:`html_text` (``&``, ``<``, ``>``, quotes → entities);
* plotly.js labels, hover text and tick text, which plotly.js renders as a small HTML subset:
  :func:`plotly_text` (the same entities, plus ``%{``/``}`` neutralised for hover templates),
  :func:`hover_text` wraps long sentences with ``<br>`` *after* escaping each line;
* JSON inside ``<script>`` elements: :func:`script_json` turns ``<``, ``>``, ``&`` and the
  U+2028/U+2029 separators into ``\\uXXXX`` escapes, so no string can close the element.
"""

from __future__ import annotations

import html
import textwrap
from typing import Any

__all__ = ["html_text", "plotly_text", "hover_text", "script_json"]

_SCRIPT_JSON = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def html_text(value: Any) -> str:
    """``str(value)`` with ``& < > " '`` as HTML entities (safe in element content and quoted attributes)."""
    return html.escape(str(value), quote=True)


def plotly_text(value: Any) -> str:
    """Text for plotly.js labels/hover: HTML-escaped, and ``{``/``}`` as entities so that a
    sentence can never be read as a ``%{...}`` hover-template reference."""
    return html_text(value).replace("{", "&#123;").replace("}", "&#125;")


def hover_text(value: Any, *, width: int = 80, max_chars: int = 600) -> str:
    """A sentence for a hover label: truncated to ``max_chars``, wrapped at ``width``, each line escaped,
    lines joined with ``<br>`` (the only markup in the result)."""
    text = " ".join(str(value).split())
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    lines = textwrap.wrap(text, width=width, break_long_words=True, break_on_hyphens=False) or [""]
    return "<br>".join(plotly_text(line) for line in lines)


def script_json(text: str) -> str:
    """JSON text made safe to place verbatim inside a ``<script>`` element (still valid JSON)."""
    for char, escape in _SCRIPT_JSON.items():
        text = text.replace(char, escape)
    return text
