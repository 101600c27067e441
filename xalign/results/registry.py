"""The one metric registry: for every metric a probe or compare reports, its human label, whether
higher is better, whether it is a headline number, whether it gets a 95% CI, whether compare runs a
paired test on it, and how to format it. Report, compare, the CLI and the JSON module read it.

A metric key is ``<section>[.<qualifiers>].<leaf>``: ``retrieval.csls.en->sw.p@1``, ``cka.linear``,
``bli.cosine.p@5``, ``word_alignment.aer``, ``mteb.en->sw.f1``. The spec is found by (section, leaf).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MetricSpec", "REGISTRY", "metric_spec", "register_spec", "unregister_spec", "metric_label", "is_headline", "format_value",
           "HEADLINE_RULES", "RETRIEVAL_RULES", "RULE_LABELS"]

#: retrieval scoring rules in display order, and their human names
RETRIEVAL_RULES = ("cosine", "csls", "margin", "cosine_centered")
RULE_LABELS = {"cosine": "cosine", "csls": "CSLS", "margin": "margin", "cosine_centered": "centred cosine"}
#: rules whose P@1 is a headline number
HEADLINE_RULES = ("csls", "cosine")


@dataclass(frozen=True)
class MetricSpec:
    """How one metric is read: ``higher_is_better`` decides best layers; ``headline`` the short
    summary; ``ci`` that a 95% CI is stored beside it (``<leaf>_ci95`` in JSON); ``paired`` that
    compare tests before/after differences with a paired bootstrap; ``best`` that the best layer is
    recorded; ``digits`` the rounding for display."""

    section: str
    leaf: str
    label: str
    higher_is_better: bool = True
    headline: bool = False
    ci: bool = False
    paired: bool = False
    best: bool = False
    digits: int = 3
    integer: bool = False

    def format(self, value: float | None) -> str:
        if value is None:
            return ""
        return f"{int(value):d}" if self.integer else f"{value:.{self.digits}f}"


REGISTRY: tuple[MetricSpec, ...] = (
    MetricSpec("retrieval", "p@1", "P@1", headline=True, ci=True, paired=True, best=True),
    MetricSpec("retrieval", "p@5", "P@5"),
    MetricSpec("retrieval", "p@10", "P@10"),
    MetricSpec("retrieval", "mrr", "MRR", best=True),
    MetricSpec("retrieval", "hubness", "hubness (skew of k-occurrence)", higher_is_better=False, digits=2),
    MetricSpec("cka", "linear", "linear CKA", headline=True, ci=True, paired=True, best=True),
    MetricSpec("cka", "linear_debiased", "debiased linear CKA", headline=True, best=True),
    MetricSpec("bli", "p@1", "BLI P@1", headline=True, best=True),
    MetricSpec("bli", "p@5", "BLI P@5"),
    MetricSpec("bli", "n", "BLI queries", integer=True),
    MetricSpec("word_alignment", "precision", "alignment precision"),
    MetricSpec("word_alignment", "recall", "alignment recall"),
    MetricSpec("word_alignment", "f1", "alignment F1", headline=True, best=True),
    MetricSpec("word_alignment", "aer", "AER", higher_is_better=False, headline=True, ci=True, best=True),
    MetricSpec("word_alignment", "n_pairs", "aligned sentence pairs", integer=True),
    MetricSpec("mteb", "accuracy", "MTEB accuracy"),
    MetricSpec("mteb", "precision", "MTEB precision"),
    MetricSpec("mteb", "recall", "MTEB recall"),
    MetricSpec("mteb", "f1", "MTEB F1", best=True),
)
_BY_KEY = {(s.section, s.leaf): s for s in REGISTRY}


def register_spec(spec: MetricSpec) -> None:
    """Make ``spec`` known (done by :func:`xalign.pipelines.probe.steps.register_metric` for each spec a metric
    declares); a different spec for a known (section, leaf) is refused."""
    known = _BY_KEY.get((spec.section, spec.leaf))
    if known is not None and known != spec:
        raise ValueError(f"metric {spec.section}.{spec.leaf} is already registered as {known}")
    _BY_KEY[(spec.section, spec.leaf)] = spec


def unregister_spec(spec: MetricSpec) -> None:
    """Forget a spec added by :func:`register_spec` (the built-in ones stay)."""
    if spec not in REGISTRY:
        _BY_KEY.pop((spec.section, spec.leaf), None)


def metric_spec(key: str) -> MetricSpec:
    """The spec of a metric key; an unknown key gets a neutral spec (labelled by its key, no CI, not best)."""
    parts = key.split(".")
    spec = _BY_KEY.get((parts[0], parts[-1]))
    return spec if spec is not None else MetricSpec(parts[0], parts[-1], key)


def _qualifiers(key: str) -> list[str]:
    return key.split(".")[1:-1]


def is_headline(key: str) -> bool:
    """Shown in the short summary: CSLS/cosine P@1, CKA, BLI CSLS P@1, word-alignment F1/AER."""
    spec = metric_spec(key)
    if not spec.headline:
        return False
    quals = _qualifiers(key)
    if spec.section == "retrieval":
        return bool(quals) and quals[0] in HEADLINE_RULES
    if spec.section == "bli":
        return quals == ["csls"]
    return True


def metric_label(key: str) -> str:
    """Human label: ``retrieval.csls.en->sw.p@1`` → ``CSLS P@1 en→sw``; ``cka.linear`` → ``linear CKA``."""
    spec = metric_spec(key)
    quals = _qualifiers(key)
    if spec.section == "retrieval" and quals:
        rule = RULE_LABELS.get(quals[0], quals[0])
        direction = " ".join(q.replace("->", "→") for q in quals[1:])
        return f"{rule} {spec.label} {direction}".strip()
    if spec.section == "bli" and quals:
        return f"{spec.label} ({RULE_LABELS.get(quals[0], quals[0])})"
    if spec.section == "mteb" and quals:
        return f"{spec.label} {' '.join(q.replace('->', '→') for q in quals)}"
    return spec.label


def format_value(key: str, value: float | None) -> str:
    """``value`` rounded as the registry says for ``key`` ("" for None)."""
    return metric_spec(key).format(value)
