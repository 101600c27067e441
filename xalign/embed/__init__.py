"""Extraction: one forward pass per batch yields every layer; sentence and word pooling.

* :func:`embed` returns sentence vectors shaped ``[n_layers_selected, n_texts, hidden]`` in input order.
* :func:`embed_words` returns word (or subword) vectors per sentence, mapped with the fast
  tokenizer's ``word_ids()``.
* :func:`embed_to_disk` streams sentence vectors to memory-mapped ``.npy`` files and resumes.
"""

from xalign.embed.extract import ExtractionStats, embed, embed_words, WordEmbeddings
from xalign.embed.store import embed_to_disk, StoreInfo

__all__ = ["ExtractionStats", "StoreInfo", "WordEmbeddings", "embed", "embed_to_disk", "embed_words"]


class _CallableModule(type(__import__("sys"))):
    """``xalign.embed`` is both this subpackage and the function :func:`embed` (the README's
    ``xalign.embed(encoder, texts)``): importing the subpackage rebinds the attribute ``xalign.embed`` to the
    module, so the module itself forwards a call to the function."""

    def __call__(self, *args, **kwargs):
        return embed(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
