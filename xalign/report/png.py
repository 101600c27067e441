"""Optional static PNG export of the report's figures through kaleido (≥ 1, which drives a local
Chrome/Chromium; it works offline). Without kaleido or a browser it fails with one clear line."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import plotly.graph_objects as go

from xalign.errors import DependencyError
from xalign.io import atomic_path

logger = logging.getLogger(__name__)

__all__ = ["export_png"]

_SLUG = re.compile(r"[^A-Za-z0-9]+")


def _slug(fig: go.Figure, index: int) -> str:
    title = fig.layout.title.text or "figure"
    return f"{index:02d}-{_SLUG.sub('-', title).strip('-').lower()[:60] or 'figure'}"


def export_png(figures: list[go.Figure], folder: str | Path, *, scale: float = 2.0) -> list[Path]:
    """Write each figure (its first layer for slider figures) as ``folder/NN-title.png``; returns the paths.

    Raises :class:`~xalign.errors.DependencyError` when kaleido is missing and
    :class:`~xalign.errors.DependencyError` when it cannot start a browser (both are the environment, not a bug).
    """
    try:
        import kaleido  # noqa: F401
        from plotly.io import write_images
    except ImportError:
        raise DependencyError("--png needs kaleido>=1 and a Chrome/Chromium browser (pip install 'kaleido>=1'; "
                          "Debian: apt-get install chromium); the HTML report was written") from None
    target = Path(folder)
    with atomic_path(target) as tmp:
        tmp.mkdir(parents=True)
        static = [go.Figure(data=f.data, layout=f.layout) for f in figures]  # frames dropped
        names = [tmp / f"{_slug(f, i + 1)}.png" for i, f in enumerate(figures)]
        try:
            write_images(static, names, scale=scale, width=[int(f.layout.width or 1100) for f in figures],
                         height=[int(f.layout.height or 500) for f in figures])
        except Exception as exc:  # kaleido/choreographer raise their own types for a missing or dying browser
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DependencyError(f"--png: kaleido could not render with a headless Chrome/Chromium ({first}); "
                               "install chromium or set BROWSER_PATH to a Chrome binary") from None
    paths = [target / n.name for n in names]
    logger.info("wrote %d PNG figures to %s", len(paths), target)
    return paths
