"""Training plumbing shared by every robust method, used by :func:`xalign.pipelines.train.train`.

* :mod:`xalign.training.heads` — the classification heads (``cls``/``mean``) and :func:`load_classifier`;
* :mod:`xalign.training.features` — tokenised sentence-pair datasets (with seeded RS-DA substitution)
  and length-grouped sampling;
* :mod:`xalign.training.callbacks` — per-epoch bookkeeping and the training history;
* :mod:`xalign.training.evaluate` — evaluation to per-item correctness (generalized sets, smoothing);
* :mod:`xalign.training.freeze` — keeping the word-embedding matrix fixed.

The robust methods themselves (perturbations, substitutions, smoothing, the method registry and the
``Trainer`` subclass that applies them) live in :mod:`xalign.robust`. Submodules are imported on use
(torch and transformers are heavy).
"""
