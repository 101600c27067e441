"""The study of issue 12: does robust training improve cross-lingual transfer and alignment, and where?

``python -m analysis.study`` (or ``python analysis/study/run.py``) runs the missing units of the design and
rebuilds ``analysis/RESULTS.md``; see ``run.py`` for the flags."""
