"""Language facts for the atlas report (name, script, family, in XLM-R's CC-100 pre-training set), read
from :func:`xalign.data.languages.language_info` — the packaged table of the 205 SIB-200 / FLORES-200
languages. Where that table (or a language in it) is missing, what can still be known is used: the
name from the short-code table, the script from a FLORES-200 code's suffix (``swh_Latn`` → Latn); the
rest stays None and the report says "unknown" instead of failing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache

logger = logging.getLogger(__name__)

__all__ = ["LangMeta", "language_meta", "lang_id"]

_FLORES = re.compile(r"^[a-z]{2,3}_([A-Z][a-z]{3})$")


@dataclass(frozen=True)
class LangMeta:
    """What the report shows about a language; None where unknown."""

    code: str
    name: str | None = None
    script: str | None = None
    family: str | None = None
    seen: bool | None = None  # in CC-100 (XLM-R's pre-training languages)

    @property
    def seen_label(self) -> str:
        return {True: "seen in pre-training (CC-100)", False: "unseen in pre-training"}.get(self.seen, "unknown")

    def describe(self) -> str:
        """``Swahili · Latn · Atlantic-Congo · seen in pre-training (CC-100)`` (unknown parts left out)."""
        parts = [self.name or self.code, self.script, self.family, self.seen_label if self.seen is not None else None]
        return " · ".join(p for p in parts if p)


def _from_table(code: str) -> LangMeta | None:
    try:
        from xalign.data.languages import language_info  # the packaged 205-language table
    except ImportError:
        return None
    try:
        info = language_info(code)
    except (ValueError, LookupError):  # not one of the table's languages (ConfigError is a ValueError)
        return None
    seen = getattr(info, "in_cc100", None)
    return LangMeta(code=code, name=getattr(info, "name", None), script=getattr(info, "script", None),
                    family=getattr(info, "family", None), seen=seen if isinstance(seen, bool) else None)


def _fallback(code: str) -> LangMeta:
    name = None
    try:
        from xalign.data.languages import language_name

        name = language_name(code)
    except (ImportError, ValueError, LookupError):
        pass
    m = _FLORES.match(code)
    return LangMeta(code=code, name=name, script=m.group(1) if m else None)


@lru_cache(maxsize=1024)
def language_meta(code: str) -> LangMeta:
    """The facts of ``code`` (any spelling the language table accepts); unknown fields are None."""
    return _from_table(code) or _fallback(code)


def lang_id(code: str) -> str:
    """One spelling per language for matching results keyed differently (``sw`` and ``swh_Latn``): the
    FLORES-200 code when the language table knows it, else ``code`` itself."""
    try:
        from xalign.data.languages import flores_code

        return flores_code(code) or code
    except (ImportError, ValueError, LookupError):
        return code
