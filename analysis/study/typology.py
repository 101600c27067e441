"""Typological distance from English with the URIEL features that ``lang2vec`` ships (Littell et al. 2017).

lang2vec 1.1.2 (the PyPI release) has ``get_features`` but no ``distance`` function (the precomputed
distance tables are only in its GitHub tree), and its module imports ``pkg_resources``, which setuptools ≥ 81
no longer provides. So this module reads the same packaged files ``get_features`` reads
(``lang2vec/data/*.npz``) and computes URIEL's distance definition itself: the cosine distance between two
languages' feature vectors. Feature sets: ``syntax_knn`` (103 syntactic features, kNN-imputed where WALS/SSWL/
Ethnologue lack a value; URIEL's "syntactic distance") and ``fam`` (3,718 family-membership features; URIEL's
"genetic distance").
"""

from __future__ import annotations

from typing import Any

import numpy as np

ISO3 = {"ar": "arb", "bg": "bul", "de": "deu", "el": "ell", "en": "eng", "es": "spa", "fr": "fra", "hi": "hin",
        "ja": "jpn", "ko": "kor", "ru": "rus", "sw": "swh", "th": "tha", "tr": "tur", "ur": "urd", "vi": "vie",
        "zh": "cmn"}
FEATURE_SETS = {"syntax_knn": ("feature_predictions.npz", "predicted", "S_"), "fam": ("family_features.npz", "FAM", "")}


def require_lang2vec() -> None:
    """Raise the one-line :class:`~xalign.errors.DependencyError` when lang2vec (the study extra) is missing,
    before anything is computed or written: RESULTS.md is never written without its distance analysis."""
    import importlib.util

    if importlib.util.find_spec("lang2vec") is None:
        from xalign.errors import DependencyError

        raise DependencyError("--rewrite-results: the typology (URIEL distance) analysis needs lang2vec, which is "
                              "not installed: pip install 'xalign[study]'")


def _database(feature_set: str) -> Any:
    import importlib.resources

    if feature_set not in FEATURE_SETS:
        raise ValueError(f"feature_set: expected one of {sorted(FEATURE_SETS)}, got {feature_set!r}")
    try:
        root = importlib.resources.files("lang2vec") / "data"
    except ModuleNotFoundError:
        from xalign.errors import DependencyError

        raise DependencyError("the typology analysis needs lang2vec: pip install 'xalign[study]'") from None
    return np.load(root / FEATURE_SETS[feature_set][0])


def feature_vectors(langs: list[str], feature_set: str = "syntax_knn") -> dict[str, np.ndarray]:
    """URIEL feature vectors (as lang2vec ``get_features`` returns them) keyed by our language codes."""
    db = _database(feature_set)
    _, source, prefix = FEATURE_SETS[feature_set]
    all_langs = list(db["langs"])
    feats = [i for i, f in enumerate(db["feats"]) if str(f).startswith(prefix)]
    src = int(np.where(db["sources"] == source)[0][0])
    out = {}
    for lang in langs:
        code = ISO3.get(lang, lang)
        if code not in all_langs:
            raise ValueError(f"language {lang!r} ({code}) is not in URIEL's {feature_set} table")
        out[lang] = np.asarray(db["data"][all_langs.index(code), feats, src], dtype=np.float64)
    return out


def cosine_distance(u: np.ndarray, v: np.ndarray) -> float:
    """1 − cos(u, v); URIEL marks missing values with −1, which kNN-imputed sets do not contain."""
    if (u < 0).any() or (v < 0).any():
        raise ValueError("feature vectors contain missing values (-1); use an imputed set such as syntax_knn")
    return float(1.0 - u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def distances_from_english(langs: list[str], feature_set: str = "syntax_knn") -> dict[str, float]:
    vecs = feature_vectors(["en", *langs], feature_set)
    return {lang: cosine_distance(vecs["en"], vecs[lang]) for lang in langs}
