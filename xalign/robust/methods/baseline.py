"""``baseline``: cross-entropy on the clean inputs — step for step a plain ``transformers`` fine-tune."""

from __future__ import annotations

from xalign.robust.methods.base import RobustMethod, register


@register
class Baseline(RobustMethod):
    name = "baseline"
    summary = "plain cross-entropy fine-tuning"
