"""Typed results and the one metric registry (what report, compare, the CLI and the study read).

* :mod:`~xalign.results.registry`: metric specs (label, direction, headline, CI, format).
* :mod:`~xalign.results.types`: :class:`MetricValue`, :class:`LayerValues`, :class:`PairMetrics`,
  :class:`ProbeMetrics`, :class:`Comparison` …
* :mod:`~xalign.results.json_io`: ``metrics.json``/``metrics.csv``/``compare.json`` written and read.
"""

from __future__ import annotations

from xalign.results.registry import MetricSpec, format_value, is_headline, metric_label, metric_spec
from xalign.results.types import (BestLayer, Comparison, LayerComparison, LayerValues, MetricComparison,
                                  MetricValue, PairComparison, PairMetrics, ProbeMetrics)

__all__ = ["BestLayer", "Comparison", "LayerComparison", "LayerValues", "MetricComparison", "MetricSpec",
           "MetricValue", "PairComparison", "PairMetrics", "ProbeMetrics", "format_value", "is_headline",
           "metric_label", "metric_spec"]
